//! A step's fingerprint and job are prepared together (`Step::prepare`): a build prepares
//! a step once, and its job runs with what that preparation read, after the decision.

use std::cell::{Cell, RefCell};

use super::*;
use crate::engine::step::Prepared;

/// A step whose fingerprint reads `input` and whose job writes what was read to `out`.
struct Copy {
    prepared: Cell<usize>,
    runs: Cell<usize>,
    /// Changed by the test between the preparation and the job.
    changed_after_reading: RefCell<Option<String>>,
}

impl<'a> Step<TestCx<'a>> for Copy {
    fn name(&self) -> &str {
        "copy"
    }

    fn fingerprint(&self, _cx: &mut TestCx<'a>) -> Result<Fingerprint> {
        unreachable!("the engine prepares")
    }

    fn run(&self, _cx: &mut TestCx<'a>) -> Result<Vec<String>> {
        unreachable!("the engine runs the prepared job")
    }

    fn prepare<'s>(&'s self, cx: &mut TestCx<'a>) -> Result<Prepared<'s, TestCx<'a>>> {
        self.prepared.set(self.prepared.get() + 1);
        let read = fs::read_to_string(cx.project.root.join("input"))?;
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("input", read.as_str());
        if let Some(text) = self.changed_after_reading.borrow().as_deref() {
            fs::write(cx.project.root.join("input"), text)?;
        }
        Ok(Prepared::new(fingerprint, move |cx: &mut TestCx<'a>| {
            self.runs.set(self.runs.get() + 1);
            fs::write(cx.project.root.join("out"), &read)?;
            Ok(vec!["out".to_string()])
        }))
    }
}

fn copy() -> Copy {
    Copy {
        prepared: Cell::new(0),
        runs: Cell::new(0),
        changed_after_reading: RefCell::default(),
    }
}

#[test]
fn the_job_builds_from_what_the_fingerprint_read_once() {
    let fixture = Fixture::new();
    fixture.write("input", "one");
    let step = copy();
    *step.changed_after_reading.borrow_mut() = Some("two".into());
    let ran = super::super::build(&mut fixture.cx(), &[&step as &dyn Step<TestCx>], false);
    assert_eq!(ran.unwrap(), ["copy"]);
    assert_eq!((step.prepared.get(), step.runs.get()), (1, 1));
    let out = fs::read_to_string(fixture.project.root.join("out")).unwrap();
    assert_eq!(
        out, "one",
        "the job read the input again instead of using what was read"
    );
    // What it was built from is what was recorded: the input changed since, so it runs again.
    *step.changed_after_reading.borrow_mut() = None;
    let ran = super::super::build(&mut fixture.cx(), &[&step as &dyn Step<TestCx>], false);
    assert_eq!(ran.unwrap(), ["copy"]);
    assert_eq!(
        fs::read_to_string(fixture.project.root.join("out")).unwrap(),
        "two"
    );
}

#[test]
fn a_fresh_or_surveyed_step_s_job_never_runs() {
    let fixture = Fixture::new();
    fixture.write("input", "one");
    let step = copy();
    let steps = [&step as &dyn Step<TestCx>];
    super::super::build(&mut fixture.cx(), &steps, false).unwrap();
    assert!(
        super::super::build(&mut fixture.cx(), &steps, false)
            .unwrap()
            .is_empty()
    );
    fixture.write("input", "two");
    let verdicts = super::super::survey(&mut fixture.cx(), &steps).unwrap();
    assert!(!verdicts[0].reasons.is_empty());
    assert_eq!((step.prepared.get(), step.runs.get()), (3, 1));
}
