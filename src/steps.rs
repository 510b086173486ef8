//! The steps (check, venv, tools, develop, bundle, and image and deploy after it) and the user's tasks, the graph that
//! orders them, and [`build`]: what the commands call to bring targets up to date.

pub(crate) mod bundle;
pub(crate) mod check;
pub(crate) mod deploy;
pub(crate) mod develop;
pub(crate) mod graph;
pub(crate) mod image;
pub(crate) mod push;
pub(crate) mod sbom;
pub(crate) mod task;
pub(crate) mod tools;
pub(crate) mod venv;
pub(crate) mod workspace;
pub(crate) mod zip_reader;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;

use anyhow::Result;

use crate::base::outputs;
use crate::base::process;
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset::{Rules, Scope};
use crate::engine::lock::Lock;
use crate::engine::run;
use crate::engine::state::{self, State};
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::python::byproducts;
use crate::python::network::Network;

/// How one invocation runs its steps: the global options that reach the engine.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BuildOptions {
    /// Say why each stale step runs.
    pub(crate) explain: bool,
    /// Wait for another pybuild's lock instead of failing at once.
    pub(crate) wait: bool,
    /// Use no package index.
    pub(crate) offline: bool,
    /// Pull the image's `docker://` base again before building.
    pub(crate) refresh_base: bool,
}

/// What decides the project's input files (see `fileset`).
pub(crate) fn file_rules(project: &Project) -> Rules {
    let config = &project.config;
    Rules {
        venv: project.venv_in_project(),
        outputs: bundle::configured_outputs(config),
        sources: config.bundle.sources.clone(),
        external_links: config.bundle.external_links.clone(),
        tool_files: byproducts::tool_files(),
        scope: scope(project),
    }
}

/// An app's inputs are its members' folders, less another member nested in one of them
/// (the root, when it is a member, holds the others).
fn scope(project: &Project) -> Option<Scope> {
    let app = project.app.as_ref()?;
    let include: Vec<String> = app.dirs().map(str::to_string).collect();
    let workspace = project.workspace.as_ref()?;
    let exclude = workspace
        .members
        .iter()
        .filter(|member| !app.has_member(&member.name) && member.dir != ".")
        .map(|member| member.dir.clone())
        .collect();
    Some(Scope { include, exclude })
}

/// A build's context for `project`, with `state`, before it takes the lock.
pub(crate) fn context<'a>(project: &'a Project, printer: &'a Printer, state: State) -> Build<'a> {
    Build::new(project, printer, state, file_rules(project))
}

/// Brings `targets` (built-in steps, `setup`, tasks) up to date with everything they depend
/// on, under the project's lock, each step once and only when stale, after ending what a
/// killed build left running: what `pybuild setup`, `bundle`, `TASK` and each `watch` run
/// do. `args` go to the targets that are tasks. `one_shot`: the process ends right after.
/// Returns the steps that ran.
pub(crate) fn build(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    targets: &[&str],
    args: &[OsString],
    one_shot: bool,
) -> Result<Vec<String>> {
    let lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    let run = Run {
        targets,
        args,
        one_shot,
        shared: None,
    };
    build_holding(project, printer, options, lock, &run).0
}

/// What one build makes, beside the project: see [`build`].
pub(crate) struct Run<'r> {
    pub(crate) targets: &'r [&'r str],
    pub(crate) args: &'r [OsString],
    pub(crate) one_shot: bool,
    /// The steps another build made for this one, and when each last succeeded (a
    /// workspace's setup, for an app): they are not planned here, and the steps that
    /// build on them take their runs from this.
    pub(crate) shared: Option<&'r HashMap<String, i64>>,
}

/// [`build`] under `lock`, taken already; gives the lock back (`None` if a task's run
/// could not take it again).
pub(crate) fn build_holding(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    lock: Lock,
    run: &Run,
) -> (Result<Vec<String>>, Option<Lock>) {
    // Before any step: what a killed build left running may still write into the venv.
    process::end_leftovers(&project.state_dir(), printer);
    outputs::sweep(project);
    let state = State::load(&project.state_dir(), printer);
    let mut cx = context(project, printer, state);
    cx.lock = Some(lock);
    cx.network = Network::new(options.offline);
    let result = build_in(&mut cx, options, run);
    // Even after a failure: the stat cache learned hashes, and a task's records are kept;
    // not without the lock (a task could not take it back).
    if cx.lock.is_some()
        && let Err(err) = cx.save_state()
    {
        // What a step recorded was saved when it was recorded: this keeps the stat cache,
        // an optimisation, and fails no build that succeeded.
        printer.warn(&format!("the stat cache is not kept: {err:#}"));
    }
    let lock = cx.lock.take();
    if run.one_shot {
        // The process ends soon: freeing the state's tens of thousands of small allocations
        // one by one would be a measurable share of a no-op build on a large project.
        std::mem::forget(cx);
    }
    (result, lock)
}

fn build_in(cx: &mut Build, options: &BuildOptions, run: &Run) -> Result<Vec<String>> {
    let mut steps = graph::plan(&cx.project.config, run.targets, run.args)?;
    if let Some(shared) = run.shared {
        steps.retain(|step| !shared.contains_key(step.name()));
        cx.shared_runs = shared.clone();
    }
    if options.refresh_base {
        image::refresh_base(cx)?;
    }
    let refs: Vec<&dyn Step<Build>> = steps.iter().map(Box::as_ref).collect();
    let result = run::build(cx, &refs, options.explain);
    if result.is_ok() && refs.iter().any(|s| s.name() == "bundle") {
        // Every input was looked up: what was not is a file that no longer exists.
        cx.state.files.retain_used();
    }
    result
}

/// The files that the steps making `targets` read, as their fingerprints last recorded
/// (relative to the root, or absolute): what `watch` watches beside the project's file
/// set. A step records its fingerprint before it runs, so a failed one's inputs are known.
pub(crate) fn inputs(project: &Project, targets: &[&str]) -> Result<BTreeSet<String>> {
    let state_dir = project.state_dir();
    let mut files = BTreeSet::new();
    for step in graph::plan(&project.config, targets, &[])? {
        if let Some(fingerprint) = state::recorded_fingerprint(&state_dir, step.name()) {
            files.extend(fingerprint.files.into_keys());
        }
    }
    Ok(files)
}
