//! The checks of `[tasks]` that serde's types cannot make. Each refuses, pointing at the
//! key: a name that is a built-in command or step (`pybuild NAME` and `deps` would be
//! ambiguous), a task that does nothing, an empty command, a dep that names nothing, a
//! cycle of deps (named in full, see `cycle`), a bad glob, and a path leaving the project.

use std::path::Path;

use super::cycle::{find_cycle, show_cycle};
use super::error::{ConfigError, nearest};
use super::schema::Config;
use super::source::At;
use super::task::{SETUP, STEPS, TaskRun, reserved_names};
use super::validate::is_inside;

/// Refuses the first bad task, at its place in project.toml.
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

#[cfg(test)]
mod tests {

    use crate::base::config::load::parse_tasks as parse;

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
