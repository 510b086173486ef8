//! The project's environment lock: `uv.lock` (uv's own, with a `pyproject.toml` beside it)
//! or `pylock.toml` (PEP 751), at the project's root, first found wins. When there is one,
//! it alone says what the venv holds: `[env] requirements` are not installed, and the
//! develop step syncs the venv to it with uv (pybuild's own when none is on PATH, whatever
//! `[env] installer` says: pip cannot sync to a `uv.lock`, nor install an editable project
//! from a hashed `pylock.toml`).

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::base::paths;
pub(crate) use crate::base::project::EnvLock;
use crate::python::uv_lock::UvLock;

/// What the lock holds: every package it names (for any platform), and whether it installs
/// the project `project` itself, editable, from the root.
pub(crate) fn read(lock: EnvLock, root: &Path, project: &str) -> Result<Locked> {
    let path = root.join(lock.file_name());
    if lock == EnvLock::Uv {
        let uv_lock = UvLock::read(&path)?;
        return Ok(Locked {
            names: uv_lock
                .packages()
                .map(|(name, _)| name.to_string())
                .collect(),
            versions: uv_lock
                .packages()
                .filter_map(|(name, version)| Some((name.to_string(), version?.to_string())))
                .collect(),
            installs_project: uv_lock.installs_editable_root(project),
            outside_sources: uv_lock.outside_sources(),
        });
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file: Pylock =
        toml::from_str(&text).with_context(|| format!("cannot read {}", path.display()))?;
    let project = crate::python::installed::normalize(project);
    let installs_project = file.packages.iter().any(|package| {
        crate::python::installed::normalize(&package.name) == project
            && package
                .directory
                .as_ref()
                .is_some_and(|dir| dir.editable && Path::new(&dir.path) == Path::new("."))
    });
    let outside_sources = file
        .packages
        .iter()
        .filter(|package| {
            package
                .directory
                .as_ref()
                .is_some_and(|dir| paths::leaves_root(&dir.path))
        })
        .map(|package| package.name.clone())
        .collect();
    Ok(Locked {
        outside_sources,
        names: file
            .packages
            .iter()
            .map(|package| package.name.clone())
            .collect(),
        versions: file
            .packages
            .into_iter()
            .filter_map(|package| Some((package.name, package.version?)))
            .collect(),
        installs_project,
    })
}

pub(crate) struct Locked {
    pub(crate) names: Vec<String>,
    /// Each package's version (a lock may hold several for one name, by platform).
    pub(crate) versions: Vec<(String, String)>,
    pub(crate) installs_project: bool,
    /// The packages it installs from a folder outside the root (`../lib`, `/srv/lib`):
    /// their code is not pinned by any file of the checkout.
    pub(crate) outside_sources: Vec<String>,
}

/// The parts of `pylock.toml` pybuild reads (`uv.lock` is `python::uv_lock`'s).
#[derive(Deserialize)]
struct Pylock {
    #[serde(default)]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    directory: Option<Directory>,
}

#[derive(Deserialize)]
struct Directory {
    path: String,
    #[serde(default)]
    editable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pylock_names_its_packages_and_the_editable_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pylock.toml"),
            "lock-version = \"1.0\"\n\n[[packages]]\nname = \"six\"\nversion = \"1.15.0\"\n\n\
             [[packages]]\nname = \"uv_app\"\ndirectory = { path = \".\", editable = true }\n\n\
             [[packages]]\nname = \"inside\"\ndirectory = { path = \"libs/inside\" }\n\n\
             [[packages]]\nname = \"beside\"\ndirectory = { path = \"../beside\", editable = true }\n",
        )
        .unwrap();
        assert_eq!(EnvLock::find(dir.path()), Some(EnvLock::Pylock));
        let locked = read(EnvLock::Pylock, dir.path(), "uv-app").unwrap();
        assert_eq!(locked.names, ["six", "uv_app", "inside", "beside"]);
        assert!(locked.installs_project);
        assert_eq!(locked.outside_sources, ["beside"]);
        assert!(
            !read(EnvLock::Pylock, dir.path(), "other")
                .unwrap()
                .installs_project
        );
    }

    #[test]
    fn a_uv_lock_counts_only_beside_a_pyproject() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("uv.lock"),
            "version = 1\n\n[[package]]\nname = \"idna\"\nversion = \"3.4\"\n\n\
             [[package]]\nname = \"app\"\nsource = { editable = \".\" }\n",
        )
        .unwrap();
        assert_eq!(EnvLock::find(dir.path()), None);
        std::fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        assert_eq!(EnvLock::find(dir.path()), Some(EnvLock::Uv));
        let locked = read(EnvLock::Uv, dir.path(), "app").unwrap();
        assert_eq!(locked.names, ["idna", "app"]);
    }
}
