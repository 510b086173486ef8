//! What the session derived from the project (`Session::derived`) is kept across the
//! steps that say it holds after they run, and forgotten before any other step runs.

use std::cell::Cell;
use std::rc::Rc;

use super::*;

/// Whether the hook found the value derived before the build, at each of its runs.
fn sees_derived(step: TestStep, seen: &Rc<Cell<Option<bool>>>) -> TestStep {
    let seen = seen.clone();
    step.hook(move |cx| {
        seen.set(Some(cx.derived::<String>().is_some()));
        Ok(())
    })
}

#[test]
fn a_value_is_derived_once_per_type_and_forgotten_whole() {
    let fixture = Fixture::new();
    let mut cx = fixture.cx();
    assert!(cx.derived::<String>().is_none());
    cx.keep_derived(Rc::new("dist/app.pex".to_string()));
    cx.keep_derived(Rc::new(7_u32));
    assert_eq!(
        cx.derived::<String>().as_deref().map(String::as_str),
        Some("dist/app.pex")
    );
    assert_eq!(cx.derived::<u32>().as_deref(), Some(&7));
    assert!(cx.derived::<i64>().is_none());
    cx.forget_derived();
    assert!(cx.derived::<String>().is_none() && cx.derived::<u32>().is_none());
}

#[test]
fn a_step_that_keeps_it_runs_with_it_and_any_other_runs_without() {
    let fixture = Fixture::new();
    let (kept, forgotten) = (Rc::new(Cell::new(None)), Rc::new(Cell::new(None)));
    let keeps = sees_derived(step("bundle").output("dist/app").keeps_derived(), &kept);
    let changes = sees_derived(step("task").output("out").after(&["bundle"]), &forgotten);
    let mut cx = fixture.cx();
    cx.keep_derived(Rc::new("derived".to_string()));
    let ran = super::super::build(&mut cx, &dyn_steps(&[&keeps, &changes]), false).unwrap();
    assert_eq!(ran, ["bundle", "task"]);
    assert_eq!(kept.get(), Some(true), "a step that keeps it found it gone");
    assert_eq!(
        forgotten.get(),
        Some(false),
        "a step that may change it ran with it"
    );
    assert!(cx.derived::<String>().is_none());
}

#[test]
fn a_fresh_step_forgets_nothing() {
    let fixture = Fixture::new();
    let changes = step("venv").output("venv/cfg");
    fixture.build(&[&changes]).unwrap();
    let mut cx = fixture.cx();
    cx.keep_derived(Rc::new("derived".to_string()));
    let ran = super::super::build(&mut cx, &dyn_steps(&[&changes]), false).unwrap();
    assert!(ran.is_empty());
    assert!(cx.derived::<String>().is_some());
}
