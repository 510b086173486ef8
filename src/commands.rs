//! What each command does, given the parsed command line.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::bundle::Bundle;
use crate::check::Check;
use crate::cli::{Cli, Command, WatchArgs};
use crate::develop::Develop;
use crate::error::UserError;
use crate::help;
use crate::project::Project;
use crate::state::{Lock, State};
use crate::step::{self, Context, Freshness, Step};
use crate::tools::Tools;
use crate::ui::{Printer, Style};
use crate::venv::Venv;
use crate::{clean, init, watch};

pub fn execute(cli: Cli, printer: &Printer) -> Result<u8> {
    let dir = match &cli.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot tell the current directory")?,
    };
    let options = Options {
        explain: cli.explain,
        wait: !cli.no_wait,
    };
    match cli.command {
        None => {
            print!("{}", help::overview(printer));
            Ok(0)
        }
        Some(Command::Help { topic: None }) => {
            print!("{}", help::overview(printer));
            Ok(0)
        }
        Some(Command::Help { topic: Some(name) }) => {
            print!("{}", help::topic(&name)?);
            Ok(0)
        }
        Some(Command::Init { force, no_setup }) => {
            init::write_config(&dir, force, printer)?;
            if !no_setup {
                build(&dir, printer, &options, Target::Setup)?;
            }
            Ok(0)
        }
        Some(Command::Setup) => build(&dir, printer, &options, Target::Setup).map(|()| 0),
        Some(Command::Bundle) => build(&dir, printer, &options, Target::Bundle).map(|()| 0),
        Some(Command::Watch(args)) => watch(&dir, printer, options, args),
        Some(Command::Status { json }) => status(&dir, printer, &options, json).map(|()| 0),
        Some(Command::Run { command }) => run(&dir, printer, &options, &command),
        Some(Command::Clean { all, dry_run }) => {
            let project = Project::discover(&dir)?;
            let _lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
            let state = State::load(&project.state_dir(), printer);
            clean::run(&project, &state, all, dry_run, printer).map(|()| 0)
        }
    }
}

#[derive(Clone, Copy)]
struct Options {
    explain: bool,
    wait: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Setup,
    Bundle,
}

/// The steps that make `target`, in order.
fn pipeline(target: Target) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(Venv),
        Box::new(Tools),
        Box::new(Check::default()),
        Box::new(Develop),
    ];
    if target == Target::Bundle {
        steps.push(Box::new(Bundle));
    }
    steps
}

/// Runs `pybuild watch` with the targets it names, until Ctrl-C.
fn watch(dir: &Path, printer: &Printer, options: Options, args: WatchArgs) -> Result<u8> {
    let project = Project::discover(dir)?;
    let settings = watch::Settings::resolve(&project.config.watch, args);
    let targets: Vec<Target> = settings
        .targets
        .iter()
        .map(|name| watch_target(name))
        .collect::<Result<_>>()?;
    let root = project.root.clone();
    let build = move |printer: &Printer| {
        let ran = build_steps(&root, printer, &options, &targets, false)?;
        Ok(ran.into_iter().map(String::from).collect())
    };
    watch::run(&project, printer, &settings, Arc::new(build))
}

/// What `pybuild watch NAME` runs: the one place that tells a watch target's name from
/// what runs it.
fn watch_target(name: &str) -> Result<Target> {
    match name {
        "setup" => Ok(Target::Setup),
        "bundle" => Ok(Target::Bundle),
        _ => {
            let mut err = UserError::usage(format!("`watch` cannot run `{name}`"));
            if let Some(best) = crate::config::nearest(name, &["setup", "bundle"]) {
                err = err.hint(format!("did you mean `{best}`?"));
            }
            Err(err.hint("`watch` runs `setup` or `bundle`").into())
        }
    }
}

fn build(dir: &Path, printer: &Printer, options: &Options, target: Target) -> Result<()> {
    build_steps(dir, printer, options, &[target], true).map(drop)
}

/// Runs the stale steps of `targets` (each step once, under one lock); returns those that
/// ran. `one_shot`: the process ends right after.
fn build_steps(
    dir: &Path,
    printer: &Printer,
    options: &Options,
    targets: &[Target],
    one_shot: bool,
) -> Result<Vec<&'static str>> {
    let project = Project::discover(dir)?;
    let _lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    let state = State::load(&project.state_dir(), printer);
    let mut cx = Context::new(&project, printer, state);
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    for &target in targets {
        for step in pipeline(target) {
            if !steps.iter().any(|s| s.name() == step.name()) {
                steps.push(step);
            }
        }
    }
    let refs: Vec<&dyn Step> = steps.iter().map(Box::as_ref).collect();
    let ran = step::build(&mut cx, &refs, options.explain)?;
    if targets.contains(&Target::Bundle) {
        // Every input was looked up: what was not is a file that no longer exists.
        cx.state.files.retain_used();
    }
    cx.save_state()?;
    if one_shot {
        // The process ends soon: freeing the state's tens of thousands of small allocations
        // one by one would be a measurable share of a no-op build on a large project.
        std::mem::forget(cx);
    }
    Ok(ran)
}

fn status(dir: &Path, printer: &Printer, options: &Options, json: bool) -> Result<()> {
    let project = Project::discover(dir)?;
    let _lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    let state = State::load(&project.state_dir(), printer);
    let mut cx = Context::new(&project, printer, state);
    let mut report: Vec<(&str, Vec<String>)> = Vec::new();
    for step in pipeline(Target::Bundle) {
        let reasons = match step.fingerprint(&mut cx) {
            Ok(fingerprint) => {
                let mut reasons = match step::freshness(&mut cx, step.name(), &fingerprint)? {
                    Freshness::Fresh => Vec::new(),
                    Freshness::Stale(reasons) => reasons,
                };
                // A step that builds on a stale one (its fingerprint holds that step's run)
                // will run again after it.
                for (earlier, earlier_reasons) in &report {
                    if !earlier_reasons.is_empty() && fingerprint.parts.contains_key(*earlier) {
                        reasons.push(format!("{earlier} will run first"));
                    }
                }
                reasons
            }
            Err(err) => vec![format!(
                "cannot tell until the steps before it run ({err:#})"
            )],
        };
        report.push((step.name(), reasons));
    }
    // The stat cache may have learned hashes; keeping them makes the next build faster.
    cx.save_state()?;
    if json {
        let steps: Vec<_> = report
            .iter()
            .map(|(name, reasons)| {
                serde_json::json!({"step": name, "fresh": reasons.is_empty(), "reasons": reasons})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&steps)?);
        return Ok(());
    }
    for (name, reasons) in report {
        if reasons.is_empty() {
            println!("{name:8} {}", printer.paint("fresh", Style::Green));
        } else {
            println!("{name:8} {}", printer.paint("stale", Style::Yellow));
            for reason in reasons {
                println!("{:8}   {reason}", "");
            }
        }
    }
    Ok(())
}

/// Sets the project up, then runs `command` in its venv and passes its exit code on.
fn run(dir: &Path, printer: &Printer, options: &Options, command: &[OsString]) -> Result<u8> {
    build(dir, printer, options, Target::Setup)?;
    let project = Project::discover(dir)?;
    let cx = Context::new(&project, printer, State::default());
    let (program, args) = command.split_first().context("no command to run")?;
    let status = cx
        .runner
        .command(program, args)
        .dir(std::env::current_dir().unwrap_or(project.root.clone()))
        .unchecked()
        .run()
        .with_context(|| format!("cannot run `{}`", program.to_string_lossy()))?
        .status;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128 + signal as u8,
        (None, None) => 1,
    })
}
