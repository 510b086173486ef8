//! What each command does, given the parsed command line.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::bundle::Bundle;
use crate::check::Check;
use crate::cli::{Cli, Command};
use crate::develop::Develop;
use crate::error::UserError;
use crate::help;
use crate::project::Project;
use crate::state::{Lock, State};
use crate::step::{self, BuildOptions, Context, Freshness, Step};
use crate::tools::Tools;
use crate::ui::{Printer, Style};
use crate::venv::Venv;
use crate::wheelhouse::Network;
use crate::{clean, completions, init, manpage, process, tasks};

pub fn execute(cli: Cli, printer: &Printer) -> Result<u8> {
    let dir = match &cli.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot tell the current directory")?,
    };
    let options = BuildOptions {
        explain: cli.explain,
        wait: !cli.no_wait,
        offline: cli.offline,
    };
    match cli.command {
        None => help::show(&dir, printer, &help::Request::default()).map(|()| 0),
        Some(Command::Help { topic, json, names }) => {
            let request = help::Request { topic, json, names };
            help::show(&dir, printer, &request).map(|()| 0)
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
        Some(Command::Status { json }) => status(&dir, printer, &options, json).map(|()| 0),
        Some(Command::Run { task, args }) => run(&dir, printer, &options, task, args),
        Some(Command::Task(argv)) => {
            let (name, args) = argv.split_first().context("no task named")?;
            // `pybuild lint -- -x` and `pybuild lint -x` both give `-x` to the task.
            let args = args.strip_prefix(&[OsString::from("--")]).unwrap_or(args);
            let name = name.to_string_lossy();
            tasks::run_named(&dir, printer, &name, args, &options)
        }
        Some(Command::Completions { shell }) => {
            completions::print(&dir, printer, shell).map(|()| 0)
        }
        Some(Command::Man { out }) => manpage::write(out.as_deref(), printer).map(|()| 0),
        Some(Command::Clean { all, dry_run }) => {
            let project = Project::discover(&dir)?;
            let _lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
            let state = State::load(&project.state_dir(), printer);
            clean::run(&project, &state, all, dry_run, printer).map(|()| 0)
        }
    }
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

fn build(dir: &Path, printer: &Printer, options: &BuildOptions, target: Target) -> Result<()> {
    let project = Project::discover(dir)?;
    let _lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    let state = State::load(&project.state_dir(), printer);
    let mut cx = Context::new(&project, printer, state);
    cx.network = Network::new(options.offline);
    let steps = pipeline(target);
    let refs: Vec<&dyn Step> = steps.iter().map(Box::as_ref).collect();
    step::build(&mut cx, &refs, options.explain)?;
    if target == Target::Bundle {
        // Every input was looked up: what was not is a file that no longer exists.
        cx.state.files.retain_used();
    }
    cx.save_state()?;
    // The process ends soon: freeing the state's tens of thousands of small allocations
    // one by one would be a measurable share of a no-op build on a large project.
    std::mem::forget(cx);
    Ok(())
}

fn status(dir: &Path, printer: &Printer, options: &BuildOptions, json: bool) -> Result<()> {
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

/// `pybuild run`: a task when `task` names one, else the program `task` or, after `--`,
/// `args` run in the venv (in `dir`) once the project is set up; passes the exit code on.
fn run(
    dir: &Path,
    printer: &Printer,
    options: &BuildOptions,
    task: Option<OsString>,
    args: Vec<OsString>,
) -> Result<u8> {
    let project = Project::discover(dir)?;
    if let Some(name) = task.as_ref().and_then(|t| t.to_str())
        && project.config.tasks.contains_key(name)
    {
        return tasks::run_named(dir, printer, name, &args, options);
    }
    let command: Vec<OsString> = task.into_iter().chain(args).collect();
    let Some((program, args)) = command.split_first() else {
        return Err(UserError::usage("nothing to run")
            .hint("`pybuild run TASK` runs a task, `pybuild run -- CMD...` a program")
            .into());
    };
    build(dir, printer, options, Target::Setup)?;
    let cx = Context::new(&project, printer, State::default());
    let status = cx
        .runner
        .command_in(dir, program, args)
        .unchecked()
        .run()
        .map_err(|err| {
            let mut failed =
                UserError::failure(format!("cannot run `{}`: {err}", program.to_string_lossy()));
            let tasks: Vec<&str> = project.config.tasks.keys().map(String::as_str).collect();
            if let Some(task) = program
                .to_str()
                .and_then(|p| crate::config::nearest(p, &tasks))
            {
                failed = failed.hint(format!("did you mean the task `{task}`?"));
            }
            failed
        })?
        .status;
    Ok(process::exit_code(status))
}
