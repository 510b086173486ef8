//! `pybuild status`: which steps of the targets' plan are fresh and why the others are
//! stale, without running any. As text for people, as JSON for machines (`--json`, see
//! [`VERSION`]), and as an exit code for CI (`--exit-code`: 1 when any step is stale,
//! so "is the committed bundle current?" is one command).
//!
//! A step that builds on a stale one is stale too ("venv will run first"). When a step's
//! fingerprint cannot be computed while a step before it is stale, it is reported as
//! unknown; when every step before it is fresh, the error is pybuild's to report (a
//! configuration problem, say), as a build would.

use anyhow::Result;
use serde::Serialize;

use crate::bundle::{self, Bundle};
use crate::project::Project;
use crate::reason::{Kind, Reason};
use crate::state::{Lock, State};
use crate::step::{self, BuildOptions, Context, Freshness};
use crate::tasks;
use crate::ui::{Printer, Style};

/// The version of `status --json`'s schema: raised when a key is renamed or removed, or
/// changes meaning; keys may be added without it.
pub const VERSION: u32 = 1;

/// What `pybuild status` was asked.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub targets: &'a [&'a str],
    pub json: bool,
    pub exit_code: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    version: u32,
    /// Whether every step is fresh.
    fresh: bool,
    steps: Vec<StepStatus>,
    bundle: BundleStatus,
}

#[derive(Debug, Serialize)]
struct StepStatus {
    target: &'static str,
    /// `step` (a built-in one) or `task`.
    #[serde(rename = "type")]
    kind: &'static str,
    fresh: bool,
    reasons: Vec<Reason>,
    /// What its last success produced (relative to the root, absolute outside it).
    outputs: Vec<String>,
}

#[derive(Debug, Serialize)]
struct BundleStatus {
    kind: String,
    /// The bundle file, relative to the root: configured, or the default once the console
    /// script it runs is known; `null` before that.
    output: Option<String>,
}

/// Reports on `request.targets`' plan; returns the exit code.
pub fn show(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    request: &Request,
) -> Result<u8> {
    let _lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    let state = State::load(&project.state_dir(), printer);
    let mut cx = Context::new(project, printer, state);
    let mut steps: Vec<StepStatus> = Vec::new();
    for step in tasks::plan_all(&project.config, request.targets, &[])? {
        let name = step.name();
        let reasons = match step.fingerprint(&mut cx) {
            Ok(_) if let Some(why) = step.always_runs() => vec![Reason::new(Kind::AlwaysRuns, why)],
            Ok(fingerprint) => {
                let mut reasons = match step::freshness(&mut cx, step.as_ref(), &fingerprint)? {
                    Freshness::Fresh => Vec::new(),
                    Freshness::Stale(reasons) => reasons,
                };
                // A step that builds on a stale one (its fingerprint holds that step's run)
                // will run again after it.
                for earlier in &steps {
                    if !earlier.fresh && tasks::builds_on(&fingerprint, earlier.target) {
                        let detail = format!("{} will run first", earlier.target);
                        reasons
                            .push(Reason::new(Kind::DependencyStale, detail).key(earlier.target));
                    }
                }
                reasons
            }
            Err(err) if steps.iter().all(|earlier| earlier.fresh) => return Err(err),
            Err(err) => vec![Reason::new(
                Kind::Unknown,
                format!("cannot tell until the steps before it run ({err:#})"),
            )],
        };
        let mut outputs: Vec<String> = cx
            .state
            .steps
            .get(name)
            .map(|record| record.outputs.keys().cloned().collect())
            .unwrap_or_default();
        outputs.sort();
        steps.push(StepStatus {
            target: name,
            kind: match project.config.tasks.contains_key(name) {
                true => "task",
                false => "step",
            },
            fresh: reasons.is_empty(),
            reasons,
            outputs,
        });
    }
    let output =
        bundle::configured_output(&project.config).or_else(|| Bundle::output(&mut cx).ok());
    // The stat cache may have learned hashes; keeping them makes the next build faster.
    cx.save_state()?;
    let report = Report {
        version: VERSION,
        fresh: steps.iter().all(|s| s.fresh),
        steps,
        bundle: BundleStatus {
            kind: project.config.bundle.kind.to_string(),
            output,
        },
    };
    if request.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report, &printer.for_stdout()));
    }
    Ok(match request.exit_code && !report.fresh {
        true => crate::error::EXIT_FAILURE,
        false => 0,
    })
}

fn text(report: &Report, printer: &Printer) -> String {
    let width = report
        .steps
        .iter()
        .map(|s| s.target.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let mut out = String::new();
    for step in &report.steps {
        let name = step.target;
        if step.fresh {
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
