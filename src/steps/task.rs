//! A user's task (`[tasks.NAME]` in project.toml) as a step of the one engine.
//!
//! Its fingerprint is its configuration, the extra arguments it was given, and the content
//! of its `sources`; the engine adds when each of its deps last ran (a dep that ran again
//! makes it stale). Its outputs are the files its `outputs` match after it succeeded. So
//! it is fresh exactly when a step would be. A task with neither `sources` nor `outputs`
//! runs every time, like a make target without prerequisites. The user's commands write to
//! the terminal, not to a log, and the exit code of a failing one becomes pybuild's
//! ([`TaskFailed`]).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::base::config::TaskConfig;
use crate::base::config::TaskRun;
use crate::base::config::task::SETUP;
use crate::base::config::task::task_dir;
use crate::base::error::TaskFailed;
use crate::base::process::{self, display_command};
use crate::engine::fileset::patterns::split_patterns;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::{Kind, Step};
use crate::python::build::Build;

pub(crate) struct Task<'c> {
    pub(super) name: String,
    pub(super) config: &'c TaskConfig,
    pub(super) args: Vec<OsString>,
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
                let mut args: Vec<OsString> = vec!["-c".into(), line.into(), (&self.name).into()];
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

    fn run_commands(&self, cx: &Build, dir: &Path) -> Result<()> {
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

impl<'a> Step<Build<'a>> for Task<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> Kind {
        Kind::Task {
            always: !self.config.has_freshness(),
        }
    }

    fn deps(&self) -> Vec<String> {
        deps(self.config)
            .map(|dep| record_of(dep).to_string())
            .collect()
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("task config", serde_json::to_string(self.config)?);
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        fingerprint.part("task args", args.join(" "));
        if !self.config.sources.is_empty() {
            let files = cx.project_files()?;
            let sources = matching_sources(&files, &self.config.sources)?;
            cx.add_files(&mut fingerprint, &sources)?;
        }
        Ok(fingerprint)
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        let dir = task_dir(&cx.project.root, self.config);
        let ran = self.run_commands(cx, &dir);
        // The user's commands run in the venv, and may install into it.
        cx.venv_changed();
        ran?;
        expand_outputs(&cx.project.root, &self.config.outputs)
    }
}

/// What every task depends on: it runs inside the venv, usually with the dev tools.
const IMPLICIT_DEPS: &[&str] = &["venv", "tools"];

/// A task's deps, in order: the implicit ones, then its own.
pub(crate) fn deps(task: &TaskConfig) -> impl Iterator<Item = &str> {
    IMPLICIT_DEPS
        .iter()
        .copied()
        .chain(task.deps.iter().map(String::as_str))
}

/// The step whose record a dep's last run is kept under (`setup` is its last step).
pub(crate) fn record_of(dep: &str) -> &str {
    if dep == SETUP { "develop" } else { dep }
}

/// The project files `patterns` select: those matching a `pattern`, minus those matching
/// a `!pattern` (only `!pattern`s: every project file but those).
fn matching_sources(files: &[String], patterns: &[String]) -> Result<Vec<String>> {
    let (include, exclude) = split_patterns(patterns)?;
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
    use crate::base::config::Config;
    use std::fs;

    fn config(tasks: &str) -> Config {
        let source = format!("[project]\nname = \"app\"\n\n{tasks}");
        Config::parse(Path::new("project.toml"), &source).unwrap()
    }

    #[test]
    fn only_the_target_gets_the_extra_arguments() {
        let config = config(
            "[tasks.test]\nrun = [[\"echo\", \"a\"], [\"pytest\"]]\ndeps = [\"lint\"]\n\
             [tasks.lint]\nrun = \"flake8\"\n",
        );
        let extra = vec![OsString::from("-x")];
        let lint = Task {
            name: "lint".into(),
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
            name: "test".into(),
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
            name: "t".into(),
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
