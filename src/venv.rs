//! The project's virtualenv: the step that creates it, and what pybuild reads from it
//! without running Python (installed distributions and their metadata).
//!
//! Created with the interpreter's own `python -m venv`, then pip, setuptools and wheel are
//! upgraded at once (a fresh 3.11 venv has setuptools 65, a 3.12 one has none). A changed
//! interpreter (path or version), or a venv whose interpreter is gone, recreates it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::args;
use crate::error::UserError;
use crate::fingerprint::Fingerprint;
use crate::installer::Installer;
use crate::step::{Context, Step};

pub struct Venv;

impl Step for Venv {
    fn name(&self) -> &'static str {
        "venv"
    }

    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("interpreter", cx.interpreter()?.describe());
        fingerprint.part("path", cx.project.config.env.path.clone());
        Ok(fingerprint)
    }

    fn run(&self, cx: &mut Context) -> Result<()> {
        let venv = cx.project.venv();
        refuse_foreign_directory(&venv)?;
        let interpreter = cx.interpreter()?;
        cx.runner.run(
            self.name(),
            &interpreter.path,
            &args!["-m", "venv", "--clear", &venv],
        )?;
        let installer = Installer::resolve(cx.project.config.env.installer)?;
        installer.install(
            cx,
            self.name(),
            &args!["--upgrade", "pip", "setuptools", "wheel"],
        )
    }

    fn outputs(&self, cx: &mut Context) -> Result<Vec<String>> {
        Ok(vec![cx.project.key(&cx.project.venv().join("pyvenv.cfg"))])
    }

    /// The interpreter is a link to the one the venv was made from: not hashed as an
    /// output, but it must still lead to a program, or nothing in the venv runs (and
    /// `pybuild run -- python` would find the system's instead).
    fn damage(&self, cx: &mut Context) -> Result<Option<String>> {
        let python = cx.project.venv_python();
        Ok((!python.is_file()).then(|| {
            format!(
                "the venv's interpreter {} is missing",
                cx.project.key(&python)
            )
        }))
    }
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

/// The `NAME-VERSION.dist-info` directory of an installed distribution.
pub fn dist_info(site_packages: &Path, name: &str) -> Option<PathBuf> {
    let wanted = normalize(name);
    let entries = fs::read_dir(site_packages).ok()?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".dist-info"))
                .and_then(|n| n.rsplit_once('-'))
                .is_some_and(|(dist, _version)| normalize(dist) == wanted)
        })
}

/// The installed version of a distribution, read from its dist-info directory's name.
pub fn installed_version(site_packages: &Path, name: &str) -> Option<String> {
    let path = dist_info(site_packages, name)?;
    let stem = path.file_name()?.to_str()?.strip_suffix(".dist-info")?;
    Some(stem.rsplit_once('-')?.1.to_string())
}

/// The console scripts a distribution declares (`entry_points.txt`), in file order.
pub fn console_scripts(dist_info: &Path) -> Vec<(String, String)> {
    let Ok(text) = fs::read_to_string(dist_info.join("entry_points.txt")) else {
        return Vec::new();
    };
    let mut in_section = false;
    let mut scripts = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[console_scripts]";
        } else if in_section && let Some((name, target)) = line.split_once('=') {
            scripts.push((name.trim().to_string(), target.trim().to_string()));
        }
    }
    scripts
}

/// PEP 503 normalisation, which also matches wheel's `_` escaping.
fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['-', '_', '.'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dist_info_by_normalised_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("legacy_tool-0.4.0.dist-info")).unwrap();
        fs::create_dir(dir.path().join("pex-2.105.2.dist-info")).unwrap();
        assert_eq!(
            installed_version(dir.path(), "Legacy-Tool").as_deref(),
            Some("0.4.0")
        );
        assert_eq!(
            installed_version(dir.path(), "pex").as_deref(),
            Some("2.105.2")
        );
        assert_eq!(installed_version(dir.path(), "pe"), None);
    }

    #[test]
    fn reads_console_scripts_section_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("entry_points.txt"),
            "[gui_scripts]\nx = a:b\n\n[console_scripts]\ngreet = greeter.cli:main\nother=o.p:q\n",
        )
        .unwrap();
        assert_eq!(
            console_scripts(dir.path()),
            vec![
                ("greet".to_string(), "greeter.cli:main".to_string()),
                ("other".to_string(), "o.p:q".to_string())
            ]
        );
    }
}
