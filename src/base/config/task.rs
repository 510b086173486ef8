//! `[tasks.NAME]`: the user's own commands, their schema and the checks serde cannot make.
//!
//! A task has a one-line `help`, a `run` (a shell line, or a list of argv arrays), `deps`
//! (built-in steps or other tasks, run first), `sources`/`outputs` globs (skip when fresh),
//! `env` and `cwd`. [`validate`] refuses, pointing at the key: a name that is a built-in
//! command or step (`pybuild NAME` and `deps` would be ambiguous), a dep that names nothing,
//! a cycle of deps (named in full), a bad glob, and a path leaving the project.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{At, Config, ConfigError, is_inside, nearest};

/// The built-in steps a task may depend on, in the order of their registry
/// (`steps::graph`); `setup` is `develop` with everything before it.
pub(crate) const STEPS: &[&str] = &[
    "check",
    "venv",
    "tools",
    "develop",
    "bundle",
    "image",
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
    "bundle",
    "check",
    "clean",
    "completions",
    "deploy",
    "help",
    "image",
    "init",
    "man",
    "run",
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

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let tasks = &config.tasks;
    if tasks.is_empty() {
        return Ok(());
    }
    let fail = |task: &str, place: Place, message: String, hint: Option<String>| {
        let at = match place {
            Place::Header => At::Key(&["tasks", task]),
            Place::Value(key) => At::Value(&["tasks", task, key]),
            Place::Item(key, index) => At::Item(&["tasks", task, key], index),
        };
        ConfigError {
            hint,
            ..config.error_at(at, message)
        }
    };
    let reserved = reserved_names();
    for (name, task) in tasks {
        if reserved.contains(name) {
            return Err(fail(
                name,
                Place::Header,
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
                Place::Header,
                format!(
                    "task name `{name}` must be letters, digits, `-` and `_`, not starting with `-`"
                ),
                None,
            ));
        }
        if task.run.is_none() && task.deps.is_empty() {
            return Err(fail(
                name,
                Place::Header,
                format!("task `{name}` has neither `run` nor `deps`: it would do nothing"),
                Some("add `run = \"a shell line\"`".into()),
            ));
        }
        if let Some(TaskRun::Argv(argvs)) = &task.run
            && (argvs.is_empty() || argvs.iter().any(Vec::is_empty))
        {
            return Err(fail(
                name,
                Place::Value("run"),
                format!("`tasks.{name}.run` holds an empty command"),
                None,
            ));
        }
        for (index, dep) in task.deps.iter().enumerate() {
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
                    Place::Item("deps", index),
                    format!("`tasks.{name}.deps` names `{dep}`, which is no step or task"),
                    Some(hint),
                ));
            }
        }
        for (key, patterns) in [("sources", &task.sources), ("outputs", &task.outputs)] {
            for (index, pattern) in patterns.iter().enumerate() {
                let glob = pattern.strip_prefix('!').unwrap_or(pattern);
                if let Err(err) = globset::Glob::new(glob) {
                    return Err(fail(
                        name,
                        Place::Item(key, index),
                        format!("bad glob in `tasks.{name}.{key}`: {err}"),
                        None,
                    ));
                }
                if !is_inside(Path::new(glob)) {
                    return Err(fail(
                        name,
                        Place::Item(key, index),
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
                Place::Value("cwd"),
                format!("`tasks.{name}.cwd` must be a directory inside the project, not `{cwd}`"),
                None,
            ));
        }
    }
    if let Some(cycle) = find_cycle(tasks) {
        // The cycle's first edge, as the message reads: `a → b` is `"b"` in a's deps.
        let index = tasks[&cycle[0]]
            .deps
            .iter()
            .position(|dep| *dep == cycle[1])
            .unwrap_or(0);
        return Err(fail(
            &cycle[0],
            Place::Item("deps", index),
            format!(
                "tasks depend on each other in a cycle: {}",
                show_cycle(&cycle)
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
///
/// Depth-first with a stack of its own: a chain of deps as long as the file allows (tens
/// of thousands of tasks) must not overflow the thread's stack.
pub(crate) fn find_cycle(tasks: &BTreeMap<String, TaskConfig>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::with_capacity(tasks.len());
    for root in tasks.keys() {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // The tasks being visited, each with how many of its deps were looked at.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::Visiting);
        while let Some((name, next)) = path.last_mut() {
            let Some(dep) = tasks[*name].deps.get(*next) else {
                marks.insert(name, Mark::Done);
                path.pop();
                continue;
            };
            *next += 1;
            // A step, or `setup`: no task, so no way back.
            let Some((dep, _)) = tasks.get_key_value(dep) else {
                continue;
            };
            match marks.get(dep.as_str()) {
                Some(Mark::Done) => {}
                Some(Mark::Visiting) => {
                    let start = path.iter().position(|(on, _)| on == dep).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|(on, _)| on.to_string()).collect();
                    cycle.push(dep.clone());
                    return Some(cycle);
                }
                None => {
                    marks.insert(dep, Mark::Visiting);
                    path.push((dep, 0));
                }
            }
        }
    }
    None
}

/// A cycle as `a → b → a`; a long one with its middle left out, so that the message stays
/// a line whatever the file holds.
fn show_cycle(cycle: &[String]) -> String {
    const ENDS: usize = 4;
    if cycle.len() <= 3 * ENDS {
        return cycle.join(" → ");
    }
    let left_out = cycle.len() - 2 * ENDS;
    format!(
        "{} → … {left_out} more … → {}",
        cycle[..ENDS].join(" → "),
        cycle[cycle.len() - ENDS..].join(" → ")
    )
}

/// What of a task an error points at.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// `[tasks.NAME]`.
    Header,
    /// The value of a key of the task.
    Value(&'a str),
    /// The item of a list key (`deps`, `sources`) at this index.
    Item(&'a str, usize),
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
    use crate::base::config::Config;

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
    fn a_bad_dep_is_pointed_at_where_the_list_holds_it() {
        let err = parse("[tasks.lint]\nrun = \"x\"\n[tasks.a]\nrun = \"y\"\ndeps = [\n  \"setup\",\n  \"lnt\",\n]\n")
            .unwrap_err();
        let (line, column, text) = err.location.clone().unwrap();
        assert_eq!((line, column, text.as_str()), (10, 3, "  \"lnt\","));
        let err =
            parse("[tasks]\na = { run = \"x\", deps = [\"b\"] }\nb.deps = [\"setup\", \"a\"]\n")
                .unwrap_err();
        let (line, column, _) = err.location.clone().unwrap();
        assert_eq!((line, column), (5, 26), "{}", err.message);
    }

    /// A chain this deep overflowed the stack when the checks recursed.
    fn chain(depth: usize, last: &str) -> String {
        let mut source = String::new();
        for i in 0..depth - 1 {
            source.push_str(&format!("[tasks.t{i}]\ndeps = [\"t{}\"]\n", i + 1));
        }
        source.push_str(&format!("[tasks.t{}]\n{last}\n", depth - 1));
        source
    }

    #[test]
    fn a_deep_chain_is_checked_and_its_cycle_located() {
        parse(&chain(50_000, "run = \"true\"")).unwrap();
        let err = parse(&chain(50_000, "deps = [\"t0\"]")).unwrap_err();
        assert!(
            err.message
                .ends_with("t0 → t1 → t2 → t3 → … 49993 more … → t49997 → t49998 → t49999 → t0"),
            "{}",
            err.message
        );
        let (line, column, _) = err.location.clone().unwrap();
        assert_eq!((line, column), (5, 9));
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
