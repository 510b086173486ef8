//! `pybuild help`: every command and every task of project.toml with its one-line
//! description, grouped and aligned, the way `make help` listed a Makefile's targets;
//! `pybuild help NAME` for the details of one, the same text as `pybuild NAME --help`
//! (clap's help of the command, or the task's details, with the global options either
//! way); `--json` for machines (see [`VERSION`]).
//!
//! Help never needs a working project: without a project.toml it lists the built-in
//! commands; with one that does not load it lists them too, after a warning.
//!
//! What project.toml says is shown with its control characters escaped (a description
//! holding `\u001b[2J` must not clear the screen) and the credentials of its URLs masked;
//! `--json` gives it as written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;

use crate::base::config::{TaskConfig, TaskRun};
use crate::base::error::UserError;
use crate::base::project::Project;
use crate::base::redact::redact;
use crate::base::ui::{Printer, Style, printable};
use crate::commands::cli::Cli;

const GROUPS: &[(&str, &[&str])] = &[
    (
        "Build",
        &["bundle", "setup", "check", "watch", "status", "affected"],
    ),
    ("Ship", &["image", "sbom", "push", "deploy"]),
    ("Project", &["init", "run", "clean"]),
    ("Other", &["cache", "help", "completions", "man"]),
];

const UNDOCUMENTED: &str = "(undocumented)";

/// The version of `help --json`'s schema: raised when a key is renamed or removed, or
/// changes meaning; keys may be added without it.
pub(crate) const VERSION: u32 = 1;

/// What `pybuild help` was asked for.
#[derive(Debug, Default)]
pub(crate) struct Request {
    pub(crate) topic: Option<String>,
    pub(crate) json: bool,
    pub(crate) names: bool,
}

pub(crate) fn show(dir: &Path, printer: &Printer, request: &Request) -> Result<()> {
    let tasks = project_tasks(dir, printer);
    let stdout = printer.for_stdout();
    let text = match (&request.topic, request.json, request.names) {
        (_, _, true) => names(&tasks).into_iter().map(|n| n + "\n").collect(),
        (None, true, _) => format!("{}\n", serde_json::to_string_pretty(&json(&tasks))?),
        (Some(name), true, _) => {
            format!(
                "{}\n",
                serde_json::to_string_pretty(&topic_json(name, &tasks)?)?
            )
        }
        (None, false, _) => redact(&overview(&stdout, &tasks)).into_owned(),
        (Some(name), false, _) => redact(&topic(&stdout, name, &tasks)?).into_owned(),
    };
    print!("{text}");
    Ok(())
}

/// The tasks of the project around `dir`: none without a project.toml, none and a warning
/// when it does not load.
pub(crate) fn project_tasks(dir: &Path, printer: &Printer) -> BTreeMap<String, TaskConfig> {
    match Project::discover(dir) {
        Ok(project) => project.config.tasks,
        Err(err) if err.downcast_ref::<UserError>().is_some() => BTreeMap::new(),
        Err(err) => {
            printer.warn(&format!(
                "the tasks of project.toml are not shown: {}",
                crate::base::error::render(&err)
                    .trim_end()
                    .trim_start_matches("error: ")
            ));
            BTreeMap::new()
        }
    }
}

/// The commands and the tasks, one-line each, for completion scripts.
pub(crate) fn names(tasks: &BTreeMap<String, TaskConfig>) -> Vec<String> {
    let command = Cli::command();
    let mut names: Vec<String> = GROUPS
        .iter()
        .flat_map(|(_, names)| names.iter().map(|n| n.to_string()))
        .collect();
    names.extend(command.get_subcommands().map(|c| c.get_name().to_string()));
    names.extend(tasks.keys().cloned());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

fn about(name: &str) -> String {
    Cli::command()
        .find_subcommand(name)
        .and_then(|c| c.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default()
}

pub(crate) fn overview(printer: &Printer, tasks: &BTreeMap<String, TaskConfig>) -> String {
    let command = Cli::command();
    let mut out = String::from(
        "pybuild: build a Python application into one runnable file, driven by project.toml\n\n\
         Usage: pybuild [OPTIONS] <COMMAND>\n       pybuild [OPTIONS] <TASK> [-- ARGS]\n",
    );
    let width = command
        .get_subcommands()
        .map(|c| c.get_name().len())
        .chain(tasks.keys().map(String::len))
        .max()
        .unwrap_or(0);
    for (group, names) in GROUPS {
        let _ = writeln!(out, "\n{}:", printer.paint(group, Style::Bold));
        for name in *names {
            let _ = writeln!(out, "  {name:width$}  {}", about(name));
        }
    }
    if !tasks.is_empty() {
        let _ = writeln!(
            out,
            "\n{} (project.toml):",
            printer.paint("Tasks", Style::Bold)
        );
        for (name, task) in tasks {
            // Pad before painting: escape codes would count in the width.
            let shown = printer.paint(&format!("{name:width$}"), Style::Green);
            let help = match &task.help {
                Some(help) => printable(help).into_owned(),
                None => printer.paint(UNDOCUMENTED, Style::Dim),
            };
            let _ = writeln!(out, "  {shown}  {help}");
        }
    }
    out.push_str(&global_options(printer));
    out.push_str("\nRun `pybuild help NAME` for a command's options or a task's details.\n");
    out
}

/// The global options, each with its environment twin, as an `Options:` section.
fn global_options(printer: &Printer) -> String {
    let mut out = format!("\n{}:\n", printer.paint("Options", Style::Bold));
    for arg in Cli::command().get_arguments().filter(|a| !a.is_hide_set()) {
        let mut flags = match arg.get_short() {
            Some(short) => format!("-{short}, "),
            None => "    ".into(),
        };
        if let Some(long) = arg.get_long() {
            flags.push_str(&format!("--{long}"));
        }
        if arg.get_action().takes_values()
            && let Some(value) = arg.get_value_names().and_then(|names| names.first())
        {
            flags.push_str(&format!(" <{value}>"));
        }
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let env = arg
            .get_env()
            .map(|env| format!(" [env: {}]", env.to_string_lossy()))
            .unwrap_or_default();
        let _ = writeln!(out, "  {flags:19}  {help}{env}");
    }
    out
}

/// `pybuild help NAME`, which is also what `pybuild NAME --help` shows: clap's help of
/// the command, or of a command made for the task, with the global options either way.
pub(crate) fn topic(
    printer: &Printer,
    name: &str,
    tasks: &BTreeMap<String, TaskConfig>,
) -> Result<String> {
    let mut command = Cli::command();
    if let Some(task) = tasks.get(name) {
        command = command.subcommand(task_command(name, task));
    } else if command.find_subcommand(name).is_none() {
        return Err(no_topic(name, tasks).into());
    }
    // What parsing `pybuild NAME --help` gives, so the two cannot differ.
    let help = match command.try_get_matches_from(["pybuild", name, "--help"]) {
        Err(shown) if shown.kind() == clap::error::ErrorKind::DisplayHelp => shown.render(),
        _ => return Err(no_topic(name, tasks).into()),
    };
    Ok(match printer.colors() {
        true => help.ansi().to_string(),
        false => help.to_string(),
    })
}

fn no_topic(name: &str, tasks: &BTreeMap<String, TaskConfig>) -> UserError {
    let all = names(tasks);
    let candidates: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut err = UserError::usage(format!("no command or task `{name}`"));
    if let Some(best) = crate::base::config::nearest(name, &candidates) {
        err = err.hint(format!("did you mean `{best}`?"));
    }
    err.hint("`pybuild help` lists the commands and the tasks")
}

/// A task as a command, for its help page: its `help`, its extra arguments, and what
/// project.toml says of it after the options.
fn task_command(name: &str, task: &TaskConfig) -> clap::Command {
    clap::Command::new(name.to_string())
        .about(printable(task.help.as_deref().unwrap_or(UNDOCUMENTED)).into_owned())
        .arg(
            clap::Arg::new("args")
                .value_name("ARGS")
                .num_args(0..)
                .last(true)
                .help(format!(
                    "Extra arguments for the task's command (or `pybuild run {name} -- ARGS`)"
                )),
        )
        .after_help(task_details(task))
}

fn task_details(task: &TaskConfig) -> String {
    let mut out = String::new();
    let list = |items: &[String]| items.join(", ");
    // Every value comes from project.toml.
    let mut field = |key: &str, value: String| {
        let _ = writeln!(out, "{key:9} {}", printable(&value));
    };
    match &task.run {
        Some(TaskRun::Shell(line)) => field("run", format!("sh -c {line:?}")),
        Some(TaskRun::Argv(argvs)) => {
            let lines: Vec<String> = argvs.iter().map(|argv| argv.join(" ")).collect();
            field("run", lines.join("\n          "));
        }
        None => field("run", "nothing of its own: its deps".into()),
    }
    let mut deps = task.deps.clone();
    deps.insert(0, "(venv, tools)".into());
    field("deps", list(&deps));
    if task.has_freshness() {
        field("sources", list(&task.sources));
        field("outputs", list(&task.outputs));
    } else {
        field(
            "fresh",
            "never: without sources or outputs it runs every time".into(),
        );
    }
    if !task.env.is_empty() {
        let env: Vec<String> = task.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        field("env", env.join(" "));
    }
    field("cwd", task.cwd.clone().unwrap_or_else(|| ".".into()));
    out
}

pub(crate) fn json(tasks: &BTreeMap<String, TaskConfig>) -> serde_json::Value {
    let commands: Vec<_> = GROUPS
        .iter()
        .flat_map(|(group, names)| {
            names.iter().map(
                move |name| serde_json::json!({"name": name, "group": group, "help": about(name)}),
            )
        })
        .collect();
    let tasks: Vec<_> = tasks
        .iter()
        .map(|(name, task)| task_json(name, task))
        .collect();
    serde_json::json!({"version": VERSION, "commands": commands, "tasks": tasks})
}

fn task_json(name: &str, task: &TaskConfig) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "help": task.help,
        "run": task.run,
        "deps": task.deps,
        "sources": task.sources,
        "outputs": task.outputs,
        "env": task.env,
        "cwd": task.cwd,
    })
}

/// `help --json NAME`: the same object as without NAME, holding only that command or task.
fn topic_json(name: &str, tasks: &BTreeMap<String, TaskConfig>) -> Result<serde_json::Value> {
    let (commands, tasks) = match tasks.get(name) {
        Some(task) => (vec![], vec![task_json(name, task)]),
        None => {
            let group = GROUPS
                .iter()
                .find(|(_, names)| names.contains(&name))
                .map(|(group, _)| *group)
                .ok_or_else(|| no_topic(name, tasks))?;
            let command = serde_json::json!({"name": name, "group": group, "help": about(name)});
            (vec![command], vec![])
        }
    };
    Ok(serde_json::json!({"version": VERSION, "commands": commands, "tasks": tasks}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> BTreeMap<String, TaskConfig> {
        let config = crate::base::config::Config::parse(
            Path::new("project.toml"),
            "[project]\nname = \"a\"\n[tasks.lint]\nhelp = \"Check the code\"\nrun = \"flake8\"\n\
             sources = [\"src/**\"]\n[tasks.docs-long-name]\nrun = [[\"mkdocs\", \"build\"]]\n",
        )
        .unwrap();
        config.tasks
    }

    #[test]
    fn overview_lists_every_command() {
        let text = overview(&Printer::silent(), &BTreeMap::new());
        for command in Cli::command().get_subcommands() {
            assert!(text.contains(command.get_name()), "{}", command.get_name());
        }
        let listed: usize = GROUPS.iter().map(|(_, names)| names.len()).sum();
        assert_eq!(listed, Cli::command().get_subcommands().count());
        assert!(!text.contains("Tasks"));
    }

    #[test]
    fn overview_aligns_tasks_with_commands_and_marks_undocumented() {
        let text = overview(&Printer::silent(), &tasks());
        assert!(text.contains("\nTasks (project.toml):\n"), "{text}");
        assert!(
            text.contains("  lint            Check the code\n"),
            "{text}"
        );
        assert!(
            text.contains("  docs-long-name  (undocumented)\n"),
            "{text}"
        );
        assert!(text.contains("  bundle          Everything"), "{text}");
    }

    #[test]
    fn topic_of_a_task_shows_run_deps_sources() {
        let text = topic(&Printer::silent(), "lint", &tasks()).unwrap();
        assert!(text.starts_with("Check the code\n"), "{text}");
        assert!(
            text.contains("Usage: pybuild lint [OPTIONS] [-- [ARGS]...]\n"),
            "{text}"
        );
        assert!(text.contains("[env: PYBUILD_OFFLINE=]"), "{text}");
        assert!(text.contains("run       sh -c \"flake8\"\n"), "{text}");
        assert!(text.contains("sources   src/**\n"), "{text}");
        let text = topic(&Printer::silent(), "docs-long-name", &tasks()).unwrap();
        assert!(text.contains("run       mkdocs build\n"), "{text}");
        assert!(text.contains("runs every time"), "{text}");
    }

    #[test]
    fn what_project_toml_says_is_shown_escaped() {
        let config = crate::base::config::Config::parse(
            Path::new("project.toml"),
            "[project]\nname = \"a\"\n[tasks.cls]\nhelp = \"x\\u001b[2Jy\"\n\
             run = [[\"printf\", \"\\u001b]0;title\\u0007\"]]\nenv = { A = \"\\u001bc\" }\n",
        )
        .unwrap();
        let overview = overview(&Printer::silent(), &config.tasks);
        assert!(
            overview.contains("  cls") && overview.contains("x\\u{1b}[2Jy\n"),
            "{overview}"
        );
        let details = topic(&Printer::silent(), "cls", &config.tasks).unwrap();
        assert!(details.starts_with("x\\u{1b}[2Jy\n"), "{details}");
        assert!(
            details.contains("printf \\u{1b}]0;title\\u{7}\n"),
            "{details}"
        );
        assert!(details.contains("A=\\u{1b}c\n"), "{details}");
        assert!(!overview.contains('\u{1b}') && !details.contains('\u{1b}'));
    }

    #[test]
    fn unknown_topic_suggests_commands_and_tasks() {
        let err = topic(&Printer::silent(), "bundel", &tasks()).unwrap_err();
        let user = err.downcast_ref::<UserError>().unwrap();
        assert_eq!(user.hints[0], "did you mean `bundle`?");
        let err = topic(&Printer::silent(), "lnt", &tasks()).unwrap_err();
        let user = err.downcast_ref::<UserError>().unwrap();
        assert_eq!(user.hints[0], "did you mean `lint`?");
    }

    #[test]
    fn json_and_names_hold_commands_and_tasks() {
        let value = json(&tasks());
        assert_eq!(value["version"], VERSION);
        assert_eq!(value["commands"][0]["name"], "bundle");
        assert_eq!(value["tasks"][1]["name"], "lint");
        assert_eq!(value["tasks"][1]["run"], "flake8");
        assert_eq!(value["tasks"][0]["help"], serde_json::Value::Null);
        let names = names(&tasks());
        assert!(names.contains(&"clean".to_string()) && names.contains(&"lint".to_string()));
    }
}
