//! Path dependencies: distributions the venv holds as editable installs of a folder other
//! than the project's (`-e ../lib` in a requirement file, uv's `{ path = "../lib",
//! editable = true }`), a workspace's members aside (an app carries those as its own
//! code, see `workspace`).
//!
//! The venv runs their code from that folder as it is now, and that is what the tests
//! ran. So the bundle step takes the folder's files as inputs: an edit there rebuilds the
//! bundle, and the dependencies PEX, which pex builds from the folder as it then is. A
//! bundler that installs rather than reading the venv installs a staged copy of the
//! folder, never the folder itself (setuptools' `build/` there would outlive a deleted
//! module). A requirement-file line naming the folder reaches pex as the distribution's
//! name: pex refuses a folder among the requirements it takes from a venv.
//!
//! Their files are chosen by the rules the project's are (the built-in exclusions, what
//! tools write, `.gitignore`), without `[bundle] sources`, which speaks of the project's
//! tree; and the project, when it lies inside such a folder, is not among them.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::percent;
use crate::base::project::Project;
use crate::engine::fileset::{self, Rules, Scope};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::listing::Listing;
use crate::engine::statcache::{StatCache, hash_bytes};
use crate::python::byproducts;
use crate::python::env::Env;
use crate::python::sources::install_target;

/// An install of a folder other than the project's: editable (a path dependency), or a
/// copy of it made at install time (see [`folder_installs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathDep {
    /// As its dist-info spells it.
    pub(crate) name: String,
    /// Its folder, as the install names it.
    pub(crate) dir: PathBuf,
    /// The folder relative to the project's root (`../lib`), `/`-separated: how its files
    /// are named among the bundle's inputs and in messages.
    pub(crate) rel: String,
    /// Whether the venv runs the folder itself (else a copy made at install time).
    pub(crate) editable: bool,
}

/// The path dependencies of `project` installed in `env`, by name (those its bundle may
/// ship: `closure::shipped_path_deps`).
pub(crate) fn of(env: &Env, project: &Project) -> Vec<PathDep> {
    installed_from_folders(env, project, true)
}

/// The one of `deps` whose folder the requirement `line` installs (`-e ../lib`,
/// `../lib[x]`, `file:../lib`), relative to one of `bases` (the file's folder, the root
/// pip runs in), with the line's extras (`[x]`, or empty).
pub(crate) fn named_by<'d>(
    line: &str,
    bases: &[&Path],
    deps: &'d [PathDep],
) -> Option<(&'d PathDep, String)> {
    let target = install_target(line);
    let target = target
        .strip_prefix("file://")
        .or_else(|| target.strip_prefix("file:"))
        .unwrap_or(target);
    let (path, extras) = match target.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((path, extras)) => (path, format!("[{extras}]")),
        None => (target, String::new()),
    };
    if !(path.starts_with('.') || path.starts_with('/')) {
        return None;
    }
    let folders: Vec<PathBuf> = bases
        .iter()
        .filter_map(|base| fs::canonicalize(base.join(path)).ok())
        .collect();
    let dep = deps
        .iter()
        .find(|dep| fs::canonicalize(&dep.dir).is_ok_and(|dir| folders.contains(&dir)))?;
    Some((dep, extras))
}

/// What `env` holds installed from a local folder, editable or not (a copy, then), other
/// than `project` and its workspace's members: what a requirement line naming a folder
/// installed, which pex takes from the venv by name.
pub(crate) fn folder_installs(env: &Env, project: &Project) -> Vec<PathDep> {
    installed_from_folders(env, project, false)
}

fn installed_from_folders(env: &Env, project: &Project, editable_only: bool) -> Vec<PathDep> {
    let mut deps: Vec<PathDep> = env
        .others(&project.config.project.name)
        .filter(|dist| !project.is_member(&dist.name))
        .filter_map(|dist| {
            let (dir, editable) = installed_from(&dist.dist_info)?;
            if editable_only && !editable {
                return None;
            }
            let rel = relative(&project.root, &dir)?;
            Some(PathDep {
                name: dist.name.clone(),
                dir,
                rel,
                editable,
            })
        })
        .collect();
    deps.sort_by(|a, b| a.name.cmp(&b.name));
    deps
}

impl PathDep {
    /// Its input files, each named relative to the project's `root` (`../lib/src/lib.py`).
    /// A folder that is gone is an error that says which install names it.
    pub(crate) fn files(&self, root: &Path) -> Result<Vec<String>> {
        if !self.dir.is_dir() {
            anyhow::bail!(
                "the venv holds {} as an editable install of {}, which is not a folder any more: \
                 reinstall it, or remove it from the project's requirements",
                self.name,
                self.dir.display()
            );
        }
        // The project, when it lies inside the folder (`-e ..`), is not the dependency's.
        let scope = root.strip_prefix(&self.dir).ok().map(|inside| Scope {
            include: vec![".".into()],
            exclude: vec![inside.to_string_lossy().into_owned()],
        });
        let rules = Rules {
            venv: None,
            outputs: Vec::new(),
            sources: Vec::new(),
            external_links: Vec::new(),
            tool_files: byproducts::tool_files(),
            scope,
        };
        // A listing and hashes of their own: their keys are relative to the folder.
        let set = fileset::project_files(
            &self.dir,
            &rules,
            &mut Listing::default(),
            &mut StatCache::default(),
        )
        .with_context(|| {
            format!(
                "cannot list the files of {}, the editable install of {}",
                self.dir.display(),
                self.name
            )
        })?;
        let links = set.links.iter().map(|link| &link.path);
        let mut files: Vec<String> = set
            .files
            .iter()
            .chain(links)
            .map(|file| format!("{}/{file}", self.rel))
            .collect();
        files.sort();
        files.dedup();
        Ok(files)
    }
}

/// A path dependency as a bundle build takes it: its input files, named from the project's
/// root, and one digest of their contents (what the dependencies PEX is keyed by).
#[derive(Debug)]
pub(crate) struct PathDepInputs {
    pub(crate) dep: PathDep,
    pub(crate) files: Vec<String>,
    pub(crate) digest: String,
}

impl PathDepInputs {
    /// `files`, whose hashes `fingerprint` holds.
    pub(crate) fn new(dep: PathDep, files: Vec<String>, fingerprint: &Fingerprint) -> Self {
        let mut text = String::new();
        for file in &files {
            let hash = fingerprint.files.get(file).map_or("", String::as_str);
            text.push_str(&format!("{file} {hash}\n"));
        }
        let digest = hash_bytes(text.as_bytes());
        PathDepInputs { dep, files, digest }
    }

    /// Its files relative to its own folder, in `files`' order.
    pub(crate) fn files_in_folder(&self) -> Vec<String> {
        let prefix = format!("{}/", self.dep.rel);
        self.files
            .iter()
            .filter_map(|file| file.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }
}

/// The folder `direct_url.json` in `dist_info` names when it records an install of a local
/// folder (PEP 610: `{"url": "file:///…", "dir_info": {…}}`), and whether that install is
/// editable (`"editable": true`).
fn installed_from(dist_info: &Path) -> Option<(PathBuf, bool)> {
    let text = fs::read_to_string(dist_info.join("direct_url.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let dir_info = value.get("dir_info")?;
    let editable = dir_info["editable"] == serde_json::Value::Bool(true);
    let path = value["url"].as_str()?.strip_prefix("file://")?;
    let path = path.strip_prefix("localhost").unwrap_or(path);
    let path = PathBuf::from(percent::decoded(path));
    path.is_absolute().then_some((path, editable))
}

/// `dir` relative to `root` (both absolute), `/`-separated, with `..` where it is outside;
/// `None` for the root itself or a path that is not UTF-8.
fn relative(root: &Path, dir: &Path) -> Option<String> {
    let root: Vec<Component> = root.components().collect();
    let dir: Vec<Component> = dir.components().collect();
    let common = root.iter().zip(&dir).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; root.len() - common];
    for part in &dir[common..] {
        parts.push(part.as_os_str().to_str()?);
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_named_from_the_root_with_dots_for_what_is_outside() {
        let root = Path::new("/work/app");
        assert_eq!(relative(root, Path::new("/work/lib")).unwrap(), "../lib");
        assert_eq!(
            relative(root, Path::new("/work/app/plugins/p")).unwrap(),
            "plugins/p"
        );
        assert_eq!(relative(root, Path::new("/")).unwrap(), "../..");
        assert_eq!(relative(root, Path::new("/work")).unwrap(), "..");
        assert_eq!(relative(root, root), None);
    }

    #[test]
    fn an_install_of_a_local_folder_names_it_and_says_whether_it_is_editable() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| fs::write(dir.path().join("direct_url.json"), text).unwrap();
        let folder = |path: &str, editable| Some((PathBuf::from(path), editable));
        for (text, want) in [
            (
                r#"{"url": "file:///home/me/my%20lib", "dir_info": {"editable": true}}"#,
                folder("/home/me/my lib", true),
            ),
            (
                r#"{"url": "file://localhost/srv/lib", "dir_info": {"editable": true}}"#,
                folder("/srv/lib", true),
            ),
            (
                r#"{"url": "file:///srv/lib", "dir_info": {}}"#,
                folder("/srv/lib", false),
            ),
            (
                r#"{"url": "file:///srv/lib", "dir_info": {"editable": false}}"#,
                folder("/srv/lib", false),
            ),
            (
                r#"{"url": "https://example.com/lib.tar.gz", "archive_info": {}}"#,
                None,
            ),
            (
                r#"{"url": "file:///srv/lib.whl", "archive_info": {}}"#,
                None,
            ),
            (
                r#"{"url": "file://relative/lib", "dir_info": {"editable": true}}"#,
                None,
            ),
            ("not json", None),
        ] {
            write(text);
            assert_eq!(installed_from(dir.path()), want, "{text}");
        }
    }
}
