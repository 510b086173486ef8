//! `pybuild status`: which steps of the targets' plan are fresh and why the others are
//! stale, without running any. As text for people, as JSON for machines (`--json`, see
//! [`VERSION`]), and as an exit code for CI (`--exit-code`: 1 when any step is stale,
//! so "is the committed bundle current?" is one command).
//!
//! The engine decides (`engine::run::survey`), as for a build: a step that builds on a
//! stale one is stale too ("venv will run first"), and one whose fingerprint cannot be
//! computed until the steps before it run is reported as unknown.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use serde::Serialize;

use crate::base::project::Project;
use crate::base::ui::{Printer, Style};
use crate::engine::lock::Lock;
use crate::engine::reason::Reason;
use crate::engine::run;
use crate::engine::state::State;
use crate::engine::step::{Kind as StepKind, Step};
use crate::python::build::Build;
use crate::steps::bundle::{self, Bundle};
use crate::steps::{self, BuildOptions, graph, workspace};

/// The version of `status --json`'s schema: raised when a key is renamed or removed, or
/// changes meaning; keys may be added without it.
pub(crate) const VERSION: u32 = 1;

/// What `pybuild status` was asked.
#[derive(Debug, Default)]
pub(crate) struct Request<'a> {
    pub(crate) targets: &'a [&'a str],
    pub(crate) json: bool,
    pub(crate) exit_code: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    version: u32,
    /// Whether every step is fresh (in a workspace, every app's too).
    fresh: bool,
    steps: Vec<StepStatus>,
    bundle: BundleStatus,
    /// In a uv workspace: each app's own steps (`steps` are those the apps share).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    apps: Vec<AppStatus>,
}

#[derive(Debug, Serialize)]
struct AppStatus {
    name: String,
    fresh: bool,
    steps: Vec<StepStatus>,
    bundle: BundleStatus,
}

#[derive(Debug, Serialize)]
struct StepStatus {
    target: String,
    /// `step` (a built-in one) or `task`.
    #[serde(rename = "type")]
    kind: &'static str,
    fresh: bool,
    reasons: Vec<Reason>,
    /// What its last success produced (relative to the root, absolute outside it).
    outputs: Vec<String>,
    /// Why it would not run though it may be stale (the plan's last step is settled by
    /// its early cache key); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
}

#[derive(Debug, Serialize)]
struct BundleStatus {
    kind: String,
    /// The bundle file, relative to the root: configured, or the default once the console
    /// script it runs is known; `null` before that.
    output: Option<String>,
}

/// Reports on `request.targets`' plan; returns the exit code. In a uv workspace, `apps`
/// are the apps reported on: the steps they share, then each one's own.
pub(crate) fn show(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    request: &Request,
    apps: &[String],
) -> Result<u8> {
    let report = match &project.workspace {
        None => {
            let (steps, bundle) = survey(project, printer, options, request.targets, None)?;
            Report {
                version: VERSION,
                fresh: all_fresh(&steps),
                steps,
                bundle,
                apps: Vec::new(),
            }
        }
        Some(_) => {
            // The workspace's own targets (`setup`, tasks), else the setup the apps share;
            // then the apps' steps.
            let (app_targets, mut own): (Vec<&str>, Vec<&str>) = request
                .targets
                .iter()
                .partition(|target| workspace::is_app_target(target));
            if own.is_empty() {
                own.push("setup");
            }
            let (steps, bundle) = survey(project, printer, options, &own, None)?;
            let shared = workspace::shared_runs(project, printer);
            let stale: HashSet<String> = steps
                .iter()
                .filter(|step| !step.fresh)
                .map(|step| step.target.clone())
                .collect();
            let mut reports = Vec::new();
            for name in apps.iter().filter(|_| !app_targets.is_empty()) {
                let app = project.for_app(name)?;
                let (steps, bundle) = survey(
                    &app,
                    printer,
                    options,
                    &app_targets,
                    Some((&shared, &stale)),
                )?;
                reports.push(AppStatus {
                    name: name.clone(),
                    fresh: all_fresh(&steps),
                    steps,
                    bundle,
                });
            }
            Report {
                version: VERSION,
                fresh: all_fresh(&steps) && reports.iter().all(|app| app.fresh),
                steps,
                bundle,
                apps: reports,
            }
        }
    };
    if request.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let printer = printer.for_stdout();
        print!("{}", text(&report.steps, &printer));
        for app in &report.apps {
            println!("{}", printer.paint(&app.name, Style::Bold));
            let lines = text(&app.steps, &printer);
            print!(
                "{}",
                lines
                    .lines()
                    .map(|l| format!("  {l}\n"))
                    .collect::<String>()
            );
        }
    }
    Ok(match request.exit_code && !report.fresh {
        true => crate::base::error::EXIT_FAILURE,
        false => 0,
    })
}

fn all_fresh(steps: &[StepStatus]) -> bool {
    steps.iter().all(|s| s.fresh || s.skipped.is_some())
}

/// The steps of `targets`' plan (less the `shared` ones, made by the workspace, with those
/// of them stale), each
/// fresh or stale, and the bundle the plan makes.
fn survey(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    targets: &[&str],
    shared: Option<(&HashMap<String, i64>, &HashSet<String>)>,
) -> Result<(Vec<StepStatus>, BundleStatus)> {
    // `status` only reads: a `.pybuild/` it cannot write (a read-only mount, a full disk)
    // is read under a shared lock, and what the stat cache learned is not kept.
    let (_lock, writable) = match Lock::acquire(&project.state_dir(), options.wait, printer) {
        Ok(lock) => (Some(lock), true),
        Err(err) if is_unwritable(&err) => (
            Lock::acquire_to_read(&project.state_dir(), options.wait, printer)?,
            false,
        ),
        Err(err) => return Err(err),
    };
    let state = State::load(&project.state_dir(), printer);
    let mut cx = steps::context(project, printer, state);
    let mut plan = graph::plan(&project.config, targets, &[])?;
    if let Some((runs, stale)) = shared {
        plan.retain(|step| !runs.contains_key(step.name()));
        cx.shared_runs = runs.clone();
        cx.shared_stale = stale.clone();
    }
    let refs: Vec<&dyn Step<Build>> = plan.iter().map(Box::as_ref).collect();
    let steps: Vec<StepStatus> = run::survey(&mut cx, &refs)?
        .into_iter()
        .map(|verdict| StepStatus {
            kind: match verdict.kind {
                StepKind::Task { .. } => "task",
                StepKind::BuiltIn => "step",
            },
            target: verdict.name,
            fresh: verdict.reasons.is_empty(),
            reasons: verdict.reasons,
            outputs: verdict.outputs,
            skipped: verdict.skipped,
        })
        .collect();
    // The workspace itself has no bundle: its apps do.
    let output = match project.workspace.is_some() && project.app.is_none() {
        true => None,
        false => {
            bundle::configured_output(&project.config).or_else(|| Bundle::output(&mut cx).ok())
        }
    };
    // The stat cache may have learned hashes; keeping them makes the next build faster,
    // but only that: a state that cannot be saved changes nothing of the answer.
    if writable && let Err(err) = cx.save_state() {
        printer.warn(&format!("the stat cache is not kept: {err:#}"));
    }
    let bundle = BundleStatus {
        kind: project.config.bundle.kind.to_string(),
        output,
    };
    Ok((steps, bundle))
}

/// Whether `err` says a file could not be written for want of rights or room.
fn is_unwritable(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind;
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                ErrorKind::PermissionDenied
                    | ErrorKind::ReadOnlyFilesystem
                    | ErrorKind::StorageFull
                    | ErrorKind::QuotaExceeded
            )
        })
    })
}

fn text(steps: &[StepStatus], printer: &Printer) -> String {
    let width = steps
        .iter()
        .map(|s| s.target.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let mut out = String::new();
    for step in steps {
        let name = &step.target;
        if let Some(note) = &step.skipped {
            out.push_str(&format!(
                "{name:width$} {} ({note})\n",
                printer.paint("skipped", Style::Green)
            ));
        } else if step.fresh {
            out.push_str(&format!(
                "{name:width$} {}\n",
                printer.paint("fresh", Style::Green)
            ));
        } else {
            out.push_str(&format!(
                "{name:width$} {}\n",
                printer.paint("stale", Style::Yellow)
            ));
            for reason in &step.reasons {
                out.push_str(&format!("{:width$}   {reason}\n", ""));
            }
        }
    }
    out
}
