//! Steps and the engine that runs them only when stale.
//!
//! A step is *fresh* when (1) a record of its last success exists, (2) the fingerprint
//! computed now equals the recorded one, and (3) every output it recorded still exists with
//! the recorded content hash (a deleted or hand-edited bundle is rebuilt).
//!
//! A stale step runs like this (cargo's fingerprint discipline):
//! 1. its fingerprint is computed *before* it runs, from the inputs as they are then;
//! 2. its old record is removed and the state saved, so an interrupted run is never fresh;
//! 3. it runs; on failure nothing is recorded;
//! 4. on success its outputs are hashed and the fingerprint from (1) is recorded with them.
//!
//! A file edited while the step runs therefore differs from the recorded hash, and the
//! next build runs the step again.

use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{Context as _, Result};

use crate::error;
use crate::fileset::{self, Rules};
use crate::fingerprint::{self, Fingerprint};
use crate::process::Runner;
use crate::project::Project;
use crate::python::{self, Interpreter};
use crate::reason::{Kind, Reason};
use crate::statcache::{Hash, now_ns};
use crate::state::{self, Lock, State, StepRecord};
use crate::ui::Printer;
use crate::wheelhouse::Network;

pub trait Step {
    fn name(&self) -> &'static str;

    /// Checks that can fail before any step of the build runs (a bad output path), so a
    /// mistake is reported in milliseconds, not after the steps before this one.
    fn preflight(&self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }

    /// What the step's result depends on, as it is now.
    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint>;

    fn run(&self, cx: &mut Context) -> Result<()>;

    /// The files the step produced (relative to the root, or absolute), checked before its
    /// record is trusted. Called after a successful run.
    fn outputs(&self, _cx: &mut Context) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Why the step's result is no longer in place although its record and outputs are
    /// (a venv whose interpreter was deleted, a distribution uninstalled by hand), if it
    /// is not: checked, cheaply, before the record is trusted.
    fn damage(&self, _cx: &mut Context) -> Result<Option<String>> {
        Ok(None)
    }

    /// A few words shown after the step's status, such as the bundle's path.
    fn summary(&self, _cx: &Context) -> String {
        String::new()
    }

    /// Why the step runs whatever its record says, if it does: a task with neither
    /// `sources` nor `outputs` is like a make target without prerequisites.
    fn always_runs(&self) -> Option<&'static str> {
        None
    }

    /// Whether the step's commands write to the terminal (a user's task) rather than to
    /// its log; no spinner then, it would garble their output.
    fn shows_output(&self) -> bool {
        false
    }
}

/// Everything a step works with during one pybuild invocation.
pub struct Context<'a> {
    pub project: &'a Project,
    pub printer: &'a Printer,
    pub runner: Runner,
    pub state: State,
    /// Whether the package index may be used (`--offline`, or found unreachable).
    pub network: Network,
    /// The project's lock, when this build holds it (a task lets go of it while its
    /// command runs).
    pub lock: Option<Lock>,
    /// When this invocation began: what was written since, it wrote.
    pub started: std::time::SystemTime,
    interpreter: Option<Interpreter>,
    files: Option<Rc<[String]>>,
}

impl<'a> Context<'a> {
    pub fn new(project: &'a Project, printer: &'a Printer, state: State) -> Context<'a> {
        Context {
            runner: Runner::new(&project.root, &project.venv(), &project.log_dir(), printer),
            project,
            printer,
            state,
            network: Network::default(),
            lock: None,
            started: std::time::SystemTime::now(),
            interpreter: None,
            files: None,
        }
    }

    /// The interpreter `[project] python` asks for, resolved once per invocation.
    pub fn interpreter(&mut self) -> Result<Interpreter> {
        if let Some(interpreter) = &self.interpreter {
            return Ok(interpreter.clone());
        }
        let found = python::find(
            self.project.config.project.python.as_deref(),
            &self.project.root,
            &mut self.state.interpreters,
            &mut self.state.dirty,
            &self.runner,
        )?;
        self.interpreter = Some(found.clone());
        Ok(found)
    }

    /// The project's input files (see `fileset`), listed once per invocation.
    pub fn project_files(&mut self) -> Result<Rc<[String]>> {
        if self.files.is_none() {
            let rules = file_rules(self.project);
            let state = &mut self.state;
            let set = fileset::project_files(
                &self.project.root,
                &rules,
                &mut state.listing,
                &mut state.files,
            )?;
            set.refuse_external_links()?;
            for left_out in &set.left_out {
                self.printer.warn(&left_out.to_string());
            }
            self.files = Some(set.files.into());
        }
        Ok(self.files.clone().unwrap_or_else(|| Rc::from([])))
    }

    /// The content hash of a file (relative to the root, or absolute); `None` if missing.
    pub fn hash(&mut self, key: &str) -> Result<Option<Hash>> {
        self.state
            .files
            .hash(&self.project.root, key)
            .with_context(|| format!("cannot read {}", self.project.root.join(key).display()))
    }

    /// Adds each file, present or not, to the fingerprint's input files.
    pub fn add_files<S: AsRef<str> + Sync>(
        &mut self,
        fingerprint: &mut Fingerprint,
        keys: &[S],
    ) -> Result<()> {
        let hashes = self
            .state
            .files
            .hash_many(&self.project.root, keys)
            .with_context(|| {
                format!(
                    "cannot read the input files under {}",
                    self.project.root.display()
                )
            })?;
        fingerprint.files_from(keys.iter().map(AsRef::as_ref).zip(hashes));
        Ok(())
    }

    /// When `step` last succeeded, for the steps that build on its result.
    pub fn run_id(&self, step: &str) -> String {
        self.state
            .steps
            .get(step)
            .map_or_else(|| fingerprint::NEVER.to_string(), |r| r.run_id.to_string())
    }

    pub fn site_packages(&mut self) -> Result<PathBuf> {
        let version = self.interpreter()?.short_version().to_string();
        Ok(self
            .project
            .venv()
            .join("lib")
            .join(format!("python{version}"))
            .join("site-packages"))
    }

    /// Saves the state if anything in it changed (a no-op build writes nothing).
    pub fn save_state(&mut self) -> Result<()> {
        self.state.save_if_changed(&self.project.state_dir())
    }
}

/// How one invocation runs its steps: the global options that reach the engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Say why each stale step runs.
    pub explain: bool,
    /// Wait for another pybuild's lock instead of failing at once.
    pub wait: bool,
    /// Use no package index.
    pub offline: bool,
}

/// What decides the project's input files (see `fileset`).
pub fn file_rules(project: &Project) -> Rules {
    let config = &project.config;
    Rules {
        venv: project.venv_in_project(),
        outputs: crate::bundle::configured_outputs(config),
        sources: config.bundle.sources.clone(),
        external_links: config.bundle.external_links.clone(),
    }
}

pub enum Freshness {
    Fresh,
    Stale(Vec<Reason>),
}

/// Whether `step`'s record matches `fingerprint` and its outputs and result are intact.
pub fn freshness(
    cx: &mut Context,
    step: &dyn Step,
    fingerprint: &Fingerprint,
) -> Result<Freshness> {
    let name = step.name();
    let Some(record) = cx.state.steps.get(name).cloned() else {
        // The record goes before a run and comes back after its success; the fingerprint
        // file stays: with it, the step ran before (and failed, was killed, or its record
        // was lost).
        let reason = match state::recorded_fingerprint(&cx.project.state_dir(), name) {
            Some(_) => Reason::new(Kind::Unfinished, "no finished run recorded"),
            None => Reason::new(Kind::FirstRun, "first run"),
        };
        return Ok(Freshness::Stale(vec![reason]));
    };
    let mut reasons = Vec::new();
    if record.digest != fingerprint.digest() {
        reasons = match state::recorded_fingerprint(&cx.project.state_dir(), name) {
            Some(recorded) => fingerprint.differences(&recorded),
            None => Vec::new(),
        };
        if reasons.is_empty() {
            reasons.push(Reason::new(
                Kind::Changed,
                "inputs changed (no details recorded)",
            ));
        }
    }
    for (output, recorded) in &record.outputs {
        let (kind, what) = match cx.hash(output)? {
            None => (Kind::OutputMissing, "missing"),
            Some(hash) if hash != *recorded => (Kind::OutputModified, "modified"),
            Some(_) => continue,
        };
        reasons.push(Reason::new(kind, format!("output {output} {what}")).path(output));
    }
    if reasons.is_empty()
        && let Some(damage) = step.damage(cx)?
    {
        reasons.push(Reason::new(Kind::Damaged, damage));
    }
    Ok(if reasons.is_empty() {
        Freshness::Fresh
    } else {
        Freshness::Stale(reasons)
    })
}

/// Runs each stale step in order, recording each success; returns the steps that ran.
pub fn build(cx: &mut Context, steps: &[&dyn Step], explain: bool) -> Result<Vec<&'static str>> {
    for step in steps {
        step.preflight(cx)?;
    }
    let mut ran = Vec::new();
    for step in steps {
        let name = step.name();
        // A configuration problem (no console script to run, say) is said as it is: it is
        // no doubt about freshness.
        let fingerprint = step
            .fingerprint(cx)
            .map_err(|err| match error::is_usage(&err) {
                true => err,
                false => err.context(format!("cannot tell whether step `{name}` is up to date")),
            })?;
        let reasons = match (step.always_runs(), freshness(cx, *step, &fingerprint)?) {
            (Some(why), _) => vec![Reason::new(Kind::AlwaysRuns, why)],
            (None, Freshness::Fresh) => {
                cx.printer.fresh(name, &step.summary(cx));
                continue;
            }
            (None, Freshness::Stale(reasons)) => reasons,
        };
        cx.state
            .forget(&cx.project.state_dir(), name, &fingerprint)?;
        if !step.shows_output() {
            cx.runner.reset_log(name)?;
        }
        let line = if step.shows_output() {
            cx.printer.without_progress().step(name, &brief(&reasons))
        } else {
            cx.printer.step(name, &brief(&reasons))
        };
        if explain {
            for reason in &reasons {
                cx.printer.info(&format!("{:8}   because {reason}", ""));
            }
        }
        if let Err(err) = step.run(cx) {
            line.failed();
            let what = if step.shows_output() { "task" } else { "step" };
            return Err(err.context(format!("{what} `{name}` failed")));
        }
        let mut outputs = std::collections::BTreeMap::new();
        for output in step.outputs(cx)? {
            let hash = cx
                .hash(&output)?
                .with_context(|| format!("step `{name}` succeeded but did not produce {output}"))?;
            outputs.insert(output, hash);
        }
        let record = StepRecord {
            digest: fingerprint.digest(),
            outputs,
            run_id: now_ns(),
        };
        cx.state
            .record(&cx.project.state_dir(), name, &fingerprint, record)?;
        line.done(&step.summary(cx));
        ran.push(name);
    }
    Ok(ran)
}

/// The first reason, and the second or how many more there are.
pub fn brief(reasons: &[Reason]) -> String {
    match reasons {
        [] => String::new(),
        [one] => one.to_string(),
        [first, second] => format!("{first}, and {second}"),
        [first, rest @ ..] => format!("{first}, and {} more", rest.len()),
    }
}
