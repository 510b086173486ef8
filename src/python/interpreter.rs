//! Finding the interpreter `project.toml` asks for, and knowing its version without
//! running it on every build.
//!
//! `[project] python` is a version (`3.11` → `python3.11` on PATH), a command name, or a
//! path; unset means `python3`. The first time a binary is seen, it is asked for its real
//! executable (pyenv shims and symlinks resolve to it) and its version; the answer is kept
//! in the state keyed by the stat data of both the binary found and the real one, so a
//! no-op build starts no process, and an interpreter upgraded in place is asked again.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::args;
use crate::base::error::UserError;
use crate::base::process::Runner;
use crate::engine::statcache::FileStat;
use crate::engine::state::BinaryProbe;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interpreter {
    /// The real executable, symlinks and shims resolved.
    pub(crate) path: PathBuf,
    /// `major.minor.micro`.
    pub(crate) version: String,
}

impl Interpreter {
    /// `major.minor`, as in `lib/pythonX.Y/site-packages`.
    pub(crate) fn short_version(&self) -> &str {
        let mut dots = self.version.match_indices('.');
        match dots.nth(1) {
            Some((i, _)) => &self.version[..i],
            None => &self.version,
        }
    }

    /// How the interpreter appears in fingerprints.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.version, self.path.display())
    }
}

/// Resolves `request` (from `[project] python`) to an interpreter.
pub(crate) fn find(
    request: Option<&str>,
    root: &Path,
    cache: &mut BTreeMap<String, BinaryProbe>,
    learned: &mut bool,
    runner: &Runner,
) -> Result<Interpreter> {
    let found = locate(request, root)?;
    let key = found.to_string_lossy().into_owned();
    let found_stat = stat(&found)?;
    if let Some(record) = cache.get(&key)
        && record.found_stat == found_stat
        && stat(&record.real).ok() == Some(record.real_stat)
    {
        return check_version(request, record.real.clone(), record.version.clone());
    }
    let (real, version) = query(&found, runner)?;
    *learned = true;
    cache.insert(
        key,
        BinaryProbe {
            found_stat,
            real_stat: stat(&real)?,
            real: real.clone(),
            version: version.clone(),
        },
    );
    check_version(request, real, version)
}

/// Asks the venv's own interpreter, for the venv step's check after creating it.
pub(crate) fn query(python: &Path, runner: &Runner) -> Result<(PathBuf, String)> {
    const SCRIPT: &str = "import os, sys\n\
        print(os.path.realpath(sys.executable))\n\
        print('%d.%d.%d' % sys.version_info[:3])";
    let out = runner
        .capture(python, &args!["-c", SCRIPT])
        .with_context(|| format!("cannot run the interpreter {}", python.display()))?;
    let mut lines = out.lines();
    match (lines.next(), lines.next()) {
        (Some(real), Some(version)) => Ok((PathBuf::from(real), version.trim().to_string())),
        _ => anyhow::bail!(
            "{} did not say what it is (printed {out:?})",
            python.display()
        ),
    }
}

fn check_version(request: Option<&str>, path: PathBuf, version: String) -> Result<Interpreter> {
    if let Some(wanted) = request.filter(|r| is_version(r))
        && version != wanted
        && !version.starts_with(&format!("{wanted}."))
    {
        return Err(UserError::usage(format!(
            "`[project] python = \"{wanted}\"` in project.toml, but {} is Python {version}",
            path.display()
        ))
        .into());
    }
    Ok(Interpreter { path, version })
}

fn is_version(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The binary the request names, without running anything.
fn locate(request: Option<&str>, root: &Path) -> Result<PathBuf> {
    let request = request.unwrap_or("python3");
    let command = if is_version(request) {
        format!("python{request}")
    } else {
        request.to_string()
    };
    let found = if command.contains('/') {
        let path = root.join(&command);
        path.is_file().then_some(path)
    } else {
        which::which(&command).ok()
    };
    found.ok_or_else(|| {
        let mut err = UserError::usage(format!(
            "no Python interpreter for `[project] python = \"{request}\"` in project.toml: `{command}` {}",
            if command.contains('/') { "does not exist" } else { "is not on PATH" }
        ));
        let available = pythons_on_path();
        if !available.is_empty() {
            err = err.hint(format!("interpreters on PATH: {}", available.join(", ")));
        }
        err.hint("set `[project] python` to a version (\"3.11\") or a path to an interpreter")
            .into()
    })
}

/// `python3.X` commands on PATH, for the error when the requested one is missing.
fn pythons_on_path() -> Vec<String> {
    let mut names: Vec<String> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.strip_prefix("python3.")
                .is_some_and(|minor| !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn stat(path: &Path) -> Result<FileStat> {
    let meta = fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    Ok(FileStat::of(&meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_version_drops_micro() {
        let python = Interpreter {
            path: PathBuf::from("/usr/bin/python3"),
            version: "3.11.7".into(),
        };
        assert_eq!(python.short_version(), "3.11");
    }

    #[test]
    fn requested_version_must_match() {
        assert!(check_version(Some("3.11"), "/p".into(), "3.11.7".into()).is_ok());
        assert!(check_version(Some("3.11.7"), "/p".into(), "3.11.7".into()).is_ok());
        assert!(check_version(Some("3.1"), "/p".into(), "3.11.7".into()).is_err());
        assert!(check_version(Some("pypy3"), "/p".into(), "3.10.1".into()).is_ok());
    }

    #[test]
    fn missing_interpreter_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(Some("2.1"), dir.path()).unwrap_err();
        let user = err.downcast_ref::<UserError>().unwrap();
        assert!(
            user.message.contains("python = \"2.1\""),
            "{}",
            user.message
        );
        assert!(user.message.contains("`python2.1` is not on PATH"));
    }
}
