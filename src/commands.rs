//! The command line: what each command does, given the parsed command line. The top
//! floor: it may use every layer below, and none uses it.

pub(crate) mod affected;
pub(crate) mod check_fix;
pub(crate) mod clean;
pub(crate) mod cli;
pub(crate) mod completions;
pub(crate) mod help;
pub(crate) mod init;
pub(crate) mod keygen;
pub(crate) mod manpage;
pub(crate) mod status;
pub(crate) mod watch;

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::base::config::{At, nearest};
use crate::base::error::UserError;
use crate::base::process;
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::commands::cli::{CacheCommand, Cli, Command, DeployTarget, WatchArgs};
use crate::engine::lock::Lock;
use crate::engine::state::State;
use crate::steps::{self, BuildOptions, graph, workspace};

pub(crate) fn execute(cli: Cli, printer: &Printer) -> Result<u8> {
    let dir = match &cli.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot tell the current directory")?,
    };
    let options = BuildOptions {
        explain: cli.explain,
        wait: !cli.no_wait,
        offline: cli.offline,
        refresh_base: false,
    };
    let apps = Apps {
        named: cli.packages.clone(),
        jobs: cli.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            usize::from,
        ),
    };
    let build = |dir: &Path, printer: &Printer, options: &BuildOptions, target: &str| {
        build(dir, printer, options, target, &apps)
    };
    match cli.command {
        None => help::show(&dir, printer, &help::Request::default()).map(|()| 0),
        Some(Command::Help { topic, json, names }) => {
            let request = help::Request { topic, json, names };
            help::show(&dir, printer, &request).map(|()| 0)
        }
        Some(Command::Init { force, no_setup }) => {
            init::write_config(&dir, force, options.offline, printer)?;
            if !no_setup {
                build(&dir, printer, &options, SETUP)?;
            }
            Ok(0)
        }
        Some(Command::Setup) => build(&dir, printer, &options, SETUP).map(|()| 0),
        Some(Command::Bundle) => build(&dir, printer, &options, BUNDLE).map(|()| 0),
        Some(Command::Image { refresh_base }) => {
            let options = BuildOptions {
                refresh_base,
                ..options
            };
            build(&dir, printer, &options, "image").map(|()| 0)
        }
        Some(Command::Sbom) => build(&dir, printer, &options, "sbom").map(|()| 0),
        Some(Command::Push) => build(&dir, printer, &options, "push").map(|()| 0),
        Some(Command::Deploy { target }) => {
            let step = match target {
                DeployTarget::Marathon => "deploy-marathon",
                DeployTarget::Kubernetes => "deploy-kubernetes",
                DeployTarget::Spark => "deploy-spark",
            };
            build(&dir, printer, &options, step).map(|()| 0)
        }
        Some(Command::Check { fix: false, .. }) => {
            build(&dir, printer, &options, "check").map(|()| 0)
        }
        Some(Command::Check { fix: true, yes }) => {
            crate::commands::check_fix::run(&dir, printer, &options, yes).map(|()| 0)
        }
        Some(Command::Watch(args)) => watch(&dir, printer, options, args, &apps),
        Some(Command::Status {
            json,
            exit_code,
            targets,
        }) => status(&dir, printer, &options, &targets, json, exit_code, &apps),
        Some(Command::Affected { base, json }) => affected::run(&dir, &base, json),
        Some(Command::Run { task, args }) => run(&dir, printer, &options, task, args),
        Some(Command::Task(argv)) => {
            let (name, args) = argv.split_first().context("no task named")?;
            let name = name.to_string_lossy();
            // `pybuild TASK --help` is `pybuild help TASK`; after `--`, it is the task's.
            let mut before_dashes = args.iter().take_while(|arg| *arg != "--");
            if before_dashes.any(|arg| arg == "--help" || arg == "-h") {
                let request = help::Request {
                    topic: Some(name.into_owned()),
                    ..help::Request::default()
                };
                return help::show(&dir, printer, &request).map(|()| 0);
            }
            // `pybuild lint -- -x` and `pybuild lint -x` both give `-x` to the task.
            let args = args.strip_prefix(&[OsString::from("--")]).unwrap_or(args);
            run_named(&dir, printer, &name, args, &options)
        }
        Some(Command::Cache(CacheCommand::Keygen { name, out, force })) => {
            keygen::keygen(&name, &out, force, printer).map(|()| 0)
        }
        Some(Command::Completions { shell }) => completions::print(shell).map(|()| 0),
        Some(Command::Man { out }) => manpage::write(out.as_deref(), printer).map(|()| 0),
        Some(Command::Clean { all, dry_run }) => {
            let project = Project::discover(&dir)?;
            // A dry run only reads: it creates no `.pybuild/lock`.
            let _lock = match dry_run {
                true => None,
                false => Some(Lock::acquire(&project.state_dir(), options.wait, printer)?),
            };
            if !dry_run {
                // Their records are in `.pybuild/`, about to go.
                process::end_leftovers(&project.state_dir(), printer);
            }
            let mut state = State::load(&project.state_dir(), printer);
            // Every app's products, whatever `-p` says: the states go with `.pybuild/`.
            let mut apps = Vec::new();
            for member in project.workspace.iter().flat_map(|w| w.apps()) {
                let app = project.for_app(&member.name)?;
                let state = State::load(&app.state_dir(), printer);
                apps.push((app, state));
            }
            clean::run(&project, &mut state, &mut apps, all, dry_run, printer).map(|()| 0)
        }
    }
}

/// The targets the built-in commands build (see `steps::graph`).
const SETUP: &str = "setup";
const BUNDLE: &str = "bundle";

/// Runs `pybuild watch` with the targets it names, until Ctrl-C.
fn watch(
    dir: &Path,
    printer: &Printer,
    options: BuildOptions,
    args: WatchArgs,
    apps: &Apps,
) -> Result<u8> {
    let project = Project::discover(dir)?;
    let from_config = args.targets.is_empty();
    let settings = watch::Settings::resolve(&project.config.watch, args);
    for (index, name) in settings.targets.iter().enumerate() {
        match check_target(&project, name, "watch") {
            // Said at the entry of `[watch] targets` that names it.
            Err(err) if from_config => {
                let message = format!("`watch.targets` names `{name}`, which is no step or task");
                let mut located =
                    (project.config).error_at(At::Item(&["watch", "targets"], index), message);
                if let Some(user) = err.downcast_ref::<UserError>() {
                    located.hint = user.hints.first().cloned();
                }
                return Err(located.into());
            }
            result => result?,
        }
    }
    let root = project.root.clone();
    let targets = settings.targets.clone();
    // In a workspace, the apps' steps are built for the apps chosen when watch started.
    let chosen = match &project.workspace {
        Some(_) => workspace::select(&project, &apps.named, dir)?,
        None => no_packages(&apps.named, "watch")?,
    };
    let jobs = apps.jobs;
    let build = move |printer: &Printer| {
        // project.toml is read again for each run: an edit to it is one of the changes.
        let project = Project::discover(&root)?;
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let (app_targets, own): (Vec<&str>, Vec<&str>) = targets
            .iter()
            .partition(|target| project.workspace.is_some() && workspace::is_app_target(target));
        let mut ran = Vec::new();
        if !own.is_empty() || app_targets.is_empty() {
            ran = steps::build(&project, printer, &options, &own, &[], false)?;
        }
        if !app_targets.is_empty() {
            let built =
                workspace::build_apps(&project, printer, &options, &app_targets, &chosen, jobs)?;
            ran.extend(built);
        }
        Ok(ran)
    };
    watch::run(&project, printer, &settings, Arc::new(build))
}

/// A target of `command` (watch, status) is what `pybuild NAME` builds: `setup`, a step,
/// or a task.
fn check_target(project: &Project, name: &str, command: &str) -> Result<()> {
    if graph::is_target(&project.config, name) {
        return Ok(());
    }
    let mut candidates = vec![SETUP, BUNDLE];
    candidates.extend(project.config.tasks.keys().map(String::as_str));
    let mut err = UserError::usage(format!("`{command}` cannot take `{name}`"));
    if let Some(best) = crate::base::config::nearest(name, &candidates) {
        err = err.hint(format!("did you mean `{best}`?"));
    }
    Err(err
        .hint(format!(
            "`{command}` takes `setup`, `bundle`, a step or a task of project.toml"
        ))
        .into())
}

/// Which apps of a uv workspace a command works on (`-p`), and how many at once (`-j`).
struct Apps {
    named: Vec<String>,
    jobs: usize,
}

fn build(
    dir: &Path,
    printer: &Printer,
    options: &BuildOptions,
    target: &str,
    apps: &Apps,
) -> Result<()> {
    let project = Project::discover(dir)?;
    if project.workspace.is_some() && workspace::is_app_target(target) {
        let chosen = workspace::select(&project, &apps.named, dir)?;
        return workspace::build_apps(&project, printer, options, &[target], &chosen, apps.jobs)
            .map(drop);
    }
    if let Some(name) = apps.named.first() {
        let why = match project.workspace {
            Some(_) => format!("`{target}` works on the whole workspace, not on one app"),
            None => "this project is no uv workspace".to_string(),
        };
        return Err(UserError::usage(format!("`--package {name}`: {why}"))
            .hint("`-p`/`--package` chooses the apps of a uv workspace that `bundle`, `image`, `sbom`, `push`, `deploy`, `status` and `watch` work on")
            .into());
    }
    steps::build(&project, printer, options, &[target], &[], true).map(drop)
}

fn status(
    dir: &Path,
    printer: &Printer,
    options: &BuildOptions,
    targets: &[String],
    json: bool,
    exit_code: bool,
    apps: &Apps,
) -> Result<u8> {
    let project = Project::discover(dir)?;
    for name in targets {
        check_target(&project, name, "status")?;
    }
    let mut targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    if targets.is_empty() {
        targets.push(BUNDLE);
    }
    let chosen = match &project.workspace {
        Some(_) => workspace::select(&project, &apps.named, dir)?,
        None => no_packages(&apps.named, "status")?,
    };
    let request = status::Request {
        targets: &targets,
        json,
        exit_code,
    };
    status::show(&project, printer, options, &request, &chosen)
}

/// `-p` outside a workspace: an error naming `command`.
fn no_packages(named: &[String], command: &str) -> Result<Vec<String>> {
    match named.first() {
        None => Ok(Vec::new()),
        Some(name) => Err(UserError::usage(format!(
            "`--package {name}`: this project is no uv workspace"
        ))
        .hint(format!(
            "`-p`/`--package` chooses the apps of a uv workspace that `{command}` works on"
        ))
        .into()),
    }
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
        return run_named(dir, printer, name, &args, options);
    }
    let command: Vec<OsString> = task.into_iter().chain(args).collect();
    let Some((program, args)) = command.split_first() else {
        return Err(UserError::usage("nothing to run")
            .hint("`pybuild run TASK` runs a task, `pybuild run -- CMD...` a program")
            .into());
    };
    steps::build(&project, printer, options, &[SETUP], &[], false)?;
    let cx = steps::context(&project, printer, State::default());
    let display = process::display_command(program, args);
    let command = cx.runner.command_in(dir, program, args);
    // Tracked like a task's command: it dies with pybuild, and a killed pybuild's is
    // ended by the next build.
    let status = cx.runner.run_attached(command, &display).map_err(|err| {
        let mut failed = UserError::failure(format!(
            "cannot run `{}`: {err:#}",
            program.to_string_lossy()
        ));
        let tasks: Vec<&str> = project.config.tasks.keys().map(String::as_str).collect();
        if let Some(task) = program
            .to_str()
            .and_then(|p| crate::base::config::nearest(p, &tasks))
        {
            failed = failed.hint(format!("did you mean the task `{task}`?"));
        }
        failed
    })?;
    Ok(process::exit_code(status))
}

/// Runs the task `name` (from `pybuild NAME` or `pybuild run NAME`) in the project found
/// from `dir`, with its deps; `Ok(0)` when it succeeded or was fresh.
pub(crate) fn run_named(
    dir: &Path,
    printer: &Printer,
    name: &str,
    args: &[OsString],
    options: &BuildOptions,
) -> Result<u8> {
    let project = match Project::discover(dir) {
        Ok(project) => project,
        // Without a project (discover's only `UserError`), `pybuild NAME` can only be a
        // mistyped command.
        Err(err) if err.downcast_ref::<UserError>().is_some() => {
            let none = format!(
                "tasks come from a project.toml, and there is none in {} or above",
                dir.display()
            );
            return Err(unknown(name, &[], Some(none)).into());
        }
        Err(err) => return Err(err),
    };
    if !project.config.tasks.contains_key(name) {
        let tasks: Vec<&str> = project.config.tasks.keys().map(String::as_str).collect();
        return Err(unknown(name, &tasks, None).into());
    }
    steps::build(&project, printer, options, &[name], args, false).map(|_| 0)
}

/// The error for a name that is neither a command nor a task, with the nearest of them.
fn unknown(name: &str, tasks: &[&str], why: Option<String>) -> UserError {
    let command = Cli::command();
    // Tasks first: on a tie, the user more likely meant one of their own names.
    let mut candidates: Vec<&str> = tasks.to_vec();
    candidates.extend(command.get_subcommands().map(|c| c.get_name()));
    let mut err = UserError::usage(format!("no command or task `{name}`"));
    if let Some(best) = nearest(name, &candidates) {
        err = err.hint(format!("did you mean `{best}`?"));
    }
    if let Some(why) = why {
        err = err.hint(why);
    }
    err.hint("`pybuild help` lists the commands and the tasks of project.toml")
}
