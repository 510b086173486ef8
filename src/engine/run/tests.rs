//! The engine's decisions on steps made up by each test: no Python, no subprocess. Each
//! build, decision or survey is a new invocation (a new `Session` over the state the last
//! one saved), as with the real binary.

use std::cell::{Cell, RefCell};
use std::fs;
use std::ops::Deref;
use std::rc::Rc;

use super::*;
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset::Rules;
use crate::engine::lock::Lock;

/// What the engine's generic code works with in these tests: a session and nothing else.
struct TestCx<'a>(Session<'a>);

impl<'a> Deref for TestCx<'a> {
    type Target = Session<'a>;

    fn deref(&self) -> &Session<'a> {
        &self.0
    }
}

impl<'a> DerefMut for TestCx<'a> {
    fn deref_mut(&mut self) -> &mut Session<'a> {
        &mut self.0
    }
}

impl<'a> TestCx<'a> {
    /// A new invocation on `project`: the state as the last one saved it.
    fn open(project: &'a Project, printer: &'a Printer) -> TestCx<'a> {
        let state = State::load(&project.state_dir(), printer);
        let rules = Rules {
            venv: None,
            outputs: Vec::new(),
            sources: Vec::new(),
            external_links: Vec::new(),
        };
        TestCx(Session::new(project, printer, state, rules))
    }
}

type Hook = Box<dyn Fn(&mut TestCx<'_>) -> Result<()>>;

/// A step whose fingerprint parts, input files, output, damage and failures are the
/// test's; it counts its runs.
struct TestStep {
    name: &'static str,
    kind: Kind,
    deps: Vec<String>,
    parts: RefCell<BTreeMap<String, String>>,
    inputs: Vec<String>,
    /// The file each run writes (with new content) and returns.
    output: Option<String>,
    /// An output it returns without writing it.
    claimed: Option<String>,
    damage: RefCell<Option<String>>,
    fails: Cell<bool>,
    fingerprint_fails: Cell<bool>,
    preflight_fails: bool,
    /// Runs inside `run`, before the output is written.
    hook: Option<Hook>,
    runs: Cell<usize>,
}

fn step(name: &'static str) -> TestStep {
    TestStep {
        name,
        kind: Kind::BuiltIn,
        deps: Vec::new(),
        parts: RefCell::default(),
        inputs: Vec::new(),
        output: None,
        claimed: None,
        damage: RefCell::default(),
        fails: Cell::new(false),
        fingerprint_fails: Cell::new(false),
        preflight_fails: false,
        hook: None,
        runs: Cell::new(0),
    }
}

impl TestStep {
    /// A task of the user's; `always`: with neither sources nor outputs.
    fn task(mut self, always: bool) -> Self {
        self.kind = Kind::Task { always };
        self
    }

    /// Builds on `deps`' results.
    fn after(mut self, deps: &[&str]) -> Self {
        self.deps = deps.iter().map(|dep| dep.to_string()).collect();
        self
    }

    fn part(self, name: &str, value: &str) -> Self {
        self.set_part(name, value);
        self
    }

    fn input(mut self, path: &str) -> Self {
        self.inputs.push(path.to_string());
        self
    }

    fn output(mut self, path: &str) -> Self {
        self.output = Some(path.to_string());
        self
    }

    fn claims(mut self, path: &str) -> Self {
        self.claimed = Some(path.to_string());
        self
    }

    fn preflight_fails(mut self) -> Self {
        self.preflight_fails = true;
        self
    }

    fn hook(mut self, hook: impl Fn(&mut TestCx<'_>) -> Result<()> + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    fn set_part(&self, name: &str, value: &str) {
        self.parts
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    fn set_damage(&self, damage: Option<&str>) {
        *self.damage.borrow_mut() = damage.map(str::to_string);
    }
}

impl<'a> Step<TestCx<'a>> for TestStep {
    fn name(&self) -> &str {
        self.name
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn deps(&self) -> Vec<String> {
        self.deps.clone()
    }

    fn preflight(&self, _cx: &mut TestCx<'a>) -> Result<()> {
        match self.preflight_fails {
            true => anyhow::bail!("{} has a bad output path", self.name),
            false => Ok(()),
        }
    }

    fn fingerprint(&self, cx: &mut TestCx<'a>) -> Result<Fingerprint> {
        if self.fingerprint_fails.get() {
            anyhow::bail!("no interpreter yet");
        }
        let mut fingerprint = Fingerprint::default();
        for (name, value) in self.parts.borrow().iter() {
            fingerprint.part(name, value.as_str());
        }
        cx.add_files(&mut fingerprint, &self.inputs)?;
        Ok(fingerprint)
    }

    fn run(&self, cx: &mut TestCx<'a>) -> Result<Vec<String>> {
        self.runs.set(self.runs.get() + 1);
        if let Some(hook) = &self.hook {
            hook(cx)?;
        }
        if self.fails.get() {
            anyhow::bail!("boom");
        }
        let mut produced: Vec<String> = self.claimed.iter().cloned().collect();
        if let Some(output) = &self.output {
            let path = cx.project.root.join(output);
            fs::create_dir_all(path.parent().unwrap())?;
            fs::write(&path, format!("{} run {}", self.name, self.runs.get()))?;
            produced.push(output.clone());
        }
        Ok(produced)
    }

    fn damage(&self, _cx: &mut TestCx<'a>) -> Result<Option<String>> {
        Ok(self.damage.borrow().clone())
    }
}

/// A project in a temp dir with a minimal `project.toml`.
struct Fixture {
    _dir: tempfile::TempDir,
    project: Project,
    printer: Printer,
}

impl Fixture {
    fn new() -> Fixture {
        // Every state save is synced to disk: on tmpfs that costs nothing, and the tests
        // take milliseconds, not a second on a busy disk.
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        fs::write(
            dir.path().join("project.toml"),
            "[project]\nname = \"app\"\n",
        )
        .unwrap();
        let project = Project::discover(dir.path()).unwrap();
        Fixture {
            _dir: dir,
            project,
            printer: Printer::silent(),
        }
    }

    fn cx(&self) -> TestCx<'_> {
        TestCx::open(&self.project, &self.printer)
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.project.root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn remove(&self, path: &str) {
        fs::remove_file(self.project.root.join(path)).unwrap();
    }

    /// `pybuild build` of `steps`: the names of the steps that ran.
    fn build(&self, steps: &[&TestStep]) -> Result<Vec<String>> {
        super::build(&mut self.cx(), &dyn_steps(steps), false)
    }

    fn survey(&self, steps: &[&TestStep]) -> Result<Vec<Verdict>> {
        super::survey(&mut self.cx(), &dyn_steps(steps))
    }

    fn decide(&self, step: &TestStep) -> Decision {
        let mut cx = self.cx();
        let fingerprint = super::fingerprint(&mut cx, step).unwrap();
        super::decide(&mut cx, step, &fingerprint).unwrap()
    }

    /// Why `step` would run now, as kinds and words; empty when fresh.
    fn reasons(&self, step: &TestStep) -> Vec<(ReasonKind, String)> {
        said(self.decide(step).reasons())
    }
}

fn dyn_steps<'s, 'a>(steps: &[&'s TestStep]) -> Vec<&'s dyn Step<TestCx<'a>>> {
    steps
        .iter()
        .map(|step| *step as &dyn Step<TestCx<'a>>)
        .collect()
}

fn said(reasons: &[Reason]) -> Vec<(ReasonKind, String)> {
    reasons.iter().map(|r| (r.kind, r.detail.clone())).collect()
}

fn reason(kind: ReasonKind, detail: &str) -> (ReasonKind, String) {
    (kind, detail.to_string())
}

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
            let fingerprint = super::fingerprint(&mut other, &step)?;
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

#[test]
fn a_dependency_that_ran_again_makes_its_dependents_run() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    let docs = step("docs");
    fx.build(&[&venv, &app, &docs]).unwrap();

    venv.set_part("requirements", "six idna");
    assert_eq!(fx.build(&[&venv]).unwrap(), ["venv"]);
    let decision = fx.decide(&app);
    assert_eq!(
        said(decision.reasons()),
        [reason(ReasonKind::DependencyRan, "venv ran again")]
    );
    assert_eq!(decision.reasons()[0].key.as_deref(), Some("venv"));
    assert_eq!(fx.build(&[&venv, &app, &docs]).unwrap(), ["app"]);
}

#[test]
fn a_build_runs_the_dependents_of_a_step_it_runs() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    let bundle = step("bundle").after(&["app"]);
    let docs = step("docs");
    fx.build(&[&venv, &app, &bundle, &docs]).unwrap();

    venv.set_part("requirements", "six idna");
    assert_eq!(
        fx.build(&[&venv, &app, &bundle, &docs]).unwrap(),
        ["venv", "app", "bundle"]
    );
    assert_eq!(
        fx.build(&[&venv, &app, &bundle, &docs]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_dependency_without_a_finished_run_is_named() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    fx.build(&[&venv, &app]).unwrap();

    venv.set_part("requirements", "six idna");
    venv.fails.set(true);
    fx.build(&[&venv, &app]).unwrap_err();
    assert_eq!(
        fx.reasons(&app),
        [reason(ReasonKind::DependencyNotRun, "venv has not run")]
    );
}

#[test]
fn survey_says_which_step_will_run_first_and_runs_nothing() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]).output("dist/app");
    let bundle = step("bundle").after(&["app"]);
    let docs = step("docs");
    fx.build(&[&venv, &app, &bundle, &docs]).unwrap();

    venv.set_part("requirements", "six idna");
    let verdicts = fx.survey(&[&venv, &app, &bundle, &docs]).unwrap();
    let by_step: Vec<(&str, Vec<(ReasonKind, String)>)> = verdicts
        .iter()
        .map(|v| (v.name.as_str(), said(&v.reasons)))
        .collect();
    assert_eq!(
        by_step,
        [
            (
                "venv",
                vec![reason(
                    ReasonKind::Changed,
                    "requirements changed: six → six idna"
                )]
            ),
            (
                "app",
                vec![reason(ReasonKind::DependencyStale, "venv will run first")]
            ),
            (
                "bundle",
                vec![reason(ReasonKind::DependencyStale, "app will run first")]
            ),
            ("docs", vec![]),
        ]
    );
    assert_eq!(verdicts[1].reasons[0].key.as_deref(), Some("venv"));
    assert_eq!(verdicts[1].outputs, ["dist/app"]);
    let runs: Vec<usize> = [&venv, &app, &bundle, &docs]
        .iter()
        .map(|s| s.runs.get())
        .collect();
    assert_eq!(runs, [1, 1, 1, 1]);
}

#[test]
fn survey_cannot_tell_after_a_stale_step_and_fails_after_fresh_ones() {
    let fx = Fixture::new();
    let venv = step("venv").part("requirements", "six");
    let app = step("app").after(&["venv"]);
    fx.build(&[&venv, &app]).unwrap();
    app.fingerprint_fails.set(true);

    let err = fx.survey(&[&venv, &app]).unwrap_err();
    assert_eq!(format!("{err:#}"), "no interpreter yet");

    venv.set_part("requirements", "six idna");
    let verdicts = fx.survey(&[&venv, &app]).unwrap();
    assert_eq!(
        said(&verdicts[1].reasons),
        [reason(
            ReasonKind::Unknown,
            "cannot tell until the steps before it run (no interpreter yet)"
        )]
    );
}

#[test]
fn a_fingerprint_that_cannot_be_computed_stops_the_build_naming_the_step() {
    let fx = Fixture::new();
    let app = step("app");
    app.fingerprint_fails.set(true);

    let err = fx.build(&[&app]).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "cannot tell whether step `app` is up to date: no interpreter yet"
    );
    assert_eq!(app.runs.get(), 0);
}

#[test]
fn a_failing_preflight_stops_the_build_before_any_step_runs() {
    let fx = Fixture::new();
    let venv = step("venv");
    let bundle = step("bundle").after(&["venv"]).preflight_fails();

    let err = fx.build(&[&venv, &bundle]).unwrap_err();
    assert_eq!(format!("{err:#}"), "bundle has a bad output path");
    assert_eq!(venv.runs.get(), 0);
    assert_eq!(
        fx.reasons(&venv),
        [reason(ReasonKind::FirstRun, "first run")]
    );
}

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
