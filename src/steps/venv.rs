//! The venv step: creates the project's virtualenv (what pybuild reads from it, without
//! running Python, is in `python::installed`).
//!
//! Made with `uv venv --seed` (a fraction of a second), or with `installer = "pip"` the
//! interpreter's own `python -m venv` and a pip, setuptools and wheel upgrade (a fresh 3.11
//! venv has setuptools 65, a 3.12 one has none): either way it holds pip, setuptools and
//! wheel, for `setup.py develop` and the tools that call pip. A changed interpreter (path
//! or version), or a venv whose interpreter is gone or was replaced (its `bin/python` no
//! longer the file it was made with), recreates it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::args;
use crate::base::error::UserError;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::python::installer::Installer;
use crate::python::interpreter::Interpreter;
use crate::python::wheelhouse;

pub(crate) struct Venv;

/// The step's name, in its log, state and messages.
const NAME: &str = "venv";

impl<'a> Step<Build<'a>> for Venv {
    fn name(&self) -> &str {
        NAME
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("interpreter", cx.interpreter()?.describe());
        fingerprint.part("path", cx.project.config.env.path.clone());
        Ok(fingerprint)
    }

    /// The interpreter is a link to the one the venv was made from: not hashed as an
    /// output, but it must still lead to a program, or nothing in the venv runs (and
    /// `pybuild run -- python` would find the system's instead).
    ///
    /// A venv copied or moved with its project still names its old place (its scripts'
    /// `#!` lines, the editable install's paths): what runs in it would be the other
    /// checkout's code. It is made again.
    fn damage(&self, cx: &mut Build) -> Result<Option<String>> {
        let python = cx.project.venv_python();
        if !python.is_file() {
            return Ok(Some(format!(
                "the venv's interpreter {} is missing",
                cx.project.key(&python)
            )));
        }
        let venv = cx.project.venv();
        let marker = read_marker(&venv);
        // What `bin/python` leads to is what the venv was made with: a file put in its
        // place (or a link moved) is no interpreter of this venv. Stat data, as the stat
        // cache reads it: a no-op starts no process and reads no interpreter.
        let replaced = match marker
            .as_ref()
            .and_then(|marker| marker.identity.as_deref())
        {
            Some(made) => identity(&python).as_deref() != Some(made),
            // Made by an older pybuild: it links to the interpreter it was made from.
            None => python.canonicalize().ok() != Some(cx.interpreter()?.path),
        };
        if replaced {
            return Ok(Some(format!(
                "the venv's interpreter {} is not the one the venv was made with",
                cx.project.key(&python)
            )));
        }
        Ok(marker
            .and_then(|marker| marker.made_at)
            .filter(|place| *place != venv)
            .map(|place| {
                format!(
                    "the venv was made at {} (the project was moved or copied)",
                    place.display()
                )
            }))
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        let made = self.make(cx);
        cx.venv_changed();
        made?;
        self.outputs(cx)
    }
}

impl Venv {
    fn make(&self, cx: &mut Build) -> Result<()> {
        let venv = cx.project.venv();
        refuse_foreign_directory(&venv)?;
        let interpreter = cx.interpreter()?;
        if made_from(&venv, &interpreter) {
            // The record is gone (`pybuild clean`, a new `.pybuild`), the venv is not: the
            // installs that follow check it, recreating it would only cost their time.
            cx.printer.detail(&format!(
                "{} was made from {}: kept",
                cx.project.key(&venv),
                interpreter.describe()
            ));
            return Ok(());
        }
        match Installer::resolve(cx)? {
            Installer::Uv(uv) => {
                cx.printer.phase("creating the venv with uv");
                let mut argv = args!["venv", "--clear", "--seed", "--quiet", "--python"].to_vec();
                argv.extend(args![&interpreter.path, &venv]);
                if wheelhouse::offline(cx) {
                    argv.push("--offline".into());
                }
                cx.runner.run(&uv, &argv)?;
                // 3.12 and later are seeded with pip alone.
                if !seeded_with_setuptools(&interpreter.version) {
                    Installer::Uv(uv).install(cx, &args!["setuptools", "wheel"])?;
                }
            }
            Installer::Pip => {
                cx.printer
                    .phase("creating the venv and upgrading pip, setuptools and wheel");
                cx.runner
                    .run(&interpreter.path, &args!["-m", "venv", "--clear", &venv])?;
                Installer::Pip.install(cx, &args!["--upgrade", "pip", "setuptools", "wheel"])?;
            }
        }
        let marker = venv.join(MADE_BY_PYBUILD);
        let python = identity(&cx.project.venv_python())
            .with_context(|| format!("the venv made in {} has no bin/python", venv.display()))?;
        fs::write(
            &marker,
            format!("{}\n{}\n{python}", interpreter.describe(), venv.display()),
        )
        .with_context(|| format!("cannot write {}", marker.display()))
    }

    fn outputs(&self, cx: &mut Build) -> Result<Vec<String>> {
        Ok(vec![cx.project.key(&cx.project.venv().join("pyvenv.cfg"))])
    }
}

/// Whether `uv venv --seed` puts setuptools and wheel beside pip for this Python version
/// (before 3.12, as the standard library's `venv` did).
fn seeded_with_setuptools(version: &str) -> bool {
    let mut parts = version
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) < (3, 12)
}

/// Written into the venv once the step made it whole (`venv --clear` removes it first): a
/// venv whose creation was interrupted, or that pybuild did not make, is never kept. It
/// holds the interpreter, then the venv's path when it was made, then what its `bin/python`
/// was ([`identity`]).
const MADE_BY_PYBUILD: &str = ".pybuild-venv";

/// Whether the venv at `venv` was made (whole) at `since` or later.
pub(crate) fn made_since(venv: &Path, since: std::time::SystemTime) -> bool {
    fs::metadata(venv.join(MADE_BY_PYBUILD))
        .and_then(|meta| meta.modified())
        .is_ok_and(|made| made >= since)
}

/// What the venv's marker says (older pybuilds wrote less).
struct Marker {
    /// The interpreter it was made from, as it [describes](Interpreter::describe) itself.
    interpreter: String,
    /// Where it was made.
    made_at: Option<PathBuf>,
    /// What its `bin/python` was once made: see [`identity`].
    identity: Option<String>,
}

fn read_marker(venv: &Path) -> Option<Marker> {
    let made = fs::read_to_string(venv.join(MADE_BY_PYBUILD)).ok()?;
    let mut lines = made.lines();
    Some(Marker {
        interpreter: lines.next()?.to_string(),
        made_at: lines.next().map(PathBuf::from),
        identity: lines.next().map(str::to_string),
    })
}

/// The file `python` leads to, told apart from any other: its real path, device, inode,
/// size and mtime (links followed). `None` if it is no file.
fn identity(python: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let real = python.canonicalize().ok()?;
    let meta = fs::metadata(&real).ok().filter(fs::Metadata::is_file)?;
    Some(format!(
        "{} {} {} {} {}.{}",
        real.display(),
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

/// Whether pybuild made the venv at `venv`, to the end, from `interpreter` (its
/// `pyvenv.cfg` names the same version, and its own interpreter leads to the same
/// executable).
fn made_from(venv: &Path, interpreter: &Interpreter) -> bool {
    let Some(Marker {
        interpreter: made_from,
        made_at,
        identity: made_with,
    }) = read_marker(venv)
    else {
        return false;
    };
    // What `damage` would find replaced is not kept.
    let same_python = made_with.is_none_or(|made| identity(&venv.join("bin/python")) == Some(made));
    if made_from != interpreter.describe()
        || made_at.is_some_and(|place| place != venv)
        || !same_python
    {
        return false;
    }
    let Ok(cfg) = fs::read_to_string(venv.join("pyvenv.cfg")) else {
        return false;
    };
    // `version` from the standard library's venv, `version_info` from uv's.
    let version = cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info").then(|| value.trim().to_string())
    });
    let same_executable = venv
        .join("bin")
        .join("python")
        .canonicalize()
        .is_ok_and(|exe| exe == interpreter.path);
    version.as_deref() == Some(interpreter.version.as_str()) && same_executable
}

/// `venv --clear` empties the directory: never do that to something that isn't a venv.
fn refuse_foreign_directory(venv: &Path) -> Result<()> {
    let is_empty_or_missing = fs::read_dir(venv).map_or(true, |mut d| d.next().is_none());
    if is_empty_or_missing || venv.join("pyvenv.cfg").is_file() {
        return Ok(());
    }
    Err(UserError::usage(format!(
        "{} exists and is not a virtualenv (it has no pyvenv.cfg); pybuild will not replace it",
        venv.display()
    ))
    .hint("move it away, or set `[env] path` in project.toml to another directory")
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setuptools_is_seeded_before_3_12() {
        assert!(seeded_with_setuptools("3.11.7"));
        assert!(seeded_with_setuptools("3.9.18"));
        assert!(!seeded_with_setuptools("3.12.1"));
        assert!(!seeded_with_setuptools("3.13.0"));
    }
}
