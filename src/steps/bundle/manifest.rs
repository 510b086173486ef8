//! What a bundle ships, proven against the venv it was built from, and written beside it.
//!
//! After a backend built an archive (PEX, shiv, zipapp), every distribution inside it
//! (each `*.dist-info/METADATA`, the dependencies PEX's wheels included) must be installed
//! in the venv at the same version: one that differs fails the build with the list of
//! differences, and the previous bundle stays in place. The manifest
//! (`<output stem>.manifest.json`) then says what shipped and from which environment
//! files, and which of them pins each version (see [`against_pins`]). A PyInstaller
//! executable is not a zip: its manifest lists the distributions it holds modules of
//! (read back with PyInstaller's archive reader) at the venv's versions, with
//! `"verified": false`, since the executable records no versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::args;
use crate::base::error::UserError;
use crate::engine::statcache::hash_file;
use crate::engine::state;
use crate::python::build::Build;
use crate::python::installed;
use crate::python::pins::Pin;

/// Bumped when a key changes meaning.
pub(crate) const FORMAT: u32 = 2;

/// Lists `name<TAB>version` for each distribution's METADATA in a zip archive, where an
/// installed distribution's is: at the root (the code layer, a zipapp), in a
/// `site-packages` folder (shiv), or at the root of one of a PEX's `.deps/` wheels. Not
/// the copies a package vendors inside itself (setuptools' `_vendor/*.dist-info`), which
/// ship as that package's files.
const LIST_DISTRIBUTIONS: &str = r#"
import email.parser, sys, zipfile
parser = email.parser.BytesHeaderParser()
with zipfile.ZipFile(sys.argv[1]) as archive:
    for name in archive.namelist():
        parts = name.split("/")
        if len(parts) < 2 or not name.endswith(".dist-info/METADATA"):
            continue
        parent = parts[:-2]
        if parent and parent[-1] != "site-packages" and not (len(parent) == 2 and parent[0] == ".deps"):
            continue
        headers = parser.parsebytes(archive.read(name))
        print(headers["Name"] + "\t" + headers["Version"])
"#;

/// Lists the distributions whose top-level modules, packages or files are inside a
/// PyInstaller executable (its archive and the PYZ in it, read with PyInstaller's own
/// reader), by the venv's map from top-level names to distributions.
const LIST_FROZEN: &str = r#"
import importlib.metadata as md, re, sys
from PyInstaller.archive.readers import CArchiveReader
archive = CArchiveReader(sys.argv[1])
names = set()
for name, entry in archive.toc.items():
    if entry[-1] == "z":
        names.update(archive.open_embedded_archive(name).toc)
    else:
        names.add(name)
tops = {re.split(r"[./\\]", name)[0] for name in names}
owners = md.packages_distributions()
for top in sorted(tops):
    for dist in owners.get(top, []):
        print(dist)
"#;

#[derive(Debug, Serialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    pub(crate) bundle: String,
    pub(crate) kind: String,
    /// Whether the distributions were read from the bundle itself and matched the venv.
    pub(crate) verified: bool,
    /// The files the venv's environment comes from, with their content hashes.
    pub(crate) environment: BTreeMap<String, String>,
    /// Name → version of what the bundle carries.
    pub(crate) distributions: BTreeMap<String, String>,
    /// Name → the environment file that pins the version shipped: the venv was synced to
    /// it (a version changed by hand in the venv was put back before the build).
    pub(crate) pinned: BTreeMap<String, String>,
    /// What shipped at the version the venv holds, which no environment file pins (an
    /// open requirement, resolved when the venv was set up, or changed by hand since).
    pub(crate) unpinned: Vec<String>,
}

/// Splits what shipped (the project itself aside) into what the environment's source
/// pins and what it does not; fails, naming each, when a shipped version is not the
/// pinned one (the venv was not synced to its source: never ship that).
pub(crate) fn against_pins(
    shipped: &BTreeMap<String, String>,
    pins: &BTreeMap<String, Pin>,
    project: &str,
    output: &str,
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let project = installed::normalize(project);
    let mut pinned = BTreeMap::new();
    let mut unpinned = Vec::new();
    let mut differences = Vec::new();
    for (name, version) in shipped.iter().filter(|(name, _)| **name != project) {
        match pins.get(name) {
            Some(pin) if pin.versions.contains(version) => {
                pinned.insert(name.clone(), pin.file.clone());
            }
            Some(pin) => differences.push(format!(
                "{name}: {version} in the venv and the bundle, {} pins {}",
                pin.file,
                pin.versions.join(" or ")
            )),
            None => unpinned.push(name.clone()),
        }
    }
    if differences.is_empty() {
        return Ok((pinned, unpinned));
    }
    Err(UserError::failure(format!(
        "{output} would ship other versions than the environment's source pins:\n  {}",
        differences.join("\n  ")
    ))
    .hint("the previous bundle was left in place; `pybuild develop` syncs the venv again")
    .into())
}

/// The distributions inside the zip archive `archive`, by normalised name.
pub(crate) fn read_archive(cx: &Build, archive: &Path) -> Result<BTreeMap<String, String>> {
    let out = cx
        .runner
        .capture(
            cx.project.venv_python(),
            &args!["-c", LIST_DISTRIBUTIONS, archive],
        )
        .with_context(|| format!("cannot list the distributions in {}", archive.display()))?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, version)| (installed::normalize(name), version.to_string()))
        .collect())
}

/// The distributions a PyInstaller executable holds modules of, at the venv's versions
/// (PyInstaller took them from the venv's site-packages): the executable records no
/// versions of its own.
pub(crate) fn read_executable(
    cx: &Build,
    executable: &Path,
    venv: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let out = cx
        .runner
        .capture(
            cx.project.venv_python(),
            &args!["-c", LIST_FROZEN, executable],
        )
        .with_context(|| format!("cannot list the modules in {}", executable.display()))?;
    Ok(out
        .lines()
        .map(installed::normalize)
        .filter_map(|name| Some((name.clone(), venv.get(&name)?.clone())))
        .collect())
}

/// The venv's distributions, by normalised name.
pub(crate) fn venv_distributions(site_packages: &Path) -> BTreeMap<String, String> {
    installed::list(site_packages)
        .into_iter()
        .map(|dist| (installed::normalize(&dist.name), dist.version))
        .collect()
}

/// Fails, naming each difference, unless every shipped distribution is in the venv at the
/// same version.
pub(crate) fn check(
    shipped: &BTreeMap<String, String>,
    venv: &BTreeMap<String, String>,
    output: &str,
) -> Result<()> {
    let differences: Vec<String> = shipped
        .iter()
        .filter_map(|(name, version)| match venv.get(name) {
            Some(installed) if installed == version => None,
            Some(installed) => Some(format!(
                "{name}: the bundle has {version}, the venv {installed}"
            )),
            None => Some(format!(
                "{name}: the bundle has {version}, the venv has none"
            )),
        })
        .collect();
    if differences.is_empty() {
        return Ok(());
    }
    Err(UserError::failure(format!(
        "{output} would ship other versions than the venv was tested with:\n  {}",
        differences.join("\n  ")
    ))
    .hint("the previous bundle was left in place; `pybuild -v bundle` shows how it was built")
    .into())
}

/// Where the manifest of `output` goes: beside it, `<stem>.manifest.json`.
pub(crate) fn path_for(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}.manifest.json"))
}

/// The environment files (requirement files and what they include) with their hashes.
pub(crate) fn environment(cx: &Build) -> BTreeMap<String, String> {
    let mut files = cx.project.requirement_inputs();
    files.push("pyproject.toml".into());
    files
        .into_iter()
        .filter_map(|file| {
            let hash = hash_file(&cx.project.root.join(&file)).ok()?;
            Some((file, hash))
        })
        .collect()
}

pub(crate) fn write(path: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(manifest).context("cannot serialise the manifest")?;
    text.push(b'\n');
    state::write_shared(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_version_the_venv_does_not_have_is_named() {
        let venv = map(&[("six", "1.15.0"), ("idna", "3.4")]);
        check(&map(&[("six", "1.15.0")]), &venv, "dist/app.pex").unwrap();
        let err = check(
            &map(&[("six", "1.17.0"), ("click", "8")]),
            &venv,
            "dist/app.pex",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("six: the bundle has 1.17.0, the venv 1.15.0"),
            "{err}"
        );
        assert!(
            err.contains("click: the bundle has 8, the venv has none"),
            "{err}"
        );
    }

    #[test]
    fn what_ships_is_split_by_the_pins_and_a_wrong_version_is_named() {
        let pins: BTreeMap<String, Pin> = [(
            "six".to_string(),
            Pin {
                versions: vec!["1.16.0".into()],
                file: "requirements.txt".into(),
            },
        )]
        .into();
        let shipped = map(&[("six", "1.16.0"), ("idna", "3.4"), ("app", "1.0")]);
        let (pinned, unpinned) = against_pins(&shipped, &pins, "App", "dist/app.pex").unwrap();
        assert_eq!(pinned, map(&[("six", "requirements.txt")]));
        assert_eq!(unpinned, ["idna"]);
        let err = against_pins(&map(&[("six", "1.15.0")]), &pins, "app", "dist/app.pex")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("six: 1.15.0 in the venv and the bundle, requirements.txt pins 1.16.0"),
            "{err}"
        );
    }

    #[test]
    fn the_manifest_sits_beside_the_bundle() {
        assert_eq!(
            path_for(Path::new("/p/dist/greet.pex")),
            Path::new("/p/dist/greet.manifest.json")
        );
        assert_eq!(
            path_for(Path::new("/p/dist/greet")),
            Path::new("/p/dist/greet.manifest.json")
        );
    }
}
