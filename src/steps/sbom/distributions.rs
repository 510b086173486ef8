//! The Python distributions a zip bundle ships, as the SBOM describes them: each one the
//! bundle's manifest lists, found in the bundle at that version, with its licence and a
//! hash, read from the bundle itself (its `*.dist-info/` at an installed root: the
//! archive's root, a `site-packages` folder, or a PEX's `.deps/<wheel>/`).
//!
//! - **Licence**, from its `METADATA`: `License-Expression` (an SPDX expression, PEP 639)
//!   when there is one; else the `License` field when it is one line; else the names of
//!   its `License ::` classifiers. None of them: none is claimed.
//! - **Hash**: the SHA-256 of the distribution's `RECORD` as the bundle carries it. A
//!   `RECORD` lists the SHA-256 of every file of the distribution, and each of those the
//!   bundle holds is checked to be at that hash first (one that is not fails the step),
//!   so the hash pins the distribution's files as shipped. It is not the hash of a wheel
//!   on an index: the bundle carries installed files, not wheels. A distribution without
//!   a `RECORD` (the project's own, in a layered PEX) gets no hash, and says so.
//!
//! The manifest and the bundle must list the same distributions at the same versions (the
//! bundle step made one from the other): a difference means the manifest is not this
//! bundle's, and fails the step.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::base::distribution_name::normalize;
use crate::base::error::UserError;

/// A distribution the bundle ships.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Distribution {
    /// Its PEP 503 name, as the manifest lists it.
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) licence: Licence,
    /// Its `RECORD`, checked against the bundle, if it has one.
    pub(crate) record: Option<Record>,
}

/// What a distribution's metadata says of its licence.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Licence {
    Expression(String),
    Names(Vec<String>),
    Unknown,
}

/// A distribution's `RECORD` in the bundle: its entry, its SHA-256 (hex), and how many of
/// the files it lists were found in the bundle at their hash.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) entry: String,
    pub(crate) sha256: String,
    pub(crate) checked: usize,
}

/// The distributions of `manifest` (name → version) as the zip bundle `bundle` (named
/// `shown` in messages) ships them, in the manifest's order.
pub(crate) fn read(
    bundle: &Path,
    shown: &str,
    manifest: &BTreeMap<String, String>,
) -> Result<Vec<Distribution>> {
    let file = File::open(bundle).with_context(|| format!("cannot open {shown}"))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{shown} is not a readable zip"))?;
    let names: HashMap<String, usize> = (0..zip.len())
        .filter_map(|i| Some((zip.name_for_index(i)?.to_string(), i)))
        .collect();
    let mut found: BTreeMap<String, Distribution> = BTreeMap::new();
    let mut metadata: Vec<&String> = names
        .keys()
        .filter(|n| dist_info_root(n).is_some())
        .collect();
    metadata.sort();
    for entry in metadata {
        let root = dist_info_root(entry).unwrap_or_default();
        let text = entry_bytes(&mut zip, names[entry], entry, shown)?;
        let headers = headers(&String::from_utf8_lossy(&text));
        let field = |key: &str| {
            (headers.iter())
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        let (Some(name), Some(version)) = (field("Name"), field("Version")) else {
            continue;
        };
        let dist_info = entry.trim_end_matches("METADATA");
        let record_entry = format!("{dist_info}RECORD");
        let record = match names.get(&record_entry) {
            Some(&index) => Some(check_record(
                &mut zip,
                &names,
                index,
                &record_entry,
                root,
                shown,
            )?),
            None => None,
        };
        let name = normalize(&name);
        found.insert(
            name.clone(),
            Distribution {
                name,
                version,
                licence: licence(&headers),
                record,
            },
        );
    }
    let mut differences = Vec::new();
    for (name, version) in manifest {
        match found.get(name) {
            Some(dist) if dist.version == *version => {}
            Some(dist) => differences.push(format!(
                "{name}: the manifest says {version}, the bundle has {}",
                dist.version
            )),
            None => differences.push(format!("{name}: in the manifest, not in the bundle")),
        }
    }
    for name in found.keys().filter(|n| !manifest.contains_key(*n)) {
        differences.push(format!("{name}: in the bundle, not in the manifest"));
    }
    if !differences.is_empty() {
        return Err(UserError::failure(format!(
            "the manifest beside {shown} does not describe it:\n  {}",
            differences.join("\n  ")
        ))
        .hint("build the bundle again: `pybuild bundle`")
        .into());
    }
    Ok(found.into_values().collect())
}

/// The folder a distribution is installed in, when `entry` is the `METADATA` of one: the
/// archive's root (`""`), a `site-packages` folder, or a PEX's `.deps/<wheel>/`.
fn dist_info_root(entry: &str) -> Option<&str> {
    let dist_info = entry.strip_suffix("/METADATA")?;
    if !dist_info.ends_with(".dist-info") {
        return None;
    }
    let root = dist_info.rsplit_once('/').map_or("", |(root, _)| root);
    let parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    matches!(parts.as_slice(), [] | [.., "site-packages"] | [".deps", _])
        .then(|| &entry[..root.len() + usize::from(!root.is_empty())])
}

fn entry_bytes<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    name: &str,
    shown: &str,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    zip.by_index(index)
        .and_then(|mut entry| Ok(entry.read_to_end(&mut bytes)?))
        .with_context(|| format!("cannot read {name} in {shown}"))?;
    Ok(bytes)
}

/// The `RECORD` at `index`, hashed, each file it lists with a hash that the bundle holds
/// checked to be at that hash.
fn check_record<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    names: &HashMap<String, usize>,
    index: usize,
    entry: &str,
    root: &str,
    shown: &str,
) -> Result<Record> {
    let bytes = entry_bytes(zip, index, entry, shown)?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let mut checked = 0;
    for line in String::from_utf8_lossy(&bytes).lines() {
        let Some((path, hash)) = record_row(line) else {
            continue;
        };
        let Some(expected) = hash.strip_prefix("sha256=") else {
            continue;
        };
        let file = format!("{root}{path}");
        let Some(&at) = names.get(&file) else {
            continue;
        };
        // Streamed: a distribution's file may be a shared library of hundreds of MB.
        let mut hasher = Sha256::new();
        zip.by_index(at)
            .and_then(|mut entry| Ok(std::io::copy(&mut entry, &mut hasher)?))
            .with_context(|| format!("cannot read {file} in {shown}"))?;
        let actual = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize());
        if actual != expected.trim_end_matches('=') {
            return Err(UserError::failure(format!(
                "{file} in {shown} is not the file {entry} lists (sha256={expected}, it has \
                 sha256={actual})"
            ))
            .into());
        }
        checked += 1;
    }
    Ok(Record {
        entry: entry.to_string(),
        sha256,
        checked,
    })
}

/// A `RECORD` row's path and hash: `path,hash,size`, the path quoted when it holds a comma.
fn record_row(line: &str) -> Option<(String, &str)> {
    let (path, rest) = match line.strip_prefix('"') {
        Some(quoted) => {
            let end = quoted.find("\",")?;
            (quoted[..end].replace("\"\"", "\""), &quoted[end + 2..])
        }
        None => {
            let (path, rest) = line.split_once(',')?;
            (path.to_string(), rest)
        }
    };
    let hash = rest.split(',').next()?;
    let path = path.trim_start_matches("./");
    (!path.split('/').any(|p| p == "..")).then(|| (path.to_string(), hash))
}

/// The headers of a `METADATA` file (RFC 822: up to the first empty line; a line starting
/// with a space continues the one before).
fn headers(text: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            break;
        };
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    headers
}

/// What `headers` say of the licence (see the module's doc for the order).
fn licence(headers: &[(String, String)]) -> Licence {
    let field = |key: &str| {
        (headers.iter())
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("UNKNOWN"))
    };
    if let Some(expression) = field("License-Expression") {
        return Licence::Expression(expression.to_string());
    }
    if let Some(licence) = field("License")
        && !licence.contains('\n')
    {
        return Licence::Names(vec![licence.to_string()]);
    }
    let classifiers: Vec<String> = (headers.iter())
        .filter(|(k, _)| k.eq_ignore_ascii_case("Classifier"))
        .filter_map(|(_, v)| v.strip_prefix("License ::"))
        .map(|v| v.rsplit(" :: ").next().unwrap_or(v).trim().to_string())
        .collect();
    match classifiers.is_empty() {
        true => Licence::Unknown,
        false => Licence::Names(classifiers),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn headers_of(text: &str) -> Vec<(String, String)> {
        headers(text)
    }

    #[test]
    fn the_licence_is_the_expression_else_a_one_line_licence_else_the_classifiers() {
        let l = |text: &str| licence(&headers_of(text));
        assert_eq!(
            l("Name: a\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n"),
            Licence::Expression("MIT OR Apache-2.0".into())
        );
        assert_eq!(
            l("Name: six\nLicense: MIT\n"),
            Licence::Names(vec!["MIT".into()])
        );
        assert_eq!(
            l("Name: a\nLicense: Copyright (c) A\n  all of the text\n\
               Classifier: License :: OSI Approved :: BSD License\n"),
            Licence::Names(vec!["BSD License".into()])
        );
        assert_eq!(
            l("Name: a\nLicense: UNKNOWN\n\nLicense: MIT\n"),
            Licence::Unknown
        );
    }

    #[test]
    fn a_record_row_is_a_path_and_a_hash() {
        assert_eq!(
            record_row("six.py,sha256=abc,34703"),
            Some(("six.py".into(), "sha256=abc"))
        );
        assert_eq!(
            record_row("\"a,b.py\",sha256=x,1"),
            Some(("a,b.py".into(), "sha256=x"))
        );
        assert_eq!(record_row("../../bin/x,sha256=y,1"), None);
    }

    fn zip_of(files: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, bytes) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    /// A PEX's `.deps/` distribution with its RECORD, and the project at the root
    /// without one: both found; a file changed after its RECORD was written fails.
    #[test]
    fn the_record_is_hashed_once_each_file_it_lists_is_checked() {
        let module = b"print('six')\n";
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(module));
        let record = format!("six.py,sha256={hash},13\nsix-1.0.dist-info/RECORD,,\n");
        let deps = ".deps/six-1.0-py3-none-any.whl/";
        let files = |module: &'static [u8]| {
            zip_of(&[
                (
                    &format!("{deps}six-1.0.dist-info/METADATA"),
                    b"Name: six\nVersion: 1.0\nLicense: MIT\n",
                ),
                (
                    &format!("{deps}six-1.0.dist-info/RECORD"),
                    record.as_bytes(),
                ),
                (&format!("{deps}six.py"), module),
                ("app-2.0.dist-info/METADATA", b"Name: App\nVersion: 2.0\n"),
                ("app/__init__.py", b""),
                ("vendored/x-1.dist-info/METADATA", b"Name: x\nVersion: 1\n"),
            ])
        };
        let good = files(module);
        let manifest: BTreeMap<String, String> =
            [("six".into(), "1.0".into()), ("app".into(), "2.0".into())].into();
        let dists = read(good.path(), "dist/app.pex", &manifest).unwrap();
        assert_eq!(dists.len(), 2);
        assert_eq!(dists[0].name, "app");
        assert_eq!(dists[0].record, None);
        let six = &dists[1];
        assert_eq!(six.licence, Licence::Names(vec!["MIT".into()]));
        let record_hash = hex(&Sha256::digest(record.as_bytes()));
        assert_eq!(
            six.record,
            Some(Record {
                entry: format!("{deps}six-1.0.dist-info/RECORD"),
                sha256: record_hash,
                checked: 1
            })
        );
        let tampered = files(b"print('not six')\n");
        let err = read(tampered.path(), "dist/app.pex", &manifest).unwrap_err();
        assert!(format!("{err:#}").contains("is not the file"), "{err:#}");
        let other: BTreeMap<String, String> = [("six".into(), "1.1".into())].into();
        let err = format!(
            "{:#}",
            read(good.path(), "dist/app.pex", &other).unwrap_err()
        );
        assert!(
            err.contains("six: the manifest says 1.1, the bundle has 1.0"),
            "{err}"
        );
        assert!(
            err.contains("app: in the bundle, not in the manifest"),
            "{err}"
        );
    }
}
