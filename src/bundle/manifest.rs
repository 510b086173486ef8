//! What a bundle ships, proven against the venv it was built from, and written beside it.
//!
//! After a backend built an archive (PEX, shiv, zipapp), every distribution inside it
//! (each `*.dist-info/METADATA`, the dependencies PEX's wheels included) must be installed
//! in the venv at the same version: one that differs fails the build with the list of
//! differences, and the previous bundle stays in place. The manifest
//! (`<output stem>.manifest.json`) then says what shipped and from which environment
//! files. A PyInstaller executable is not a zip: its manifest lists the venv's
//! distributions it was analysed from, with `"verified": false`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::error::UserError;
use crate::installed;
use crate::statcache::hash_file;
use crate::step::Context;
use crate::{args, state};

/// Bumped when a key changes meaning.
pub const FORMAT: u32 = 1;

/// Lists `name<TAB>version` for each distribution's METADATA in a zip archive.
const LIST_DISTRIBUTIONS: &str = r#"
import email.parser, sys, zipfile
parser = email.parser.BytesHeaderParser()
with zipfile.ZipFile(sys.argv[1]) as archive:
    for name in archive.namelist():
        if name.endswith(".dist-info/METADATA"):
            headers = parser.parsebytes(archive.read(name))
            print(headers["Name"] + "\t" + headers["Version"])
"#;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub format: u32,
    pub bundle: String,
    pub kind: String,
    /// Whether the distributions were read from the bundle itself and matched the venv.
    pub verified: bool,
    /// The files the venv's environment comes from, with their content hashes.
    pub environment: BTreeMap<String, String>,
    /// Name → version of what the bundle carries.
    pub distributions: BTreeMap<String, String>,
}

/// The distributions inside the zip archive `archive`, by normalised name.
pub fn read_archive(cx: &Context, archive: &Path) -> Result<BTreeMap<String, String>> {
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

/// The venv's distributions, by normalised name.
pub fn venv_distributions(site_packages: &Path) -> BTreeMap<String, String> {
    installed::list(site_packages)
        .into_iter()
        .map(|dist| (installed::normalize(&dist.name), dist.version))
        .collect()
}

/// Fails, naming each difference, unless every shipped distribution is in the venv at the
/// same version.
pub fn check(
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
pub fn path_for(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}.manifest.json"))
}

/// The environment files (requirement files and what they include) with their hashes.
pub fn environment(cx: &Context) -> BTreeMap<String, String> {
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

pub fn write(path: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(manifest).context("cannot serialise the manifest")?;
    text.push(b'\n');
    state::write_atomically(path, &text)
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
