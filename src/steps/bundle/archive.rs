//! A zip bundle (PEX, shiv, zipapp) read back in process: the distributions it carries and
//! the modules under the project's top-level names, from its central directory and its
//! `METADATA` files. No Python starts, so an edit → bundle with the layered PEX starts no
//! process at all.
//!
//! Where an installed distribution sits in each kind: at the root (a zipapp, the PEX's
//! code layer), in a `site-packages` folder (shiv), or at the root of one of a PEX's
//! `.deps/<wheel>/` folders. Not the copies a package vendors inside itself
//! (setuptools' `_vendor/*.dist-info`), which ship as that package's files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::base::distribution_name::normalize;
use crate::steps::zip_reader::ZipReader;

/// What was read back from a bundle.
pub(crate) struct Contents {
    /// Normalised name → version of the distributions it carries.
    pub(crate) distributions: BTreeMap<String, String>,
    /// The importable modules under the top-level names asked about.
    pub(crate) modules: BTreeSet<String>,
}

/// Reads the zip archive `path`: its distributions, and its modules whose top-level name
/// is one of `tops`.
pub(crate) fn read(path: &Path, tops: &[&str]) -> Result<Contents> {
    let mut zip = ZipReader::open(path)?;
    let mut contents = Contents {
        distributions: BTreeMap::new(),
        modules: BTreeSet::new(),
    };
    let mut metadata = Vec::new();
    for index in 0..zip.len() {
        let name = zip.name(index)?;
        if let Some(module) = module(name, tops) {
            contents.modules.insert(module);
        }
        if is_installed_metadata(name) {
            metadata.push((index, name.to_string()));
        }
    }
    for (index, name) in metadata {
        let text = zip.read(index)?;
        let (dist, version) =
            name_and_version(&text).with_context(|| format!("{name} in {}", path.display()))?;
        contents.distributions.insert(normalize(&dist), version);
    }
    Ok(contents)
}

/// The path of entry `name` from where its distribution is installed: after the
/// `.deps/<wheel>/` of a PEX, after the last `site-packages` folder, else all of it.
fn installed_path(name: &str) -> Vec<&str> {
    let parts: Vec<&str> = name.split('/').collect();
    if parts[0] == ".deps" {
        return parts.get(2..).unwrap_or_default().to_vec();
    }
    if parts[..parts.len() - 1].contains(&"site-packages") {
        let last = parts
            .iter()
            .rposition(|p| *p == "site-packages")
            .unwrap_or(0);
        return parts[last + 1..].to_vec();
    }
    parts
}

/// The dotted module entry `name` is (`greeter/cli.py` is `greeter.cli`,
/// `greeter/__init__.py` is `greeter`), when its top-level name is one of `tops`. Compiled
/// files count (a bundle may ship `.pyc` only), `__pycache__` copies do not.
fn module(name: &str, tops: &[&str]) -> Option<String> {
    let rest = installed_path(name);
    let (last, dirs) = rest.split_last()?;
    let top = match dirs.first() {
        Some(dir) => *dir,
        None => last.rsplit_once('.').map_or(*last, |(stem, _)| stem),
    };
    if !tops.contains(&top) || rest.contains(&"__pycache__") {
        return None;
    }
    let stem = last
        .strip_suffix(".py")
        .or_else(|| last.strip_suffix(".pyc"))?;
    let mut dotted = dirs.to_vec();
    if stem != "__init__" {
        dotted.push(stem);
    }
    Some(dotted.join("."))
}

/// Whether entry `name` is the `METADATA` of an installed distribution: its dist-info
/// folder at the root, in a `site-packages` folder, or at the root of a `.deps/<wheel>/`.
fn is_installed_metadata(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() < 2 || !name.ends_with(".dist-info/METADATA") {
        return false;
    }
    let parent = &parts[..parts.len() - 2];
    matches!(parent, [] | [.., "site-packages"] | [".deps", _])
}

/// The `Name` and `Version` headers of a `METADATA` file: RFC 822 headers, which end at
/// the first empty line or line that is not a header (as Python's email parser reads
/// them); the first of each wins, names compared without case.
fn name_and_version(text: &[u8]) -> Result<(String, String)> {
    let text = String::from_utf8_lossy(text);
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue; // the rest of a folded header
        }
        let Some((key, value)) = line.split_once(':').filter(|(key, _)| !key.contains(' ')) else {
            break;
        };
        let value = || Some(value.trim().to_string());
        if key.eq_ignore_ascii_case("name") {
            name = name.or_else(value);
        } else if key.eq_ignore_ascii_case("version") {
            version = version.or_else(value);
        }
    }
    match (name, version) {
        (Some(name), Some(version)) => Ok((name, version)),
        (None, _) => bail!("no Name header"),
        (_, None) => bail!("no Version header"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_named_from_where_their_distribution_is_installed() {
        let tops = ["greeter", "nsp", "tool"];
        let cases = [
            ("greeter/__init__.py", Some("greeter")),
            ("greeter/cli.py", Some("greeter.cli")),
            ("greeter/sub/mod.pyc", Some("greeter.sub.mod")),
            ("greeter/__pycache__/cli.cpython-311.pyc", None),
            ("greeter/data.txt", None),
            ("greeter/", None),
            ("tool.py", Some("tool")),
            ("nsp/inner/mod.py", Some("nsp.inner.mod")),
            (
                ".deps/greeter-1.0-py3-none-any.whl/greeter/cli.py",
                Some("greeter.cli"),
            ),
            (".deps/six-1.0-py3-none-any.whl/six.py", None),
            ("site-packages/greeter/words.py", Some("greeter.words")),
            ("lib/python3.11/site-packages/tool.py", Some("tool")),
            ("greeterx/cli.py", None),
            ("__main__.py", None),
            (".deps/", None),
        ];
        for (name, want) in cases {
            assert_eq!(module(name, &tops).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn only_an_installed_distributions_metadata_counts() {
        for name in [
            "six-1.16.0.dist-info/METADATA",
            "site-packages/six-1.16.0.dist-info/METADATA",
            ".deps/six-1.16.0-py3-none-any.whl/six-1.16.0.dist-info/METADATA",
        ] {
            assert!(is_installed_metadata(name), "{name}");
        }
        for name in [
            "setuptools/_vendor/packaging-24.0.dist-info/METADATA",
            ".deps/setuptools.whl/setuptools/_vendor/x-1.dist-info/METADATA",
            "six-1.16.0.dist-info/RECORD",
            "METADATA",
        ] {
            assert!(!is_installed_metadata(name), "{name}");
        }
    }

    #[test]
    fn name_and_version_are_the_first_headers_before_the_body() {
        let text = b"Metadata-Version: 2.1\r\nname: Zope.Interface\r\nVersion:  7.0 \r\nName: other\r\n\r\nName: body\n";
        assert_eq!(
            name_and_version(text).unwrap(),
            ("Zope.Interface".to_string(), "7.0".to_string())
        );
        assert!(name_and_version(b"Name: x\n\nVersion: 1\n").is_err());
    }
}
