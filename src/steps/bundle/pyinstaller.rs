//! PyInstaller `--onefile` bundles: a native executable holding an interpreter, the
//! staged project and its dependencies, runnable without Python on a machine like this one.
//!
//! The spec pybuild asks for:
//! - the entry: a generated launcher that imports the entry point's module and exits with
//!   what its function returns, as the console script's wrapper does;
//! - the code: the staged copy, ahead of everything else both on `--paths` (PyInstaller's
//!   analysis) and on `PYTHONPATH` (the subprocesses where its hooks import packages), so
//!   neither the editable install's path nor its finder can slip in the project tree's files;
//!   dependencies come from the venv's site-packages;
//! - the package: `--collect-all` of the entry point's top-level package (every submodule,
//!   package data) and `--copy-metadata` of the project (`importlib.metadata.version()`);
//! - `[bundle] hidden-imports` as `--hidden-import`, then `[bundle] pyinstaller-args`.
//!
//! PyInstaller's own up-to-date check is mtime-only and misses deleted modules and edits
//! with older mtimes; pybuild runs it only when the bundle's fingerprint
//! changed, and then always with `--clean`. Its work, spec and dist files, and its cache
//! (`PYINSTALLER_CONFIG_DIR`, which `--clean` empties), live in the step's per-run work
//! directory under `.pybuild/`, so concurrent builds of other projects are not disturbed.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::backend::{Backend, Job, launcher_source};
use crate::args;
use crate::python::build::Build;

pub(crate) struct PyInstaller;

impl Backend for PyInstaller {
    fn name(&self) -> &'static str {
        "pyinstaller"
    }

    fn tool(&self) -> Option<&'static str> {
        Some("pyinstaller")
    }

    fn extension(&self) -> Option<&'static str> {
        None
    }

    fn versioned(&self) -> Vec<&'static str> {
        vec!["pyinstaller", "pyinstaller-hooks-contrib"]
    }

    /// An executable: its modules come from the venv's site-packages by construction.
    fn is_zip(&self) -> bool {
        false
    }

    fn build(&self, cx: &Build, job: &Job) -> Result<()> {
        let config = &cx.project.config;
        let function = job
            .entry
            .function(&cx.env_at(&job.site_packages), &config.project.name)?;
        let package = function.split([':', '.']).next().unwrap_or(&function);
        let work = job.work.join(".pyinstaller");
        let launcher = work.join("launcher.py");
        fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
        fs::write(&launcher, launcher_source(&function)?)
            .with_context(|| format!("cannot write {}", launcher.display()))?;
        let code = import_root(&job.stage, package);
        let name = job
            .out
            .file_name()
            .context("the bundle output has no file name")?;
        let dist = work.join("dist");

        let mut argv = args![
            "--onefile",
            "--clean",
            "--noconfirm",
            "--name",
            name,
            "--distpath",
            &dist,
            "--workpath",
            work.join("build"),
            "--specpath",
            &work,
            "--paths",
            &code,
            "--collect-all",
            package,
            "--copy-metadata",
            &config.project.name,
        ]
        .to_vec();
        for module in &config.bundle.hidden_imports {
            argv.extend(args!["--hidden-import", module]);
        }
        argv.extend(config.bundle.pyinstaller_args.iter().map(Into::into));
        argv.push(launcher.into());
        let pyinstaller = cx.project.venv().join("bin").join("pyinstaller");
        let cache = work.join("config");
        // A fixed hash seed and timestamp: PyInstaller's analysis iterates sets, and the
        // archive records times. So a rebuild in the same checkout gives the same bytes
        // (two checkouts still differ: the build directory's path leaks in).
        let env: [(&str, &OsStr); 4] = [
            ("PYTHONPATH", code.as_os_str()),
            ("PYINSTALLER_CONFIG_DIR", cache.as_os_str()),
            ("PYTHONHASHSEED", OsStr::new("0")),
            ("SOURCE_DATE_EPOCH", OsStr::new("315532800")),
        ];
        cx.printer.phase("freezing the app with PyInstaller");
        cx.runner.run_with_env("bundle", pyinstaller, &argv, &env)?;
        let built = dist.join(name);
        fs::rename(&built, &job.out)
            .with_context(|| format!("cannot move {} to {}", built.display(), job.out.display()))
    }
}

/// Where `package` is importable from in the stage: `src/` in a src layout, else the root.
fn import_root(stage: &Path, package: &str) -> PathBuf {
    let src = stage.join("src");
    let in_src = src.join(package).is_dir() || src.join(format!("{package}.py")).is_file();
    if in_src { src } else { stage.to_path_buf() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_root_follows_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path();
        fs::create_dir_all(stage.join("src/greeter")).unwrap();
        fs::create_dir_all(stage.join("clicker")).unwrap();
        assert_eq!(import_root(stage, "greeter"), stage.join("src"));
        assert_eq!(import_root(stage, "clicker"), stage);
    }
}
