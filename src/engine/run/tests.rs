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
            scope: None,
            venv: None,
            outputs: Vec::new(),
            sources: Vec::new(),
            external_links: Vec::new(),
            tool_files: Default::default(),
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
    /// See `Step::keeps_derived`.
    keeps_derived: bool,
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
        keeps_derived: false,
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

    fn keeps_derived(mut self) -> Self {
        self.keeps_derived = true;
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

    fn keeps_derived(&self) -> bool {
        self.keeps_derived
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
        let fingerprint = super::prepare(&mut cx, step).unwrap().fingerprint;
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

mod dependencies;
mod derived;
mod freshness;
mod logs;
mod prepared;
mod tasks;
