//! The user's tasks: always run without sources or outputs, run without the lock.

use super::*;

#[test]
fn a_task_without_sources_or_outputs_runs_every_time() {
    let fx = Fixture::new();
    let serve = step("serve").task(true);

    assert_eq!(fx.build(&[&serve]).unwrap(), ["serve"]);
    assert_eq!(fx.build(&[&serve]).unwrap(), ["serve"]);
    assert_eq!(serve.runs.get(), 2);
    assert_eq!(
        fx.reasons(&serve),
        [reason(
            ReasonKind::AlwaysRuns,
            "a task without sources or outputs always runs"
        )]
    );
}

#[test]
fn a_task_with_sources_is_fresh_while_they_are_unchanged() {
    let fx = Fixture::new();
    fx.write("docs/index.md", "# App\n");
    let docs = step("docs")
        .task(false)
        .input("docs/index.md")
        .output("site/index.html");

    assert_eq!(fx.build(&[&docs]).unwrap(), ["docs"]);
    assert_eq!(fx.build(&[&docs]).unwrap(), Vec::<String>::new());
    fx.write("docs/index.md", "# App 2\n");
    assert_eq!(fx.build(&[&docs]).unwrap(), ["docs"]);
}

#[test]
fn a_failing_task_is_named_as_a_task() {
    let fx = Fixture::new();
    let test = step("test").task(true);
    test.fails.set(true);

    let err = fx.build(&[&test]).unwrap_err();
    assert_eq!(format!("{err:#}"), "task `test` failed: boom");
}

#[test]
fn a_task_runs_without_the_lock_and_a_step_with_it() {
    let fx = Fixture::new();
    let state_dir = fx.project.state_dir();
    let taken = move |_: &mut TestCx<'_>| {
        let other = Lock::acquire(&state_dir, false, &Printer::silent());
        anyhow::ensure!(other.is_ok(), "the lock was held");
        Ok(())
    };
    let serve = step("serve").task(true).hook(taken.clone());
    let venv = step("venv").hook(taken);

    let mut cx = fx.cx();
    cx.lock = Some(Lock::acquire(&fx.project.state_dir(), false, &fx.printer).unwrap());
    assert_eq!(
        super::build(&mut cx, &dyn_steps(&[&serve]), false).unwrap(),
        ["serve"]
    );
    // Taken back after the task.
    assert!(Lock::acquire(&fx.project.state_dir(), false, &fx.printer).is_err());

    let err = super::build(&mut cx, &dyn_steps(&[&venv]), false).unwrap_err();
    assert!(format!("{err:#}").contains("the lock was held"), "{err:#}");
}

#[test]
fn what_a_pybuild_run_by_a_task_records_is_kept() {
    let fx = Fixture::new();
    let nested = |cx: &mut TestCx<'_>| {
        let mut inner = TestCx::open(cx.project, cx.printer);
        let gen_step = step("gen").output("gen/out");
        super::build(&mut inner, &dyn_steps(&[&gen_step]), false)?;
        Ok(())
    };
    let serve = step("serve").task(true).hook(nested);

    fx.build(&[&serve]).unwrap();
    assert_eq!(fx.decide(&step("gen").output("gen/out")), Decision::Fresh);
}
