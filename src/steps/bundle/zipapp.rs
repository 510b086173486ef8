//! zipapp bundles: the staged project and its dependencies installed into a directory
//! (see `site`) with a `__main__.py` that runs the entry point's `module:function`, then
//! zipped by the standard library's `python -m zipapp`. No tool beyond the venv's pip.
//! pybuild writes `__main__.py` itself rather than passing `-m`: zipapp's own ignores the
//! function's return value (so `return 2` would exit 0) and is stamped with the time of
//! the build.
//!
//! - The shebang is `/usr/bin/env python3.X` (see `site::shebang`); `[bundle] zipapp-args`
//!   come last, so `["-p", "/opt/python/bin/python3"]` overrides it, `["-c"]` compresses.
//! - Python cannot load compiled extensions (`.so`, `.pyd`) from inside a zip, so a
//!   dependency that has any is refused before zipping, naming it and its files: the kinds
//!   that extract (shiv, pex) or freeze (pyinstaller) handle those.
//! - zipapp stores each file's mtime: every file and directory is set to one fixed time
//!   first, so identical inputs give identical archives on one machine (zipapp adds files
//!   in directory-listing order, which another file system may not share).

use std::collections::BTreeMap;
use std::fs::{self, File, FileTimes};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};

use super::backend::{Backend, Job, launcher_source};
use super::site;
use crate::args;
use crate::base::error::UserError;
use crate::python::build::Build;

/// 1980-01-02 00:00 UTC: zip cannot store earlier times, and a day's margin keeps the
/// local time zipfile converts it to within 1980 everywhere.
const ZIP_EPOCH: Duration = Duration::from_secs(315_619_200);

pub(crate) struct Zipapp;

impl Backend for Zipapp {
    fn name(&self) -> &'static str {
        "zipapp"
    }

    fn tool(&self) -> Option<&'static str> {
        None
    }

    fn extension(&self) -> Option<&'static str> {
        Some("pyz")
    }

    fn versioned(&self) -> Vec<&'static str> {
        vec!["pip"]
    }

    fn build(&self, cx: &Build, job: &Job) -> Result<()> {
        let config = &cx.project.config;
        let function = job
            .entry
            .function(&cx.env_at(&job.site_packages), &config.project.name)?;
        let app = job.work.join(".app");
        site::install(cx, job, &app)?;
        refuse_extensions(&app)?;
        let main = app.join("__main__.py");
        fs::write(&main, launcher_source(&function)?)
            .with_context(|| format!("cannot write {}", main.display()))?;
        set_times(&app, SystemTime::UNIX_EPOCH + ZIP_EPOCH)?;
        let mut argv = args![
            "-m",
            "zipapp",
            &app,
            "-o",
            &job.out,
            "-p",
            site::shebang(&job.python)
        ]
        .to_vec();
        argv.extend(config.bundle.zipapp_args.iter().map(Into::into));
        cx.runner.run("bundle", cx.project.venv_python(), &argv)
    }
}

/// Fails, naming each distribution and its files, when `app` holds compiled extensions.
fn refuse_extensions(app: &Path) -> Result<()> {
    let found = extensions_by_distribution(app)?;
    if found.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = found
        .iter()
        .map(|(dist, files)| format!("{dist} ({})", files.join(", ")))
        .collect();
    Err(UserError::usage(format!(
        "a zipapp cannot load compiled extensions from inside the archive, and these dependencies have some: {}",
        listed.join("; ")
    ))
    .hint("use `kind = \"shiv\"` or `kind = \"pex\"` (they extract the archive before running), or `kind = \"pyinstaller\"`")
    .into())
}

/// The compiled extensions under `app` (relative paths), grouped by the distribution
/// whose `RECORD` lists them.
fn extensions_by_distribution(app: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let mut owners = BTreeMap::new();
    for entry in fs::read_dir(app).with_context(|| format!("cannot list {}", app.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", app.display()))?
            .path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".dist-info"))
        else {
            continue;
        };
        let dist = stem.split_once('-').map_or(stem, |(name, _)| name);
        let record = path.join("RECORD");
        let text = fs::read_to_string(&record).unwrap_or_default();
        for line in text.lines() {
            let file = line.split(',').next().unwrap_or_default();
            owners.insert(file.to_string(), dist.to_string());
        }
    }
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in entries_under(app)? {
        let rel = file
            .strip_prefix(app)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        if is_extension(&rel) {
            let dist = owners
                .get(&rel)
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            found.entry(dist).or_default().push(rel);
        }
    }
    Ok(found)
}

/// A shared object Python or a dependency would load: `x.so`, `x.pyd`, `libz.so.1`.
fn is_extension(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.ends_with(".pyd") || name.contains(".so.")
}

/// Every file and directory under `dir`, recursively (symlinks not followed).
fn entries_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(entry.path());
            }
            entries.push(entry.path());
        }
    }
    Ok(entries)
}

/// Sets the times of everything under `dir` to `time`.
fn set_times(dir: &Path, time: SystemTime) -> Result<()> {
    for path in entries_under(dir)? {
        File::open(&path)
            .and_then(|f| f.set_times(FileTimes::new().set_accessed(time).set_modified(time)))
            .with_context(|| format!("cannot set the time of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    #[test]
    fn compiled_extensions_are_refused_by_distribution() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path();
        write(app, "six.py", "");
        write(app, "six-1.17.0.dist-info/RECORD", "six.py,sha256=x,1\n");
        let so = "markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so";
        write(app, so, "");
        write(app, "markupsafe/__init__.py", "");
        write(
            app,
            "MarkupSafe-3.0.2.dist-info/RECORD",
            &format!("markupsafe/__init__.py,,\n{so},sha256=y,2\n"),
        );
        write(app, "numpy.libs/libgfortran-040039e1.so.5.0.0", "");

        let found = extensions_by_distribution(app).unwrap();
        assert_eq!(found["MarkupSafe"], vec![so.to_string()]);
        assert_eq!(
            found["unknown"],
            vec!["numpy.libs/libgfortran-040039e1.so.5.0.0".to_string()]
        );
        let err = refuse_extensions(app).unwrap_err();
        let user = err.downcast_ref::<UserError>().unwrap();
        assert!(
            user.message.contains(&format!("MarkupSafe ({so})")),
            "{}",
            user.message
        );
        assert!(user.hints[0].contains("shiv"));
    }

    #[test]
    fn pure_python_passes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "six.py", "");
        write(dir.path(), "greeter/data/message.txt", "");
        refuse_extensions(dir.path()).unwrap();
    }

    #[test]
    fn every_file_and_directory_gets_the_fixed_time() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "greeter/data/message.txt", "hi");
        let time = SystemTime::UNIX_EPOCH + ZIP_EPOCH;
        set_times(dir.path(), time).unwrap();
        for rel in ["greeter/data/message.txt", "greeter/data", "greeter"] {
            let modified = fs::metadata(dir.path().join(rel))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(modified, time, "{rel}");
        }
    }
}
