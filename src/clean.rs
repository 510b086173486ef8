//! `pybuild clean`: removes what pybuild and the tools it runs produced in the project, and
//! nothing else.
//!
//! Removed: every bundle output pybuild produced (also after a failed build or a change of
//! kind or output, see `state::produced_outputs`), `.pybuild/` (but its lock, which this
//! process holds),
//! setuptools' leftovers in `build/` (`lib*`, `bdist.*`, `temp.*`, `__editable__*`, and
//! `build/` itself once empty), `*.egg-info` at the root and in `src/`; with `--all` the
//! venv too. Every path must lie inside the project root; a symlink is removed as a link,
//! never followed, so whatever it points to survives.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config;
use crate::project::Project;
use crate::state::{State, produced_outputs};
use crate::ui::Printer;

const SETUPTOOLS_BUILD_PREFIXES: &[&str] = &["lib", "bdist.", "temp.", "__editable__"];

pub fn run(
    project: &Project,
    state: &State,
    all: bool,
    dry_run: bool,
    printer: &Printer,
) -> Result<()> {
    let targets = targets(project, state, all)?;
    let venv = project.venv();
    if all && venv.exists() && !targets.contains(&venv) {
        printer.warn(&format!(
            "the venv {} lies outside the project: not removed",
            venv.display()
        ));
    }
    if targets.is_empty() {
        printer.info("nothing to clean");
        return Ok(());
    }
    for target in &targets {
        let shown = project.key(target);
        if dry_run {
            println!("would remove {shown}");
            continue;
        }
        remove(target).with_context(|| format!("cannot remove {}", target.display()))?;
        printer.info(&format!("removed {shown}"));
    }
    let build = project.root.join("build");
    if !dry_run && fs::read_dir(&build).is_ok_and(|mut d| d.next().is_none()) {
        fs::remove_dir(&build).with_context(|| format!("cannot remove {}", build.display()))?;
    }
    Ok(())
}

fn targets(project: &Project, state: &State, all: bool) -> Result<Vec<PathBuf>> {
    let root = &project.root;
    let mut targets = Vec::new();
    let recorded = state
        .steps
        .get("bundle")
        .into_iter()
        .flat_map(|r| r.outputs.keys().cloned());
    let produced = produced_outputs(&project.state_dir(), "bundle");
    for output in recorded
        .chain(produced)
        .chain(project.config.bundle.output.clone())
    {
        if config::is_inside(Path::new(&output)) {
            targets.push(root.join(output));
        }
    }
    for entry in read_dir(&project.state_dir())? {
        if entry.file_name().is_none_or(|n| n != "lock") {
            targets.push(entry);
        }
    }
    for entry in read_dir(&root.join("build"))? {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if SETUPTOOLS_BUILD_PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
        {
            targets.push(entry);
        }
    }
    for dir in [root.clone(), root.join("src")] {
        for entry in read_dir(&dir)? {
            if entry.extension().is_some_and(|e| e == "egg-info") {
                targets.push(entry);
            }
        }
    }
    if all {
        targets.push(project.venv());
    }
    targets.retain(|t| t.symlink_metadata().is_ok() && is_within(root, t));
    targets.sort();
    targets.dedup();
    Ok(targets)
}

/// Whether `path` lies inside `root` once the directories leading to it are resolved
/// (the last component may be a symlink: only the link is removed).
fn is_within(root: &Path, path: &Path) -> bool {
    let (Some(parent), Some(_)) = (path.parent(), path.file_name()) else {
        return false;
    };
    parent
        .canonicalize()
        .is_ok_and(|parent| parent.starts_with(root) && path != root)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| Ok(e?.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot list {}", dir.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err).with_context(|| format!("cannot list {}", dir.display())),
    }
}

/// Removes a file, a symlink (not its target) or a directory tree (whose symlinks are
/// removed, not followed).
fn remove(path: &Path) -> std::io::Result<()> {
    if path.symlink_metadata()?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}
