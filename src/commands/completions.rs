//! Shell completion through clap_complete's dynamic engine: the script that
//! `pybuild completions SHELL` prints only registers a hook, and at every Tab the shell
//! runs pybuild again with `COMPLETE=SHELL` and the words typed so far. pybuild answers
//! from clap's definition of its command line plus the tasks of the project.toml it finds
//! then (around the shell's directory, or `-C DIR`'s), so a task added after the script
//! was made completes at once, and so do the targets of `status`, `watch`, `run` and
//! `help`. A project.toml that does not load completes the built-in commands, silently:
//! a warning would land in the middle of the command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{CompleteEnv, Shells};

use crate::base::config::TaskConfig;
use crate::base::config::task::{SETUP, STEPS};
use crate::base::project::Project;
use crate::base::ui::printable;
use crate::commands::cli::Cli;

/// The variable that tells pybuild a shell wants completions, and which shell.
const VAR: &str = "COMPLETE";

/// Answers a shell asking for completions, then exits; returns when none asks.
pub(crate) fn answer() {
    CompleteEnv::with_factory(|| command(&tasks()))
        .var(VAR)
        .complete();
}

/// Prints the script that registers the completion hook for `shell`.
pub(crate) fn print(shell: Shell) -> Result<()> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let registration = shells
        .completer(&name)
        .with_context(|| format!("no dynamic completion for {name}"))?;
    // The hook runs pybuild as it was run now: by name on PATH, or by this path.
    let program = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| "pybuild".into());
    let program = match program.components().count() > 1 {
        true => std::env::current_dir()
            .map(|dir| dir.join(&program))
            .unwrap_or(program),
        false => program,
    };
    let mut script = Vec::new();
    registration
        .write_registration(
            VAR,
            "pybuild",
            "pybuild",
            &program.to_string_lossy(),
            &mut script,
        )
        .context("cannot write the completion script")?;
    std::io::Write::write_all(&mut std::io::stdout(), &script)
        .context("cannot write the completion script")
}

/// The command line as completion sees it: the built-in commands, one subcommand per task,
/// and the names each command's targets can take.
fn command(tasks: &BTreeMap<String, TaskConfig>) -> clap::Command {
    let candidates = |names: Vec<(String, String)>| {
        ArgValueCandidates::new(move || {
            names
                .iter()
                .map(|(name, help)| CompletionCandidate::new(name).help(Some(help.into())))
                .collect::<Vec<_>>()
        })
    };
    let task_names: Vec<(String, String)> = tasks
        .iter()
        .map(|(name, task)| (name.clone(), about(task)))
        .collect();
    let mut targets: Vec<(String, String)> = std::iter::once(SETUP)
        .chain(STEPS.iter().copied())
        .map(|name| (name.to_string(), "built-in step".to_string()))
        .collect();
    targets.extend(task_names.iter().cloned());
    let mut topics: Vec<(String, String)> = Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| {
            (
                c.get_name().to_string(),
                c.get_about().map(|a| a.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    topics.extend(task_names.iter().cloned());

    let mut command = Cli::command()
        .mut_subcommand("status", |c| {
            c.mut_arg("targets", |a| a.add(candidates(targets.clone())))
        })
        .mut_subcommand("watch", |c| {
            c.mut_arg("targets", |a| a.add(candidates(targets.clone())))
        })
        .mut_subcommand("run", |c| {
            c.mut_arg("task", |a| a.add(candidates(task_names.clone())))
        })
        .mut_subcommand("help", |c| {
            c.mut_arg("topic", |a| a.add(candidates(topics)))
        });
    for (name, help) in task_names {
        command = command.subcommand(clap::Command::new(name).about(help));
    }
    command
}

fn about(task: &TaskConfig) -> String {
    printable(task.help.as_deref().unwrap_or("(undocumented task)")).into_owned()
}

/// The tasks of the project the words being completed are about: `-C DIR`'s, else the
/// shell's directory's; none when there is no project.toml or it does not load.
fn tasks() -> BTreeMap<String, TaskConfig> {
    let words: Vec<OsString> = std::env::args_os()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .collect();
    let dir = project_option(&words)
        .or_else(|| std::env::var_os("PYBUILD_PROJECT").map(PathBuf::from))
        .or_else(|| std::env::current_dir().ok());
    dir.and_then(|dir| Project::discover(&dir).ok())
        .map(|project| project.config.tasks)
        .unwrap_or_default()
}

/// The value of `-C DIR`, `-CDIR`, `--project DIR` or `--project=DIR` among `words`.
fn project_option(words: &[OsString]) -> Option<PathBuf> {
    let mut found = None;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let Some(text) = word.to_str() else { continue };
        found = match text {
            "--" => break,
            "-C" | "--project" => words.next().map(PathBuf::from),
            _ => text
                .strip_prefix("--project=")
                .or_else(|| text.strip_prefix("-C"))
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
        }
        .or(found);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<OsString> {
        text.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_project_option_is_found_in_every_spelling() {
        for line in [
            "pybuild -C web st",
            "pybuild -Cweb st",
            "pybuild --project web st",
            "pybuild --project=web st",
            "pybuild -v -C other -C web st",
        ] {
            assert_eq!(project_option(&words(line)), Some("web".into()), "{line}");
        }
        assert_eq!(project_option(&words("pybuild lint -- -C web")), None);
        assert_eq!(project_option(&words("pybuild -C")), None);
    }

    #[test]
    fn tasks_are_commands_and_targets() {
        let config = crate::base::config::Config::parse(
            std::path::Path::new("project.toml"),
            "[project]\nname = \"a\"\n[tasks.lint]\nhelp = \"Check\"\nrun = \"flake8\"\n",
        )
        .unwrap();
        let mut command = command(&config.tasks);
        command.build();
        let lint = command.find_subcommand("lint").unwrap();
        assert_eq!(lint.get_about().unwrap().to_string(), "Check");
    }
}
