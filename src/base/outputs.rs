//! The one writer of the project's outputs: every file or folder a step makes for the user
//! (the bundle, the image layout and archive, the deploy descriptors) is written through
//! [`Outputs`], so none can land anywhere else or harm what pybuild did not make:
//!
//! - **Where:** a [`Target`] exists only as [`Outputs::target`] returns it, from
//!   `paths::output`: inside the project, under `dist/` or the configured bundle output,
//!   never in `.git/`, `.pybuild/` or the venv, no link on the way leading out.
//! - **What it replaces:** only what pybuild made. A folder already there is replaced only
//!   when every file in it is one pybuild recorded making (`produced/<step>.json`, passed
//!   in as `made`); a file only when recorded, or in `dist/` (the build tools' own folder,
//!   which `python -m build` overwrites too). Anything else is refused with its name, and
//!   left as it was.
//! - **Whole or not at all:** a file is written to a temp file beside it and renamed over
//!   it, a folder built beside it and exchanged with the old one (`RENAME_EXCHANGE`), so a
//!   reader sees the old output or the new one. A file finished elsewhere (a bundle built in
//!   `.pybuild/tmp/`) is renamed into place, or, from another file system (a volume or a
//!   tmpfs on `dist/`), copied beside it, synced, and renamed.
//! - **Modes:** what the umask gives, as for any file a tool writes: 0644, or 0755 for an
//!   executable, under umask 022.
//! - **Leftovers:** temp names are `process::temp_name`'s, so what a killed pybuild left
//!   half-written is swept by the next build or `clean` ([`sweep`]).

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rustix::fs::{CWD, RenameFlags, renameat_with};

use crate::base::error::UserError;
use crate::base::paths::{self, Place};
use crate::base::process::{sweep_temporaries, temp_name};
use crate::base::project::Project;

/// Where a project's outputs may go, and what pybuild made there before.
pub(crate) struct Outputs {
    root: PathBuf,
    /// Output paths allowed outside `dist/`: the configured bundle output.
    allowed: Vec<String>,
    /// Folders no output goes in beyond `.git/` and `.pybuild/`: the venv.
    forbidden: Vec<String>,
    /// What pybuild recorded making, relative to the root.
    made: BTreeSet<String>,
}

/// An output path [`Outputs::target`] accepted.
#[derive(Debug)]
pub(crate) struct Target {
    key: String,
    path: PathBuf,
}

impl Target {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Outputs {
    /// The outputs of `project`, `made` being what pybuild recorded making.
    pub(crate) fn new(project: &Project, made: BTreeSet<String>) -> Outputs {
        let venv = project
            .venv_in_project()
            .map(|venv| venv.to_string_lossy().into_owned());
        Outputs {
            root: project.root.clone(),
            allowed: project.config.bundle.output.clone().into_iter().collect(),
            forbidden: venv.into_iter().collect(),
            made,
        }
    }

    /// `key` as a place to write, or why not (`origin` names the setting it comes from):
    /// see `paths::output`, and nothing pybuild did not make is in the way.
    pub(crate) fn target(&self, key: &str, origin: &str) -> Result<Target, UserError> {
        let allowed: Vec<&str> = self.allowed.iter().map(String::as_str).collect();
        let forbidden: Vec<&str> = self.forbidden.iter().map(String::as_str).collect();
        let path = paths::output(&self.root, key, &allowed, &forbidden, origin)
            .map_err(UserError::usage)?;
        let target = Target {
            key: key.to_string(),
            path,
        };
        self.clear_way(&target)?;
        Ok(target)
    }

    /// An error naming what is at `target` that pybuild did not make, if anything.
    fn clear_way(&self, target: &Target) -> Result<(), UserError> {
        let Ok(meta) = target.path.symlink_metadata() else {
            return Ok(());
        };
        let foreign = if meta.is_dir() {
            let mut files = Vec::new();
            list_files(&target.path, &target.key, &mut files);
            files.into_iter().find(|file| !self.made.contains(file))
        } else {
            let ours = self.made.contains(&target.key) || target.key.starts_with("dist/");
            (!ours).then(|| target.key.clone())
        };
        let Some(foreign) = foreign else {
            return Ok(());
        };
        let message = match foreign == target.key {
            true => format!(
                "`{}` exists and pybuild did not produce it: it would be overwritten",
                target.key
            ),
            false => format!(
                "`{}` exists and holds `{foreign}`, which pybuild did not produce: it would be replaced",
                target.key
            ),
        };
        Err(UserError::usage(message).hint(format!(
            "move `{foreign}` away (pybuild replaces only what it made)"
        )))
    }

    /// A new temp path beside `target` (its folder made), for a file or folder finished
    /// there and then put in place with [`Outputs::place_file`] or [`Outputs::place_dir`].
    pub(crate) fn temp_beside(&self, target: &Target) -> Result<PathBuf> {
        let dir = parent(target)?;
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir.join(temp_name()))
    }

    /// Writes `bytes` as `target`, whole: a temp file beside it, synced, renamed over it.
    pub(crate) fn write(&self, target: &Target, bytes: &[u8], executable: bool) -> Result<()> {
        let temp = self.temp_beside(target)?;
        let written = write_new(&temp, bytes, executable).and_then(|()| {
            self.clear_way(target)?;
            fs::rename(&temp, &target.path)
                .with_context(|| format!("cannot write {}", target.path.display()))
        });
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Moves the finished file `from` to `target` (executable if `from` is), with the
    /// umask's mode: a rename, or across file systems a copy beside `target`, synced, then
    /// renamed over it.
    pub(crate) fn place_file(&self, target: &Target, from: &Path) -> Result<()> {
        let executable = fs::metadata(from)
            .with_context(|| format!("cannot read {}", from.display()))?
            .permissions()
            .mode()
            & 0o100
            != 0;
        self.clear_way(target)?;
        fs::set_permissions(from, fs::Permissions::from_mode(file_mode(executable)))
            .with_context(|| format!("cannot set the mode of {}", from.display()))?;
        match fs::rename(from, &target.path) {
            Err(err) if err.raw_os_error() == Some(libc::EXDEV) => {
                let bytes = fs::File::open(from)
                    .with_context(|| format!("cannot read {}", from.display()))?;
                let temp = self.temp_beside(target)?;
                let copied = copy_new(bytes, &temp, executable).and_then(|()| {
                    fs::rename(&temp, &target.path)
                        .with_context(|| format!("cannot write {}", target.path.display()))
                });
                if copied.is_err() {
                    let _ = fs::remove_file(&temp);
                }
                copied?;
                fs::remove_file(from).with_context(|| format!("cannot remove {}", from.display()))
            }
            moved => moved.with_context(|| {
                format!(
                    "cannot move {} to {}",
                    from.display(),
                    target.path.display()
                )
            }),
        }
    }

    /// Puts the folder `staged` (made at [`Outputs::temp_beside`] `target`) at `target`
    /// in one rename, exchanging it with the old one, which is then removed. `staged` is
    /// removed if it cannot be put in place.
    pub(crate) fn place_dir(&self, target: &Target, staged: &Path) -> Result<()> {
        let placed = self
            .clear_way(target)
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                let moved = || {
                    format!(
                        "cannot move {} to {}",
                        staged.display(),
                        target.path.display()
                    )
                };
                match target.path.symlink_metadata() {
                    Ok(meta) if meta.is_dir() => {
                        renameat_with(CWD, staged, CWD, &target.path, RenameFlags::EXCHANGE)
                            .with_context(moved)
                    }
                    Ok(_) => {
                        // A file of ours in `dist/` where the folder goes.
                        fs::remove_file(&target.path).with_context(moved)?;
                        fs::rename(staged, &target.path).with_context(moved)
                    }
                    Err(_) => fs::rename(staged, &target.path).with_context(moved),
                }
            });
        // Either the old output, exchanged, or the new one that could not be placed.
        if staged.symlink_metadata().is_ok() {
            fs::remove_dir_all(staged)
                .with_context(|| format!("cannot remove {}", staged.display()))?;
        }
        placed
    }
}

/// Removes what killed pybuilds left half-written among `project`'s outputs: in `dist/`,
/// beside the configured bundle output, and in `.pybuild/` where files are replaced whole
/// (the state, `fingerprints/`, `produced/`, `layers/`).
pub(crate) fn sweep(project: &Project) {
    let state = project.state_dir();
    let mut dirs: Vec<PathBuf> = ["", "fingerprints", "produced", "layers"]
        .iter()
        .map(|sub| state.join(sub))
        .collect();
    let mut keys = vec!["dist".to_string()];
    if let Some((dir, _)) = project
        .config
        .bundle
        .output
        .as_deref()
        .and_then(|o| o.rsplit_once('/'))
    {
        keys.push(dir.to_string());
    }
    for key in keys {
        if let Place::Inside(dir) = paths::resolve(&project.root, &key) {
            dirs.push(dir);
        }
    }
    sweep_temporaries(&dirs);
}

fn parent(target: &Target) -> Result<&Path> {
    target
        .path
        .parent()
        .with_context(|| format!("{} has no folder", target.path.display()))
}

/// The mode the umask gives a new file: 0644, or 0755 for an executable, under umask 022.
pub(crate) fn file_mode(executable: bool) -> u32 {
    let full = if executable { 0o777 } else { 0o666 };
    full & !umask()
}

/// This process's umask, read without changing it (`umask(2)` can only set it, and
/// setting it back races with the threads creating files meanwhile).
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
            u32::from_str_radix(line.trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// A new file `path` holding `bytes`, synced.
fn write_new(path: &Path, bytes: &[u8], executable: bool) -> Result<()> {
    let mut file = create_new(path, executable)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A new file `path` holding what is left of `from`, synced.
fn copy_new(mut from: fs::File, path: &Path, executable: bool) -> Result<()> {
    let mut file = create_new(path, executable)?;
    std::io::copy(&mut from, &mut file)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn create_new(path: &Path, executable: bool) -> Result<fs::File> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o777 } else { 0o666 })
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // The kernel applied the umask already; a default ACL on the folder may not have.
    file.set_permissions(fs::Permissions::from_mode(file_mode(executable)))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(file)
}

/// Every file (and link) under `dir`, as `key/...`, links not followed.
fn list_files(dir: &Path, key: &str, files: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        // Unreadable: count it as something pybuild did not make.
        files.push(format!("{key}/"));
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let sub = format!("{key}/{name}");
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => list_files(&entry.path(), &sub, files),
            _ => files.push(sub),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(root: &Path, made: &[&str]) -> Outputs {
        Outputs {
            root: root.to_path_buf(),
            allowed: vec!["out/app.pex".into()],
            forbidden: vec![".venv".into()],
            made: made.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn only_plain_paths_under_dist_or_the_configured_output_are_targets() {
        let (_dir, root) = root();
        let outputs = outputs(&root, &[]);
        for good in ["dist/app.pex", "dist/x.oci", "out/app.pex"] {
            outputs.target(good, "t").unwrap();
        }
        for bad in [
            "dist/../../escaped.json",
            "/tmp/x",
            "dist//x",
            "dist/a\u{7f}b",
            "dist/a\u{2028}b",
            "dist/.git/hooks/pre-commit",
            ".git/hooks/pre-commit",
            ".pybuild/state.bin",
            ".venv/bin/python",
            "project.toml",
            "out/other.pex",
        ] {
            let err = outputs.target(bad, "`[image] name`").unwrap_err();
            assert!(
                err.message.starts_with("`[image] name` makes"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_folder_is_replaced_only_when_pybuild_made_all_of_it() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, root) = root();
        fs::create_dir_all(root.join("dist/x.oci/blobs")).unwrap();
        fs::write(root.join("dist/x.oci/index.json"), "old").unwrap();
        fs::write(root.join("dist/x.oci/blobs/a"), "old").unwrap();
        let made = ["dist/x.oci/index.json", "dist/x.oci/blobs/a"];
        let replace = |outputs: &Outputs| -> Result<()> {
            let target = outputs.target("dist/x.oci", "t")?;
            let staged = outputs.temp_beside(&target)?;
            fs::create_dir(&staged)?;
            fs::write(staged.join("index.json"), "new")?;
            outputs.place_dir(&target, &staged)
        };
        fs::write(root.join("dist/x.oci/mine.txt"), "the user's").unwrap();
        let err = replace(&outputs(&root, &made)).unwrap_err();
        assert!(err.to_string().contains("dist/x.oci/mine.txt"), "{err}");
        assert_eq!(
            fs::read_to_string(root.join("dist/x.oci/mine.txt")).unwrap(),
            "the user's"
        );
        fs::remove_file(root.join("dist/x.oci/mine.txt")).unwrap();
        replace(&outputs(&root, &made)).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("dist/x.oci/index.json")).unwrap(),
            "new"
        );
        assert_eq!(
            fs::read_dir(root.join("dist")).unwrap().count(),
            1,
            "a temp was left"
        );
        let mode = fs::metadata(root.join("dist/x.oci"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o777 & !umask());
    }

    #[test]
    fn files_get_the_umask_mode_and_foreign_ones_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, root) = root();
        let outputs = outputs(&root, &[]);
        let target = outputs.target("dist/run.sh", "t").unwrap();
        outputs.write(&target, b"#!/bin/sh\n", true).unwrap();
        let mode = fs::metadata(target.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o777 & !umask());
        fs::create_dir_all(root.join("out")).unwrap();
        fs::write(root.join("out/app.pex"), "somebody's").unwrap();
        assert!(outputs.target("out/app.pex", "t").is_err());
        assert_eq!(
            fs::read_to_string(root.join("out/app.pex")).unwrap(),
            "somebody's"
        );
    }
}
