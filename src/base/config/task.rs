//! `[tasks.NAME]`: the user's own commands, as project.toml states them, and the names a
//! task may not take.
//!
//! A task has a one-line `help`, a `run` (a shell line, or a list of argv arrays), `deps`
//! (built-in steps or other tasks, run first), `sources`/`outputs` globs (skip when fresh),
//! `env` and `cwd`. What serde cannot check is in `task_check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The built-in steps a task may depend on, in the order of their registry
/// (`steps::graph`); `setup` is `develop` with everything before it.
pub(crate) const STEPS: &[&str] = &[
    "check",
    "venv",
    "tools",
    "develop",
    "bundle",
    "image",
    "sbom",
    "push",
    "deploy-marathon",
    "deploy-kubernetes",
    "deploy-spark",
];
pub(crate) const SETUP: &str = "setup";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct TaskConfig {
    /// One line for `pybuild help`.
    pub(crate) help: Option<String>,
    /// What to run; a task with only `deps` groups other targets.
    pub(crate) run: Option<TaskRun>,
    #[serde(default)]
    pub(crate) deps: Vec<String>,
    /// Globs over the project's input files: `pattern` adds, `!pattern` removes.
    #[serde(default)]
    pub(crate) sources: Vec<String>,
    /// Files (or globs, or directories) the task writes, relative to the root.
    #[serde(default)]
    pub(crate) outputs: Vec<String>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Where the task runs, relative to the root. Default: the root.
    pub(crate) cwd: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(
    untagged,
    expecting = "`run` must be a shell line (a string) or a list of argv arrays, e.g. [[\"pytest\", \"-x\"]]"
)]
pub(crate) enum TaskRun {
    /// Run with `sh -c`.
    Shell(String),
    /// Each argv run in turn, without a shell; the first failure stops the task.
    Argv(Vec<Vec<String>>),
}

impl TaskConfig {
    /// Whether the task can be skipped: with neither `sources` nor `outputs` it is like a
    /// make target without prerequisites, and runs every time.
    pub(crate) fn has_freshness(&self) -> bool {
        !self.sources.is_empty() || !self.outputs.is_empty()
    }
}

/// The built-in commands and their aliases (`commands::cli` checks that this is its list).
pub(crate) const COMMANDS: &[&str] = &[
    "affected",
    "bundle",
    "cache",
    "check",
    "clean",
    "completions",
    "deploy",
    "help",
    "image",
    "init",
    "man",
    "push",
    "run",
    "sbom",
    "setup",
    "status",
    "watch",
];

/// The names a task may not take: the built-in commands (and their aliases), the steps.
pub(crate) fn reserved_names() -> Vec<String> {
    let mut names: Vec<String> = (COMMANDS.iter().chain(STEPS).chain(&[SETUP]))
        .map(|s| s.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Where a task's commands run.
pub(crate) fn task_dir(root: &Path, task: &TaskConfig) -> PathBuf {
    match &task.cwd {
        Some(cwd) => root.join(cwd),
        None => root.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::base::config::load::parse_tasks as parse;

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
}
