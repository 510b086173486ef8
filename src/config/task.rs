//! `[tasks.NAME]`: the user's own commands, their schema and the checks serde cannot make.
//!
//! A task has a one-line `help`, a `run` (a shell line, or a list of argv arrays), `deps`
//! (built-in steps or other tasks, run first), `sources`/`outputs` globs (skip when fresh),
//! `env` and `cwd`. [`validate`] refuses, pointing at the key: a name that is a built-in
//! command or step (`pybuild NAME` and `deps` would be ambiguous), a dep that names nothing,
//! a cycle of deps (named in full), a bad glob, and a path leaving the project.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use super::{ConfigError, is_inside, nearest};

/// The built-in steps a task may depend on, in pipeline order; `setup` is `develop` with
/// everything before it.
pub const STEPS: &[&str] = &["venv", "tools", "check", "develop", "bundle"];
pub const SETUP: &str = "setup";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TaskConfig {
    /// One line for `pybuild help`.
    pub help: Option<String>,
    /// What to run; a task with only `deps` groups other targets.
    pub run: Option<TaskRun>,
    #[serde(default)]
    pub deps: Vec<String>,
    /// Globs over the project's input files: `pattern` adds, `!pattern` removes.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Files (or globs, or directories) the task writes, relative to the root.
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the task runs, relative to the root. Default: the root.
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(
    untagged,
    expecting = "`run` must be a shell line (a string) or a list of argv arrays, e.g. [[\"pytest\", \"-x\"]]"
)]
pub enum TaskRun {
    /// Run with `sh -c`.
    Shell(String),
    /// Each argv run in turn, without a shell; the first failure stops the task.
    Argv(Vec<Vec<String>>),
}

impl TaskConfig {
    /// Whether the task can be skipped: with neither `sources` nor `outputs` it is like a
    /// make target without prerequisites, and runs every time.
    pub fn has_freshness(&self) -> bool {
        !self.sources.is_empty() || !self.outputs.is_empty()
    }
}

/// The names a task may not take: the built-in commands (and their aliases), the steps.
pub fn reserved_names() -> Vec<String> {
    let command = crate::cli::Cli::command();
    let mut names: Vec<String> = command
        .get_subcommands()
        .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
        .map(str::to_string)
        .collect();
    names.extend(STEPS.iter().chain(&[SETUP]).map(|s| s.to_string()));
    names.sort();
    names.dedup();
    names
}

pub(super) fn validate(
    tasks: &BTreeMap<String, TaskConfig>,
    path: &Path,
    source: &str,
) -> Result<(), ConfigError> {
    if tasks.is_empty() {
        return Ok(());
    }
    let fail = |task: &str, key: Option<&str>, message: String, hint: Option<String>| ConfigError {
        hint,
        ..ConfigError::at(path, source, task_span(source, task, key), message)
    };
    let reserved = reserved_names();
    for (name, task) in tasks {
        if reserved.contains(name) {
            return Err(fail(
                name,
                None,
                format!("task `{name}` has the name of a built-in command or step"),
                Some(format!(
                    "rename the task, e.g. `[tasks.{name}-task]`; taken names: {}",
                    reserved.join(", ")
                )),
            ));
        }
        if !is_task_name(name) {
            return Err(fail(
                name,
                None,
                format!(
                    "task name `{name}` must be letters, digits, `-` and `_`, not starting with `-`"
                ),
                None,
            ));
        }
        if task.run.is_none() && task.deps.is_empty() {
            return Err(fail(
                name,
                None,
                format!("task `{name}` has neither `run` nor `deps`: it would do nothing"),
                Some("add `run = \"a shell line\"`".into()),
            ));
        }
        if let Some(TaskRun::Argv(argvs)) = &task.run
            && (argvs.is_empty() || argvs.iter().any(Vec::is_empty))
        {
            return Err(fail(
                name,
                Some("run"),
                format!("`tasks.{name}.run` holds an empty command"),
                None,
            ));
        }
        for dep in &task.deps {
            let known = tasks.contains_key(dep) || STEPS.contains(&dep.as_str()) || dep == SETUP;
            if !known {
                let mut candidates: Vec<&str> = tasks.keys().map(String::as_str).collect();
                candidates.extend(STEPS.iter().chain(&[SETUP]));
                let hint = match nearest(dep, &candidates) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!(
                        "a dep is a step ({}, {SETUP}) or a task of this file",
                        STEPS.join(", ")
                    ),
                };
                return Err(fail(
                    name,
                    Some("deps"),
                    format!("`tasks.{name}.deps` names `{dep}`, which is no step or task"),
                    Some(hint),
                ));
            }
        }
        for (key, patterns) in [("sources", &task.sources), ("outputs", &task.outputs)] {
            for pattern in patterns {
                let glob = pattern.strip_prefix('!').unwrap_or(pattern);
                if let Err(err) = globset::Glob::new(glob) {
                    return Err(fail(
                        name,
                        Some(key),
                        format!("bad glob in `tasks.{name}.{key}`: {err}"),
                        None,
                    ));
                }
                if !is_inside(Path::new(glob)) {
                    return Err(fail(
                        name,
                        Some(key),
                        format!(
                            "`tasks.{name}.{key}` must stay inside the project, not `{pattern}`"
                        ),
                        None,
                    ));
                }
            }
        }
        if let Some(cwd) = &task.cwd
            && cwd != "."
            && !is_inside(Path::new(cwd))
        {
            return Err(fail(
                name,
                Some("cwd"),
                format!("`tasks.{name}.cwd` must be a directory inside the project, not `{cwd}`"),
                None,
            ));
        }
    }
    if let Some(cycle) = find_cycle(tasks) {
        return Err(fail(
            &cycle[0],
            Some("deps"),
            format!(
                "tasks depend on each other in a cycle: {}",
                cycle.join(" → ")
            ),
            Some("remove one of these deps".into()),
        ));
    }
    Ok(())
}

fn is_task_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A cycle among the tasks' deps, as the path that closes it (`a → b → a`), if any.
pub fn find_cycle(tasks: &BTreeMap<String, TaskConfig>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        tasks: &BTreeMap<String, TaskConfig>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| n == name).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            None => {}
        }
        let task = tasks.get(name)?;
        marks.insert(name.to_string(), Mark::Visiting);
        stack.push(name.to_string());
        for dep in &task.deps {
            if let Some(cycle) = visit(dep, tasks, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    tasks
        .keys()
        .find_map(|name| visit(name, tasks, &mut marks, &mut Vec::new()))
}

/// Where `tasks.NAME` (or its `key`) is written, for errors found after parsing. Falls back
/// to the task when the key is not found.
fn task_span(source: &str, task: &str, key: Option<&str>) -> Option<Range<usize>> {
    let document = DeTable::parse(source).ok()?;
    let tasks = match document.get_ref().get("tasks")?.get_ref() {
        DeValue::Table(tasks) => tasks,
        _ => return None,
    };
    let (name, value) = tasks.iter().find(|(name, _)| name.get_ref() == task)?;
    let key_span = key.and_then(|key| match value.get_ref() {
        DeValue::Table(table) => table
            .iter()
            .find(|(name, _)| name.get_ref() == key)
            .map(|(name, _)| name.span()),
        _ => None,
    });
    Some(key_span.unwrap_or_else(|| name.span()))
}

/// Where a task's commands run.
pub fn task_dir(root: &Path, task: &TaskConfig) -> PathBuf {
    match &task.cwd {
        Some(cwd) => root.join(cwd),
        None => root.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(tasks: &str) -> Result<Config, ConfigError> {
        let source = format!("[project]\nname = \"app\"\n\n{tasks}");
        Config::parse(Path::new("project.toml"), &source)
    }

    #[test]
    fn shell_line_and_argv_lists_parse() {
        let config = parse(
            "[tasks.lint]\nhelp = \"Lint\"\nrun = \"flake8 src\"\nsources = [\"src/**/*.py\"]\n\
             [tasks.test]\nrun = [[\"pytest\", \"-x\"], [\"echo\", \"ok\"]]\ndeps = [\"lint\", \"setup\"]\n\
             env = { A = \"1\" }\ncwd = \"tests\"\n",
        )
        .unwrap();
        let lint = &config.tasks["lint"];
        assert_eq!(lint.run, Some(TaskRun::Shell("flake8 src".into())));
        assert!(lint.has_freshness());
        let test = &config.tasks["test"];
        assert_eq!(
            test.run,
            Some(TaskRun::Argv(vec![
                vec!["pytest".into(), "-x".into()],
                vec!["echo".into(), "ok".into()]
            ]))
        );
        assert_eq!(test.deps, ["lint", "setup"]);
        assert!(!test.has_freshness());
    }

    #[test]
    fn run_of_the_wrong_shape_says_what_is_valid() {
        let err = parse("[tasks.lint]\nrun = [\"flake8\", \"src\"]\n").unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().0, 5);
        assert!(
            err.message.contains("list of argv arrays"),
            "{}",
            err.message
        );
    }

    #[test]
    fn misspelt_task_key_suggests() {
        let err = parse("[tasks.lint]\nrun = \"x\"\ndpes = []\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `deps`?"));
    }

    #[test]
    fn name_of_a_command_or_step_is_refused_at_its_header() {
        for name in ["bundle", "clean", "venv", "setup", "help"] {
            let err = parse(&format!("[tasks.{name}]\nrun = \"x\"\n")).unwrap_err();
            let (line, column, _) = err.location.clone().unwrap();
            assert_eq!((line, column), (4, 8), "{name}");
            assert!(err.message.contains("built-in"), "{}", err.message);
        }
    }

    #[test]
    fn unknown_dep_points_at_deps_and_suggests() {
        let err =
            parse("[tasks.lint]\nrun = \"x\"\n\n[tasks.test]\nrun = \"y\"\ndeps = [\"lnt\"]\n")
                .unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().0, 9);
        assert_eq!(err.hint.as_deref(), Some("did you mean `lint`?"));
        let err = parse("[tasks.a]\ndeps = [\"bundel\"]\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `bundle`?"));
    }

    #[test]
    fn cycles_are_named_in_full() {
        let err = parse(
            "[tasks.a]\ndeps = [\"b\"]\n[tasks.b]\ndeps = [\"setup\", \"c\"]\n[tasks.c]\ndeps = [\"a\"]\n",
        )
        .unwrap_err();
        assert!(err.message.ends_with("a → b → c → a"), "{}", err.message);
        assert_eq!(err.location.as_ref().unwrap().0, 5);
        let err = parse("[tasks.self]\nrun = \"x\"\ndeps = [\"self\"]\n").unwrap_err();
        assert!(err.message.ends_with("self → self"), "{}", err.message);
    }

    #[test]
    fn a_diamond_is_no_cycle() {
        let mut tasks = BTreeMap::new();
        for (name, deps) in [
            ("a", vec!["b", "c"]),
            ("b", vec!["d"]),
            ("c", vec!["d"]),
            ("d", vec![]),
        ] {
            let task = TaskConfig {
                deps: deps.into_iter().map(String::from).collect(),
                ..TaskConfig::default()
            };
            tasks.insert(name.to_string(), task);
        }
        assert_eq!(find_cycle(&tasks), None);
    }

    #[test]
    fn paths_must_stay_inside_and_globs_parse() {
        let err = parse("[tasks.a]\nrun = \"x\"\noutputs = [\"../out\"]\n").unwrap_err();
        assert!(
            err.message.contains("inside the project"),
            "{}",
            err.message
        );
        assert_eq!(err.location.as_ref().unwrap().0, 6);
        let err = parse("[tasks.a]\nrun = \"x\"\nsources = [\"src/[\"]\n").unwrap_err();
        assert!(err.message.contains("bad glob"), "{}", err.message);
        let err = parse("[tasks.a]\nrun = \"x\"\ncwd = \"/tmp\"\n").unwrap_err();
        assert!(err.message.contains("cwd"), "{}", err.message);
        parse("[tasks.a]\nrun = \"x\"\ncwd = \".\"\nsources = [\"!src/gen/**\", \"src/**\"]\n")
            .unwrap();
    }

    #[test]
    fn a_task_must_do_something() {
        let err = parse("[tasks.a]\nhelp = \"nothing\"\n").unwrap_err();
        assert!(
            err.message.contains("neither `run` nor `deps`"),
            "{}",
            err.message
        );
        let err = parse("[tasks.a]\nrun = [[]]\n").unwrap_err();
        assert!(err.message.contains("empty command"), "{}", err.message);
    }
}
