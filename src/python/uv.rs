//! Finding uv, pybuild's default installer: the `uv` on PATH, else pybuild's own copy,
//! fetched once from the package index (uv is on PyPI as `uv`, one binary in a wheel) into
//! `$PYBUILD_CACHE_DIR/uv/<VERSION>/` (else `~/.cache/pybuild/uv/...`) and shared by every
//! project of the user, offline after that.
//!
//! The fetch is `pip install --no-deps --only-binary=:all: --target DIR uv==VERSION` with
//! the interpreter's own pip (or, when it has none, the pip of a throwaway venv), so pip's
//! index settings (`PIP_INDEX_URL`, `pip.conf`) and cache apply. It lands in a folder of its
//! own and is renamed into place whole: a fetch killed half-way is never taken for uv.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::args;
use crate::base::error::UserError;
use crate::python::build::Build;
use crate::python::wheelhouse;

/// The uv pybuild fetches when none is on PATH: pinned, so two machines install alike.
pub(crate) const VERSION: &str = "0.13.9";

/// The uv on PATH, if any.
pub(crate) fn on_path() -> Option<PathBuf> {
    which::which("uv").ok()
}

/// Where pybuild keeps its own uv.
pub(crate) fn managed() -> PathBuf {
    home().join(VERSION).join("bin").join("uv")
}

fn home() -> PathBuf {
    wheelhouse::pybuild_cache_dir().join("uv")
}

/// The uv to use: the one on PATH, else pybuild's own, fetched now if it is not yet.
/// `step` names the log the fetch writes to.
pub(crate) fn find_or_fetch(cx: &mut Build) -> Result<PathBuf> {
    if let Some(uv) = on_path() {
        return Ok(uv);
    }
    let uv = managed();
    if uv.is_file() {
        return Ok(uv);
    }
    fetch(cx).map_err(|err| {
        err.context(
            UserError::failure(format!(
                "uv is not on PATH, and pybuild could not fetch uv {VERSION}"
            ))
            .hint(
                "put uv on PATH (`pip install --user uv`), run once with access to the \
                 package index, or set `[env] installer = \"pip\"` in project.toml",
            ),
        )
    })
}

fn fetch(cx: &mut Build) -> Result<PathBuf> {
    if wheelhouse::offline(cx) {
        anyhow::bail!("offline, and uv {VERSION} is not in {}", home().display());
    }
    let interpreter = cx.interpreter()?;
    let home = home();
    fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    cx.printer.phase(&format!("fetching uv {VERSION}"));
    cx.printer.info(&format!(
        "fetching uv {VERSION} into {} (once for every project)",
        home.display()
    ));
    let folder = wheelhouse::incoming_folder(&home)?;
    let python = python_with_pip(cx, &interpreter.path, folder.path())?;
    let target = folder.path().join("uv");
    let pip_install: Vec<OsString> = args![
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--only-binary=:all:",
        "--target",
        &target,
        format!("uv=={VERSION}")
    ]
    .to_vec();
    cx.runner.run(&python, &pip_install)?;
    let binary = target.join("bin").join("uv");
    if !binary.is_file() {
        anyhow::bail!("the uv {VERSION} wheel holds no bin/uv");
    }
    let place = home.join(VERSION);
    if let Err(err) = fs::rename(&target, &place) {
        // Another pybuild fetched it meanwhile: theirs is as good.
        if !managed().is_file() {
            return Err(err).with_context(|| format!("cannot move uv to {}", place.display()));
        }
    }
    Ok(managed())
}

/// The interpreter itself when it has pip, else the python of a throwaway venv (made with
/// the standard library's `venv`, which brings pip) in `scratch`.
fn python_with_pip(cx: &Build, interpreter: &Path, scratch: &Path) -> Result<PathBuf> {
    let has_pip = cx
        .runner
        .capture(interpreter, &args!["-m", "pip", "--version"])
        .is_ok();
    if has_pip {
        return Ok(interpreter.to_path_buf());
    }
    let venv = scratch.join("venv");
    cx.runner.run(interpreter, &args!["-m", "venv", &venv])?;
    Ok(venv.join("bin").join("python"))
}
