//! The venv as pybuild sees it, read once per state of the venv: what is installed (one
//! listing of site-packages: each distribution's name, normalised, and version; its
//! `RECORD`, `METADATA` and entry points read when first asked for, its `RECORD` digest
//! computed on demand), the project's editable install, and what the environment's
//! source pins (`pins`). Where the requirements come from is `python::sources`.
//!
//! A build keeps one [`Env`] (`Build::env`) and reads it again only when the venv
//! changed: the steps and installs that change it say so (`Build::venv_changed`: making
//! the venv, every install, uninstall and sync, a task's commands), and, for any other
//! change (a `pip install` by hand while pybuild waits for the lock), site-packages'
//! own stat data (device, inode, mtime, ctime: an install adds or renames a dist-info in
//! it) must be what it was when it was listed.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Result;

use crate::base::project::Project;
use crate::python::editable::Editable;
use crate::python::installed::{self, Dist, normalize};
use crate::python::pins::{self, Pin};
use crate::python::sources::Sources;

/// One state of a venv's site-packages.
pub(crate) struct Env {
    site_packages: PathBuf,
    stamp: Option<Stamp>,
    dists: Vec<Dist>,
    editable: OnceCell<Option<Editable>>,
    pins: OnceCell<Rc<BTreeMap<String, Pin>>>,
}

/// What site-packages' stat data was when it was listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(dir: &Path) -> Option<Stamp> {
        let meta = dir.metadata().ok()?;
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

impl Env {
    /// Lists `site_packages` (none there: an empty venv).
    pub(crate) fn read(site_packages: &Path) -> Env {
        // The stamp first: a change while listing makes the next look list again.
        let stamp = Stamp::of(site_packages);
        Env {
            site_packages: site_packages.to_path_buf(),
            stamp,
            dists: installed::list(site_packages),
            editable: OnceCell::new(),
            pins: OnceCell::new(),
        }
    }

    /// Whether this is still what `site_packages` holds, as far as its stat data tells.
    pub(crate) fn is_current(&self, site_packages: &Path) -> bool {
        self.site_packages == site_packages && self.stamp == Stamp::of(site_packages)
    }

    pub(crate) fn site_packages(&self) -> &Path {
        &self.site_packages
    }

    /// Every installed distribution, sorted by name.
    pub(crate) fn dists(&self) -> &[Dist] {
        &self.dists
    }

    /// Whether nothing is installed (or there is no venv).
    pub(crate) fn is_empty(&self) -> bool {
        self.dists.is_empty()
    }

    /// The distribution of that name (PEP 503 normalised).
    pub(crate) fn find(&self, name: &str) -> Option<&Dist> {
        installed::find(&self.dists, name)
    }

    /// The installed version of a distribution.
    pub(crate) fn version(&self, name: &str) -> Option<&str> {
        self.find(name).map(|dist| dist.version.as_str())
    }

    /// Every distribution's version, by normalised name.
    pub(crate) fn versions(&self) -> BTreeMap<String, String> {
        self.dists
            .iter()
            .map(|dist| (dist.key.clone(), dist.version.clone()))
            .collect()
    }

    /// Every distribution but `project`'s.
    pub(crate) fn others<'e>(&'e self, project: &str) -> impl Iterator<Item = &'e Dist> {
        let project = normalize(project);
        self.dists.iter().filter(move |dist| dist.key != project)
    }

    /// The distributions whose install is incomplete (see `Dist::is_complete`).
    pub(crate) fn broken(&self) -> Vec<&Dist> {
        self.dists
            .iter()
            .filter(|dist| !dist.is_complete(&self.site_packages))
            .collect()
    }

    /// The `Requires-Dist` of `name` that apply without extras; none when it is not
    /// installed.
    pub(crate) fn requires(&self, name: &str) -> Vec<String> {
        self.find(name).map(Dist::requires).unwrap_or_default()
    }

    /// The editable install of the project `name` at `root`, read once.
    pub(crate) fn editable(&self, name: &str, root: &Path) -> Option<&Editable> {
        self.editable
            .get_or_init(|| Editable::read(self.find(name)?, &self.site_packages, root))
            .as_ref()
    }

    /// What the environment's source pins (see `pins::pins`), computed once.
    pub(crate) fn pins(
        &self,
        sources: &Sources,
        project: &Project,
    ) -> Result<Rc<BTreeMap<String, Pin>>> {
        if let Some(pins) = self.pins.get() {
            return Ok(pins.clone());
        }
        let name = &project.config.project.name;
        let pins = Rc::new(pins::pins(
            sources,
            &project.root,
            name,
            &self.requires(name),
        )?);
        Ok(self.pins.get_or_init(|| pins).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_install_makes_the_listing_stale() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("site-packages");
        let env = Env::read(&sp);
        assert!(env.is_empty());
        assert!(env.is_current(&sp));
        std::fs::create_dir_all(sp.join("six-1.16.0.dist-info")).unwrap();
        assert!(!env.is_current(&sp));
        // An old mtime: the change below cannot fall in the clock tick of the listing.
        filetime::set_file_mtime(&sp, filetime::FileTime::from_unix_time(1, 0)).unwrap();
        let env = Env::read(&sp);
        assert_eq!(env.version("Six"), Some("1.16.0"));
        assert!(env.is_current(&sp));
        assert!(!env.is_current(&dir.path().join("other")));
        std::fs::create_dir_all(sp.join("idna-3.4.dist-info")).unwrap();
        assert!(!env.is_current(&sp));
    }
}
