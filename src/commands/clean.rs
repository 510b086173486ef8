//! `pybuild clean`: removes what pybuild and the tools it runs produced in the project, and
//! nothing else.
//!
//! Removed: every output of the steps that make the project's products (the bundle, the
//! image, the deploy descriptors: `graph::PRODUCTS`) that pybuild produced (also after a
//! failed build or a change of kind or output, see `state::produced_outputs`), and the
//! directories they leave empty, `.pybuild/` (but its lock, which this process holds),
//! setuptools' leftovers in `build/` (`lib*`, `bdist.*`, `temp.*`, `__editable__*`, and
//! `build/` itself once empty), `*.egg-info` at the root and in `src/`; with `--all` the
//! venv too. Every path is resolved physically (`paths`) and must lie inside the project
//! root; a symlink is removed as a link, never followed, so whatever it points to
//! survives. A directory reached through a link (`.pybuild`, `build` or `src` linked
//! elsewhere) is not looked into. What killed builds left half-written beside the outputs
//! (`.pybuild-tmp-*` of pybuilds that are gone, see `base::outputs`) goes too. A dry run
//! writes nothing, not even the lock.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::outputs;
use crate::base::paths::{self, Place};
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset;
use crate::engine::state::{State, produced_outputs};
use crate::steps::file_rules;
use crate::steps::graph::PRODUCTS;

const SETUPTOOLS_BUILD_PREFIXES: &[&str] = &["lib", "bdist.", "temp.", "__editable__"];

/// Cleans `project`, and in a uv workspace the products of its `apps` (each with its
/// state), whose states go with `.pybuild/`.
pub(crate) fn run(
    project: &Project,
    state: &mut State,
    apps: &mut [(Project, State)],
    all: bool,
    dry_run: bool,
    printer: &Printer,
) -> Result<()> {
    if !dry_run {
        // What killed builds left half-written (`base::outputs`) is not pybuild's output
        // yet: no record names it, so it goes first, whatever the records say.
        outputs::sweep(project);
        for (app, _) in apps.iter() {
            outputs::sweep(app);
        }
    }
    let mut targets = targets(project, state, all, printer)?;
    for (app, state) in apps.iter_mut() {
        targets.extend(products(app, state, printer)?);
    }
    targets.sort();
    targets.dedup();
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
    if !dry_run {
        // What removing the products left empty (an image layout's `blobs/sha256/`,
        // `dist/`), and `build/`: pybuild's or its tools' directories.
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        for target in &targets {
            let mut dir = target.parent();
            while let Some(parent) =
                dir.filter(|d| d.starts_with(&project.root) && *d != project.root)
            {
                dirs.insert(parent.to_path_buf());
                dir = parent.parent();
            }
        }
        if let Place::Inside(build) = paths::resolve(&project.root, "build") {
            dirs.insert(build);
        }
        // Deepest first, so a parent is empty once its children are gone.
        for dir in dirs.iter().rev() {
            if !dir.is_symlink() && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
                fs::remove_dir(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// What to remove, each resolved physically inside the project (see `paths`).
fn targets(
    project: &Project,
    state: &mut State,
    all: bool,
    printer: &Printer,
) -> Result<Vec<PathBuf>> {
    let root = &project.root;
    let mut targets = products(project, state, printer)?;
    let mut keys = Vec::new();
    for entry in entry_names(root, ".pybuild")? {
        if entry != "lock" {
            keys.push(format!(".pybuild/{entry}"));
        }
    }
    for entry in entry_names(root, "build")? {
        if SETUPTOOLS_BUILD_PREFIXES
            .iter()
            .any(|p| entry.starts_with(p))
        {
            keys.push(format!("build/{entry}"));
        }
    }
    for dir in ["", "src/"] {
        for entry in entry_names(root, dir.trim_end_matches('/'))? {
            if entry.ends_with(".egg-info") {
                keys.push(format!("{dir}{entry}"));
            }
        }
    }
    targets.extend(
        keys.iter()
            .filter_map(|key| paths::resolve(root, key).inside().map(Path::to_path_buf)),
    );
    if all {
        let venv = project.venv();
        match project.venv_in_project() {
            Some(_) => targets.push(venv),
            None if venv.symlink_metadata().is_ok() => printer.warn(&format!(
                "the venv {} lies outside the project: not removed",
                venv.display()
            )),
            None => {}
        }
    }
    targets.retain(|t| t.symlink_metadata().is_ok());
    targets.sort();
    targets.dedup();
    Ok(targets)
}

/// The products pybuild recorded producing, and only those: never a path merely named in
/// `project.toml` (it may name a source), never a directory, never a file that is now one
/// of the project's inputs.
fn products(project: &Project, state: &mut State, printer: &Printer) -> Result<Vec<PathBuf>> {
    let mut outputs: BTreeSet<String> = BTreeSet::new();
    for step in PRODUCTS {
        let recorded = state.steps.get(*step).into_iter();
        outputs.extend(recorded.flat_map(|r| r.outputs.keys().cloned()));
        outputs.extend(produced_outputs(&project.state_dir(), step));
    }
    if outputs.is_empty() {
        return Ok(Vec::new());
    }
    let inputs: BTreeSet<String> = fileset::project_files(
        &project.root,
        &file_rules(project),
        &mut state.listing,
        &mut state.files,
    )?
    .files
    .into_iter()
    .collect();
    let mut targets = Vec::new();
    for output in outputs {
        let Place::Inside(path) = paths::resolve(&project.root, &output) else {
            continue;
        };
        let is_dir = path.symlink_metadata().is_ok_and(|m| m.is_dir());
        if is_dir || inputs.contains(&output) {
            printer.warn(&format!(
                "{output} was built once but is now {}: not removed",
                if is_dir { "a directory" } else { "an input" }
            ));
            continue;
        }
        targets.push(path);
    }
    Ok(targets)
}

/// The names in the directory `rel` (`""` for the root), if it is a directory inside the
/// project.
fn entry_names(root: &Path, rel: &str) -> Result<Vec<String>> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        match paths::resolve(root, rel) {
            Place::Inside(dir) if !dir.is_symlink() => dir,
            _ => return Ok(Vec::new()),
        }
    };
    Ok(read_dir(&dir)?
        .iter()
        .filter_map(|path| path.file_name()?.to_str().map(String::from))
        .collect())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| Ok(e?.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot list {}", dir.display())),
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(Vec::new())
        }
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
