//! User tasks (`[tasks.NAME]` in project.toml) as steps of the one engine, and targets: a
//! name that is a built-in step, `setup`, or a task, built with everything it depends on.
//!
//! A task is a [`Step`]: its fingerprint is its configuration, the extra arguments it was
//! given, when each of its deps last ran (a dep that ran again makes it stale), and the
//! content of its `sources`; its recorded outputs are the files its `outputs` matched
//! after it succeeded. So it is fresh exactly when a step would be. A task with neither
//! `sources` nor `outputs` runs every time, like a make target without prerequisites.
//!
//! Every task runs inside the venv, so it implicitly depends on `venv` and `tools` (the dev
//! tools it most likely runs); what needs the project installed says `deps = ["setup"]`.
//! Plan order is depth-first, deps in the order written, each target once: a task's
//! implicit deps, then its deps, then the task. The user's commands write to the terminal,
//! not to a log, and the exit code of a failing one becomes pybuild's ([`TaskFailed`]).

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;

use crate::bundle::Bundle;
use crate::check::Check;
use crate::config::task::{SETUP, STEPS, task_dir};
use crate::config::{Config, TaskConfig, TaskRun};
use crate::develop::Develop;
use crate::error::UserError;
use crate::fileset;
use crate::fingerprint::Fingerprint;
use crate::process::{self, display_command};
use crate::project::Project;
use crate::state::{Lock, State, saved_stamp};
use crate::step::{self, BuildOptions, Context, Step};
use crate::tools::Tools;
use crate::ui::Printer;
use crate::venv::Venv;
use crate::wheelhouse::Network;

/// What every task depends on: it runs inside the venv, usually with the dev tools.
const IMPLICIT_DEPS: &[&str] = &["venv", "tools"];

/// A task's command failed; pybuild exits with its code.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` exited with code {code}")]
pub struct TaskFailed {
    pub command: String,
    pub code: u8,
}

/// Runs the task `name` (from `pybuild NAME` or `pybuild run NAME`) in the project found
/// from `dir`, with its deps; `Ok(0)` when it succeeded or was fresh.
pub fn run_named(
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
    build(&project, printer, options, &[name], args, false).map(|_| 0)
}

/// Brings `targets` (built-in steps, `setup`, tasks) up to date with everything they depend
/// on, under the project's lock, each step once and only when stale, after ending what a
/// killed build left running: what `pybuild setup`, `bundle`, `TASK` and each `watch` run
/// do. `args` go to the targets that are tasks.
/// `one_shot`: the process ends right after. Returns the steps that ran.
pub fn build(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    targets: &[&str],
    args: &[OsString],
    one_shot: bool,
) -> Result<Vec<&'static str>> {
    let lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    // Before any step: what a killed build left running may still write into the venv.
    process::end_leftovers(&project.state_dir(), printer);
    let state = State::load(&project.state_dir(), printer);
    let mut cx = Context::new(project, printer, state);
    cx.lock = Some(lock);
    cx.network = Network::new(options.offline);
    let steps = plan_all(&project.config, targets, args)?;
    let refs: Vec<&dyn Step> = steps.iter().map(Box::as_ref).collect();
    let result = step::build(&mut cx, &refs, options.explain);
    if result.is_ok() && refs.iter().any(|s| s.name() == "bundle") {
        // Every input was looked up: what was not is a file that no longer exists.
        cx.state.files.retain_used();
    }
    // Even after a failure: the stat cache learned hashes, and a task's records are kept;
    // not without the lock (a task could not take it back).
    if cx.lock.is_some() {
        cx.save_state()?;
    }
    if one_shot {
        // The process ends soon: freeing the state's tens of thousands of small allocations
        // one by one would be a measurable share of a no-op build on a large project.
        std::mem::forget(cx);
    }
    result
}

/// The error for a name that is neither a command nor a task, with the nearest of them.
fn unknown(name: &str, tasks: &[&str], why: Option<String>) -> UserError {
    let command = crate::cli::Cli::command();
    // Tasks first: on a tie, the user more likely meant one of their own names.
    let mut candidates: Vec<&str> = tasks.to_vec();
    candidates.extend(command.get_subcommands().map(|c| c.get_name()));
    let mut err = UserError::usage(format!("no command or task `{name}`"));
    if let Some(best) = crate::config::nearest(name, &candidates) {
        err = err.hint(format!("did you mean `{best}`?"));
    }
    if let Some(why) = why {
        err = err.hint(why);
    }
    err.hint("`pybuild help` lists the commands and the tasks of project.toml")
}

/// Whether `name` is something [`build`] can build in this project.
pub fn is_target(config: &Config, name: &str) -> bool {
    name == SETUP || STEPS.contains(&name) || config.tasks.contains_key(name)
}

/// The steps that make `target`, in the order they run, each once.
pub fn plan<'c>(
    config: &'c Config,
    target: &str,
    args: &[OsString],
) -> Result<Vec<Box<dyn Step + 'c>>> {
    Ok(order(config, target)?
        .into_iter()
        .map(|name| -> Box<dyn Step + 'c> {
            match builtin(name) {
                Some(step) => step,
                None => {
                    let (name, task) = config
                        .tasks
                        .get_key_value(name)
                        .expect("order only holds known targets");
                    let args = if name == target {
                        args.to_vec()
                    } else {
                        Vec::new()
                    };
                    Box::new(Task {
                        // `Step::name` is `&'static str` (the built-in steps' names are
                        // constants); a task's name lives as long as the process anyway.
                        name: Box::leak(name.clone().into_boxed_str()),
                        config: task,
                        args,
                    })
                }
            }
        })
        .collect())
}

/// The steps that make all of `targets`, in order, each once.
pub fn plan_all<'c>(
    config: &'c Config,
    targets: &[&str],
    args: &[OsString],
) -> Result<Vec<Box<dyn Step + 'c>>> {
    let mut steps: Vec<Box<dyn Step + 'c>> = Vec::new();
    let mut planned = HashSet::new();
    for target in targets {
        for step in plan(config, target, args)? {
            if planned.insert(step.name()) {
                steps.push(step);
            }
        }
    }
    Ok(steps)
}

/// Whether a step with `fingerprint` runs again after `earlier` runs: its fingerprint
/// holds when `earlier` last ran (a built-in step's `venv`, a task's `dep NAME`).
pub fn builds_on(fingerprint: &Fingerprint, earlier: &str) -> bool {
    let parts = &fingerprint.parts;
    parts.contains_key(earlier)
        || parts.contains_key(&format!("dep {earlier}"))
        || (earlier == record_of(SETUP) && parts.contains_key(&format!("dep {SETUP}")))
}

/// What `target` needs, depth-first, then `target`; each name once, `setup` left out (it
/// is its last step). The walk keeps its own stack: a chain of tasks tens of thousands
/// deep must not overflow the thread's.
fn order<'a>(config: &'a Config, target: &'a str) -> Result<Vec<&'a str>> {
    let mut order = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    // The targets being visited, each with its deps and how many of them were visited.
    let mut path: Vec<(&str, Vec<&str>, usize)> = vec![(target, deps(config, target)?, 0)];
    let mut on_path: HashSet<&str> = HashSet::from([target]);
    while let Some((name, deps_of_name, next)) = path.last_mut() {
        let Some(&dep) = deps_of_name.get(*next) else {
            let name = *name;
            path.pop();
            on_path.remove(name);
            done.insert(name);
            if name != SETUP {
                order.push(name);
            }
            continue;
        };
        *next += 1;
        if done.contains(dep) {
            continue;
        }
        if !on_path.insert(dep) {
            // project.toml's validation refuses cycles; this guards the walk anyway.
            let names: Vec<&str> = path.iter().map(|(on, _, _)| *on).collect();
            bail!(
                "tasks depend on each other in a cycle: {} → {dep}",
                names.join(" → ")
            );
        }
        path.push((dep, deps(config, dep)?, 0));
    }
    Ok(order)
}

/// What `name` depends on directly, in order: the step before a step, `develop` for
/// `setup`, a task's implicit deps then its own.
fn deps<'a>(config: &'a Config, name: &str) -> Result<Vec<&'a str>> {
    Ok(if let Some(at) = STEPS.iter().position(|s| *s == name) {
        STEPS[..at].iter().rev().take(1).copied().collect()
    } else if name == SETUP {
        vec!["develop"]
    } else if let Some(task) = config.tasks.get(name) {
        IMPLICIT_DEPS
            .iter()
            .copied()
            .chain(task.deps.iter().map(String::as_str))
            .collect()
    } else {
        bail!("no step or task `{name}`");
    })
}

fn builtin(name: &str) -> Option<Box<dyn Step>> {
    Some(match name {
        "venv" => Box::new(Venv),
        "tools" => Box::new(Tools),
        "check" => Box::new(Check::default()),
        "develop" => Box::new(Develop),
        "bundle" => Box::new(Bundle),
        _ => return None,
    })
}

/// The state record a dep's last run is kept under (`setup` is its last step).
fn record_of(dep: &str) -> &str {
    if dep == SETUP { "develop" } else { dep }
}

pub struct Task<'c> {
    name: &'static str,
    config: &'c TaskConfig,
    args: Vec<OsString>,
}

impl Task<'_> {
    /// The commands to run, as (program, arguments, how the user wrote it); the extra
    /// arguments go to the last argv, or to a shell line as `"$@"` (appended unless the
    /// line uses `$@` or `$*`).
    fn commands(&self) -> Vec<(OsString, Vec<OsString>, String)> {
        match &self.config.run {
            None => Vec::new(),
            Some(TaskRun::Shell(line)) => {
                let mut line = line.clone();
                if !self.args.is_empty() && !line.contains("$@") && !line.contains("$*") {
                    line.push_str(" \"$@\"");
                }
                let shown = line.clone();
                let mut args: Vec<OsString> = vec!["-c".into(), line.into(), self.name.into()];
                args.extend(self.args.iter().cloned());
                vec![("sh".into(), args, shown)]
            }
            Some(TaskRun::Argv(argvs)) => {
                let mut commands: Vec<(OsString, Vec<OsString>)> = argvs
                    .iter()
                    .filter_map(|argv| argv.split_first())
                    .map(|(program, rest)| {
                        (program.into(), rest.iter().map(OsString::from).collect())
                    })
                    .collect();
                if let Some((_, last)) = commands.last_mut() {
                    last.extend(self.args.iter().cloned());
                }
                commands
                    .into_iter()
                    .map(|(program, args)| {
                        let shown = display_command(&program, &args);
                        (program, args, shown)
                    })
                    .collect()
            }
        }
    }

    fn run_commands(&self, cx: &Context, dir: &Path) -> Result<()> {
        for (program, args, display) in self.commands() {
            cx.printer.detail(&format!("$ {display}"));
            let mut command = cx.runner.command_in(dir, &program, &args);
            for (key, value) in &self.config.env {
                command = command.env(key, value);
            }
            let status = cx
                .runner
                .run_attached(command, &display)
                .with_context(|| format!("cannot run `{display}` in {}", dir.display()))?;
            if !status.success() {
                let code = process::exit_code(status);
                return Err(TaskFailed {
                    command: display,
                    code,
                }
                .into());
            }
        }
        Ok(())
    }
}

impl Step for Task<'_> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("task", serde_json::to_string(self.config)?);
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        fingerprint.part("args", args.join(" "));
        for dep in IMPLICIT_DEPS
            .iter()
            .copied()
            .chain(self.config.deps.iter().map(String::as_str))
        {
            fingerprint.ran(&format!("dep {dep}"), cx.run_id(record_of(dep)));
        }
        if !self.config.sources.is_empty() {
            let files = cx.project_files()?;
            let sources = matching_sources(&files, &self.config.sources)?;
            cx.add_files(&mut fingerprint, &sources)?;
        }
        Ok(fingerprint)
    }

    fn run(&self, cx: &mut Context) -> Result<()> {
        let dir = task_dir(&cx.project.root, self.config);
        let state_dir = cx.project.state_dir();
        // The command runs without the lock (see `Lock::release`); the engine saved the
        // state on forgetting this task's record, so nothing takes it for fresh meanwhile.
        let before = saved_stamp(&state_dir);
        let mut lock = cx.lock.take();
        if let Some(lock) = &mut lock {
            lock.release()?;
        }
        let result = self.run_commands(cx, &dir);
        if let Some(lock) = &mut lock {
            lock.retake(cx.printer)?;
        }
        cx.lock = lock;
        if saved_stamp(&state_dir) != before {
            // Another pybuild (maybe one the task started) built meanwhile: its records
            // are the truth now.
            cx.state = State::load(&state_dir, cx.printer);
        }
        result
    }

    fn outputs(&self, cx: &mut Context) -> Result<Vec<String>> {
        expand_outputs(&cx.project.root, &self.config.outputs)
    }

    fn always_runs(&self) -> Option<&'static str> {
        (!self.config.has_freshness()).then_some("a task without sources or outputs always runs")
    }

    fn shows_output(&self) -> bool {
        true
    }
}

/// The project files `patterns` select: those matching a `pattern`, minus those matching
/// a `!pattern` (only `!pattern`s: every project file but those).
fn matching_sources(files: &[String], patterns: &[String]) -> Result<Vec<String>> {
    let (include, exclude) = fileset::split_patterns(patterns)?;
    Ok(files
        .iter()
        .filter(|f| include.as_ref().is_none_or(|set| set.is_match(f.as_str())))
        .filter(|f| exclude.as_ref().is_none_or(|set| !set.is_match(f.as_str())))
        .cloned()
        .collect())
}

/// The files `outputs` names, relative to the root: a plain path as it is (it must exist,
/// the engine checks), a directory as every file under it, a glob as the files it matches
/// under its literal prefix. Symlinks are not followed.
fn expand_outputs(root: &Path, outputs: &[String]) -> Result<Vec<String>> {
    let mut found = BTreeSet::new();
    for pattern in outputs {
        let is_glob = pattern.contains(['*', '?', '[', '{']);
        let base: String = if is_glob {
            let literal: Vec<&str> = pattern
                .split('/')
                .take_while(|part| !part.contains(['*', '?', '[', '{']))
                .collect();
            literal.join("/")
        } else {
            pattern.trim_end_matches('/').to_string()
        };
        let start = root.join(&base);
        if !is_glob && !start.is_dir() {
            found.insert(base);
            continue;
        }
        let matcher = globset::Glob::new(pattern)
            .with_context(|| format!("bad glob `{pattern}`"))?
            .compile_matcher();
        let walk = ignore::WalkBuilder::new(&start)
            .standard_filters(false)
            .follow_links(false)
            .build();
        for entry in walk {
            let entry = match entry {
                Ok(entry) => entry,
                // A glob whose literal prefix does not exist matches nothing.
                Err(_) if !start.exists() => break,
                Err(err) => {
                    return Err(err).with_context(|| format!("cannot list {}", start.display()));
                }
            };
            if entry.file_type().is_some_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            if !is_glob || matcher.is_match(&rel) {
                found.insert(rel);
            }
        }
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn config(tasks: &str) -> Config {
        let source = format!("[project]\nname = \"app\"\n\n{tasks}");
        Config::parse(Path::new("project.toml"), &source).unwrap()
    }

    fn names(config: &Config, target: &str) -> Vec<&'static str> {
        plan(config, target, &[])
            .unwrap()
            .iter()
            .map(|s| s.name())
            .collect()
    }

    #[test]
    fn deps_run_first_in_order_and_once() {
        let config = config(
            "[tasks.ci]\ndeps = [\"lint\", \"test\", \"bundle\"]\n\
             [tasks.lint]\nrun = \"flake8\"\n\
             [tasks.test]\nrun = \"pytest\"\ndeps = [\"setup\", \"lint\"]\n",
        );
        assert_eq!(
            names(&config, "ci"),
            [
                "check", "venv", "tools", "lint", "develop", "test", "bundle", "ci"
            ]
        );
        assert_eq!(names(&config, "lint"), ["check", "venv", "tools", "lint"]);
        assert_eq!(
            names(&config, "setup"),
            ["check", "venv", "tools", "develop"]
        );
        assert_eq!(names(&config, "check"), ["check"]);
    }

    #[test]
    fn a_chain_of_deps_deeper_than_the_stack_is_planned() {
        let depth = 50_000;
        let mut tasks = String::new();
        for i in 0..depth - 1 {
            tasks.push_str(&format!("[tasks.t{i}]\ndeps = [\"t{}\"]\n", i + 1));
        }
        tasks.push_str(&format!("[tasks.t{}]\nrun = \"true\"\n", depth - 1));
        let config = config(&tasks);
        let names = names(&config, "t0");
        assert_eq!(names.len(), depth + 3);
        assert_eq!(names[..4], ["check", "venv", "tools", "t49999"]);
        assert_eq!(names.last(), Some(&"t0"));
    }

    #[test]
    fn only_the_target_gets_the_extra_arguments() {
        let config = config(
            "[tasks.test]\nrun = [[\"echo\", \"a\"], [\"pytest\"]]\ndeps = [\"lint\"]\n\
             [tasks.lint]\nrun = \"flake8\"\n",
        );
        let extra = vec![OsString::from("-x")];
        let lint = Task {
            name: "lint",
            config: &config.tasks["lint"],
            args: Vec::new(),
        };
        assert_eq!(
            lint.commands(),
            [(
                "sh".into(),
                vec!["-c".into(), "flake8".into(), "lint".into()],
                "flake8".to_string()
            )]
        );
        let test = Task {
            name: "test",
            config: &config.tasks["test"],
            args: extra.clone(),
        };
        let commands = test.commands();
        assert_eq!(commands[0].0, "echo");
        assert_eq!(commands[0].1, ["a"]);
        assert_eq!(commands[1].0, "pytest");
        assert_eq!(commands[1].1, extra);
        assert_eq!(commands[1].2, "pytest -x");
        let lint = Task {
            args: extra,
            ..lint
        };
        assert_eq!(lint.commands()[0].1[1], "flake8 \"$@\"");
        assert_eq!(lint.commands()[0].1[3], "-x");
    }

    #[test]
    fn a_shell_line_using_its_arguments_is_left_alone() {
        let config = config("[tasks.t]\nrun = \"pytest \\\"$@\\\" tests\"\n");
        let task = Task {
            name: "t",
            config: &config.tasks["t"],
            args: vec!["-k".into(), "fast".into()],
        };
        assert_eq!(task.commands()[0].1[1], "pytest \"$@\" tests");
    }

    #[test]
    fn sources_select_project_files() {
        let files: Vec<String> = ["src/a.py", "src/gen/b.py", "tests/t.py", "README.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let pick = |patterns: &[&str]| {
            let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
            matching_sources(&files, &patterns).unwrap()
        };
        assert_eq!(pick(&["src/**/*.py"]), ["src/a.py", "src/gen/b.py"]);
        assert_eq!(pick(&["src/**/*.py", "!src/gen/**"]), ["src/a.py"]);
        assert_eq!(pick(&["!**/*.py"]), ["README.md"]);
    }

    #[test]
    fn outputs_expand_files_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["out/a.txt", "out/sub/b.txt", "out/c.log", "report.xml"] {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        let expand = |patterns: &[&str]| {
            let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
            expand_outputs(dir.path(), &patterns).unwrap()
        };
        assert_eq!(
            expand(&["report.xml", "missing.txt"]),
            ["missing.txt", "report.xml"]
        );
        assert_eq!(
            expand(&["out/"]),
            ["out/a.txt", "out/c.log", "out/sub/b.txt"]
        );
        assert_eq!(expand(&["out/**/*.txt"]), ["out/a.txt", "out/sub/b.txt"]);
        assert!(expand(&["nothing/*.txt"]).is_empty());
    }
}
