//! Fresh or stale, and why: the first run, changed parts and files, outputs, damage,
//! failed and interrupted runs.

use super::*;

#[test]
fn a_first_run_runs_and_a_second_build_is_a_no_op() {
    let fx = Fixture::new();
    let app = step("app").part("interpreter", "3.12").output("dist/app");

    assert_eq!(
        fx.reasons(&app),
        [reason(ReasonKind::FirstRun, "first run")]
    );
    assert_eq!(fx.build(&[&app]).unwrap(), ["app"]);
    assert_eq!(fx.decide(&app), Decision::Fresh);
    assert_eq!(fx.build(&[&app]).unwrap(), Vec::<String>::new());
    assert_eq!(app.runs.get(), 1);
}

#[test]
fn a_changed_fingerprint_part_is_named() {
    let fx = Fixture::new();
    let app = step("app")
        .part("interpreter", "3.11.7")
        .part("bundle", "pex");
    fx.build(&[&app]).unwrap();

    app.set_part("interpreter", "3.12.1");
    app.set_part("tool", "ruff 0.5");
    let decision = fx.decide(&app);
    assert_eq!(
        said(decision.reasons()),
        [
            reason(ReasonKind::Changed, "interpreter changed: 3.11.7 → 3.12.1"),
            reason(ReasonKind::Added, "tool is new"),
        ]
    );
    assert_eq!(decision.reasons()[0].key.as_deref(), Some("interpreter"));
    assert_eq!(fx.build(&[&app]).unwrap(), ["app"]);
    assert_eq!(fx.decide(&app), Decision::Fresh);
}

#[test]
fn an_edited_removed_or_added_input_file_is_named() {
    let fx = Fixture::new();
    fx.write("src/app.py", "print(1)\n");
    let app = step("app").input("src/app.py").input("setup.cfg");
    fx.build(&[&app]).unwrap();
    assert_eq!(fx.decide(&app), Decision::Fresh);

    fx.write("src/app.py", "print(2)\n");
    let decision = fx.decide(&app);
    assert_eq!(
        said(decision.reasons()),
        [reason(ReasonKind::Changed, "src/app.py changed")]
    );
    assert_eq!(decision.reasons()[0].path.as_deref(), Some("src/app.py"));

    fx.remove("src/app.py");
    fx.write("setup.cfg", "[metadata]\n");
    assert_eq!(
        fx.reasons(&app),
        [
            reason(ReasonKind::Added, "setup.cfg added"),
            reason(ReasonKind::Removed, "src/app.py removed"),
        ]
    );
}

#[test]
fn putting_an_input_back_as_it_was_needs_no_run() {
    let fx = Fixture::new();
    fx.write("src/app.py", "print(1)\n");
    let app = step("app").input("src/app.py");
    fx.build(&[&app]).unwrap();

    fx.write("src/app.py", "print(2)\n");
    fx.write("src/app.py", "print(1)\n");
    assert_eq!(fx.decide(&app), Decision::Fresh);
}

#[test]
fn a_deleted_or_modified_output_is_made_again() {
    let fx = Fixture::new();
    let app = step("app").output("dist/app");
    fx.build(&[&app]).unwrap();

    fx.remove("dist/app");
    let decision = fx.decide(&app);
    assert_eq!(
        said(decision.reasons()),
        [reason(ReasonKind::OutputMissing, "output dist/app missing")]
    );
    assert_eq!(decision.reasons()[0].path.as_deref(), Some("dist/app"));
    assert_eq!(fx.build(&[&app]).unwrap(), ["app"]);
    assert!(fx.project.root.join("dist/app").is_file());

    fx.write("dist/app", "edited by hand");
    assert_eq!(
        fx.reasons(&app),
        [reason(
            ReasonKind::OutputModified,
            "output dist/app modified"
        )]
    );
    assert_eq!(fx.build(&[&app]).unwrap(), ["app"]);
    assert_eq!(fx.decide(&app), Decision::Fresh);
}

#[test]
fn damage_makes_a_recorded_step_run() {
    let fx = Fixture::new();
    let venv = step("venv").output(".venv/pyvenv.cfg");
    fx.build(&[&venv]).unwrap();

    venv.set_damage(Some("the venv's interpreter is gone"));
    assert_eq!(
        fx.reasons(&venv),
        [reason(
            ReasonKind::Damaged,
            "the venv's interpreter is gone"
        )]
    );
    assert_eq!(fx.build(&[&venv]).unwrap(), ["venv"]);

    venv.set_damage(None);
    assert_eq!(fx.decide(&venv), Decision::Fresh);
}

#[test]
fn a_failing_step_records_nothing_and_is_named() {
    let fx = Fixture::new();
    let venv = step("venv").output(".venv/pyvenv.cfg");
    let app = step("app").after(&["venv"]);
    venv.fails.set(true);

    let err = fx.build(&[&venv, &app]).unwrap_err();
    assert_eq!(format!("{err:#}"), "step `venv` failed: boom");
    assert_eq!((venv.runs.get(), app.runs.get()), (1, 0));
    let unfinished = [reason(ReasonKind::Unfinished, "no finished run recorded")];
    assert_eq!(fx.reasons(&venv), unfinished);
    assert!(fx.survey(&[&venv]).unwrap()[0].outputs.is_empty());

    venv.fails.set(false);
    assert_eq!(fx.build(&[&venv, &app]).unwrap(), ["venv", "app"]);
}

#[test]
fn a_failed_run_is_not_fresh_even_with_the_inputs_of_the_last_success() {
    let fx = Fixture::new();
    let app = step("app").part("mode", "a").output("dist/app");
    fx.build(&[&app]).unwrap();

    app.set_part("mode", "b");
    app.fails.set(true);
    fx.build(&[&app]).unwrap_err();

    // The output of the success with "a" is still there, but the failed run may have
    // half-rewritten it.
    app.set_part("mode", "a");
    assert_eq!(
        fx.reasons(&app),
        [reason(ReasonKind::Unfinished, "no finished run recorded")]
    );
}

#[test]
fn a_run_in_progress_or_killed_is_never_fresh() {
    let fx = Fixture::new();
    let app = |mode: &str| step("app").part("mode", mode).output("dist/app");
    // What another pybuild decides of `app` at `look_at` while this one runs it: what it
    // would decide had this one been killed then, as the engine writes nothing more of
    // the step until the run ends.
    let seen: Rc<RefCell<Vec<Decision>>> = Rc::default();
    let watched = |mode: &str, look_at: &'static str| {
        let seen = seen.clone();
        app(mode).hook(move |cx| {
            let mut other = TestCx::open(cx.project, cx.printer);
            let step = app(look_at);
            let fingerprint = super::prepare(&mut other, &step)?.fingerprint;
            seen.borrow_mut()
                .push(super::decide(&mut other, &step, &fingerprint)?);
            Ok(())
        })
    };

    fx.build(&[&watched("a", "a")]).unwrap();
    // Back at the inputs of the last success, its output untouched: the run may have
    // changed what the step made elsewhere.
    fx.build(&[&watched("b", "a")]).unwrap();
    let unfinished = Reason::new(ReasonKind::Unfinished, "no finished run recorded");
    let unfinished = Decision::Stale(vec![unfinished]);
    assert_eq!(*seen.borrow(), [unfinished.clone(), unfinished]);
}

#[test]
fn a_step_that_does_not_produce_its_output_fails() {
    let fx = Fixture::new();
    let app = step("app").claims("dist/app.pex");

    let err = fx.build(&[&app]).unwrap_err();
    assert!(
        format!("{err:#}")
            .contains("step `app` failed: it succeeded but did not produce dist/app.pex"),
        "{err:#}"
    );
    assert_eq!(
        fx.reasons(&app),
        [reason(ReasonKind::Unfinished, "no finished run recorded")]
    );
}
