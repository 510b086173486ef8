//! The Debian packages an image carries, from the package database in its layers:
//! `var/lib/dpkg/status` (what `dpkg` keeps; `mmdebstrap` and Debian's images have it) and
//! the files of `var/lib/dpkg/status.d/` (one paragraph per package, as distroless images
//! keep them).
//!
//! The layers are read in order, as a container runtime stacks them: a later layer's
//! `status` replaces an earlier one, its whiteout (`.wh.status`) removes it, and a
//! `status.d` file is replaced or removed one by one. A package counts when dpkg says it
//! is `install ok installed` (a `status.d` paragraph, which says nothing, counts).
//!
//! A base layer is tens of MB of gzip: what each layer holds of the database is kept in
//! `.pybuild/layers/dpkg-<digest>.json`, by the layer's digest (a name that never changes
//! content), so an edit that makes a new code layer reads only that one.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::base::process::temp_name;

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d/";
/// The most read of one database file: a full desktop's `status` is a few MB.
const DATABASE_LIMIT: u64 = 64 << 20;
/// Bumped when what a kept record holds changes meaning.
const RECORD_FORMAT: u32 = 1;

/// An installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) architecture: String,
}

/// A layer of the image, as its manifest names it.
pub(crate) struct LayerRef<'l> {
    pub(crate) digest: &'l str,
    pub(crate) media_type: &'l str,
    pub(crate) path: &'l Path,
}

/// What one layer holds of the package database: each file's text, or `None` for a
/// whiteout removing it.
#[derive(Default, Serialize, Deserialize)]
struct Found {
    format: u32,
    files: BTreeMap<String, Option<String>>,
}

/// The packages installed in the image whose layers are `layers`, bottom first; each
/// layer's part of the database kept in `keep_dir` by its digest.
pub(crate) fn installed(layers: &[LayerRef], keep_dir: &Path) -> Result<Vec<Package>> {
    fs::create_dir_all(keep_dir)
        .with_context(|| format!("cannot create {}", keep_dir.display()))?;
    let mut database: BTreeMap<String, String> = BTreeMap::new();
    let mut kept = Vec::new();
    for layer in layers {
        let hex = (layer.digest.strip_prefix("sha256:"))
            .with_context(|| format!("`{}` is no sha256 digest", layer.digest))?;
        let record = keep_dir.join(format!("dpkg-{hex}.json"));
        kept.push(record.clone());
        let found = match read_record(&record) {
            Some(found) => found,
            None => {
                let found = read_layer(layer)?;
                let temp = keep_dir.join(temp_name());
                fs::write(&temp, serde_json::to_vec(&found)?)
                    .with_context(|| format!("cannot write {}", temp.display()))?;
                fs::rename(&temp, &record)
                    .with_context(|| format!("cannot write {}", record.display()))?;
                found
            }
        };
        for (file, text) in found.files {
            match text {
                Some(text) => database.insert(file, text),
                None => database.remove(&file),
            };
        }
    }
    // The records of layers no longer in the image are of images no longer made.
    for entry in fs::read_dir(keep_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("dpkg-") && !kept.contains(&entry.path()) {
            let _ = fs::remove_file(entry.path());
        }
    }
    let mut packages: Vec<Package> = database.values().flat_map(|t| parse(t)).collect();
    packages.sort();
    packages.dedup();
    Ok(packages)
}

fn read_record(path: &Path) -> Option<Found> {
    let found: Found = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    (found.format == RECORD_FORMAT).then_some(found)
}

/// The database's files in one layer, and its whiteouts of them.
fn read_layer(layer: &LayerRef) -> Result<Found> {
    let file = fs::File::open(layer.path)
        .with_context(|| format!("cannot read the layer {}", layer.digest))?;
    let reader: Box<dyn Read> = if layer.media_type.ends_with("+gzip") {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else if layer.media_type.ends_with(".tar") {
        Box::new(std::io::BufReader::new(file))
    } else {
        bail!(
            "the layer {} is `{}`: only tar and tar+gzip layers are read for the SBOM",
            layer.digest,
            layer.media_type
        );
    };
    let mut found = Found {
        format: RECORD_FORMAT,
        files: BTreeMap::new(),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = (archive.entries()).with_context(|| format!("layer {}", layer.digest))?;
    for entry in entries {
        let mut entry = entry.with_context(|| format!("cannot read the layer {}", layer.digest))?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").trim_start_matches('/');
        let Some((file, whiteout)) = database_file(path) else {
            continue;
        };
        if whiteout {
            found.files.insert(file, None);
        } else if entry.header().entry_type().is_file() {
            let mut text = String::new();
            (&mut entry)
                .take(DATABASE_LIMIT + 1)
                .read_to_string(&mut text)
                .with_context(|| format!("cannot read {path} in the layer {}", layer.digest))?;
            if text.len() as u64 > DATABASE_LIMIT {
                bail!(
                    "{path} in the layer {} is larger than {} MiB: no package database",
                    layer.digest,
                    DATABASE_LIMIT >> 20
                );
            }
            found.files.insert(file, Some(text));
        }
    }
    Ok(found)
}

/// The database file `path` in a layer is, and whether it is a whiteout of it.
fn database_file(path: &str) -> Option<(String, bool)> {
    if path == STATUS {
        return Some((STATUS.to_string(), false));
    }
    if path == "var/lib/dpkg/.wh.status" {
        return Some((STATUS.to_string(), true));
    }
    let name = path.strip_prefix(STATUS_D)?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    match name.strip_prefix(".wh.") {
        Some(removed) => Some((format!("{STATUS_D}{removed}"), true)),
        None => Some((path.to_string(), false)),
    }
}

/// The installed packages a `status` file (or a `status.d` file) lists: paragraphs of
/// `Field: value` lines, continuation lines starting with a space.
pub(crate) fn parse(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for paragraph in text.split("\n\n") {
        let field = |name: &str| {
            paragraph.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (!line.starts_with([' ', '\t']) && key.eq_ignore_ascii_case(name))
                    .then(|| value.trim().to_string())
            })
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            continue;
        };
        if field("Status").is_some_and(|status| status != "install ok installed") {
            continue;
        }
        packages.push(Package {
            name,
            version,
            architecture: field("Architecture").unwrap_or_default(),
        });
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_installed_packages_are_listed() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n\
                    Version: 2.36-9+deb12u4\nDescription: GNU C Library\n this: is no field\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                    Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
        assert_eq!(
            parse(text),
            [
                Package {
                    name: "libc6".into(),
                    version: "2.36-9+deb12u4".into(),
                    architecture: "amd64".into()
                },
                Package {
                    name: "base-files".into(),
                    version: "12.4+deb12u5".into(),
                    architecture: "amd64".into()
                }
            ]
        );
    }

    #[test]
    fn the_database_files_and_their_whiteouts_are_told_apart() {
        assert_eq!(database_file(STATUS), Some((STATUS.into(), false)));
        assert_eq!(
            database_file("var/lib/dpkg/.wh.status"),
            Some((STATUS.into(), true))
        );
        assert_eq!(
            database_file("var/lib/dpkg/status.d/.wh.tzdata"),
            Some(("var/lib/dpkg/status.d/tzdata".into(), true))
        );
        assert_eq!(
            database_file("var/lib/dpkg/status.d/libc6"),
            Some(("var/lib/dpkg/status.d/libc6".into(), false))
        );
        assert_eq!(database_file("var/lib/dpkg/status-old"), None);
        assert_eq!(database_file("var/lib/dpkg/status.d/x/y"), None);
    }

    /// Two layers: the second replaces `status` and removes a `status.d` file, as a
    /// runtime stacking them would; each layer is read once, then taken from its record.
    #[test]
    fn later_layers_replace_and_remove_what_earlier_ones_hold() {
        let dir = tempfile::tempdir().unwrap();
        let layer = |name: &str, files: &[(&str, &str)]| {
            let path = dir.path().join(name);
            let mut builder = tar::Builder::new(fs::File::create(&path).unwrap());
            for (file, text) in files {
                let mut header = tar::Header::new_gnu();
                header.set_size(text.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder
                    .append_data(&mut header, file, text.as_bytes())
                    .unwrap();
            }
            builder.finish().unwrap();
            path
        };
        let one = layer(
            "one",
            &[
                (
                    "./var/lib/dpkg/status",
                    "Package: a\nVersion: 1\nStatus: install ok installed\n",
                ),
                ("var/lib/dpkg/status.d/b", "Package: b\nVersion: 2\n"),
            ],
        );
        let two = layer(
            "two",
            &[
                (
                    "var/lib/dpkg/status",
                    "Package: a\nVersion: 1.1\nStatus: install ok installed\n",
                ),
                ("var/lib/dpkg/status.d/.wh.b", ""),
            ],
        );
        let media_type = "application/vnd.oci.image.layer.v1.tar";
        let hex = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let (d1, d2) = (hex('1'), hex('2'));
        let layers = [
            LayerRef {
                digest: &d1,
                media_type,
                path: &one,
            },
            LayerRef {
                digest: &d2,
                media_type,
                path: &two,
            },
        ];
        let keep = dir.path().join("keep");
        let packages = installed(&layers, &keep).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(
            (packages[0].name.as_str(), packages[0].version.as_str()),
            ("a", "1.1")
        );
        // Kept: the layers are not read again (here, they are gone).
        fs::remove_file(&one).unwrap();
        fs::remove_file(&two).unwrap();
        assert_eq!(installed(&layers, &keep).unwrap(), packages);
    }
}
