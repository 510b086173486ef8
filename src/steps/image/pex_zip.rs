//! The bundle PEX read as the image ships it: its zip entries, split into the
//! dependencies (`.deps/`, the installed wheels, and `.bootstrap/`, pex's runtime) and the
//! code (`__main__.py`, `PEX-INFO`, the project's packages). Unzipped, a PEX is pex's
//! `loose` layout, which the interpreter runs as it runs the zip: the image carries the
//! bundle's very files, in two layers that change at different rates.

use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::layout::{Content, Contents, Entry};
use crate::steps::zip_reader::ZipReader;

/// The bundle's files, split: `(dependencies, code)`, each path under `prefix`, their
/// contents left in the PEX, read from it as the layers are written.
pub(crate) struct Split {
    pub(crate) pex: Pex,
    pub(crate) deps: Vec<Entry>,
    pub(crate) code: Vec<Entry>,
}

/// The bundle PEX, open: the [`Contents`] of the layers' files, by zip entry index.
pub(crate) struct Pex {
    zip: ZipReader,
}

impl Contents for Pex {
    fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.zip.entry(index)?))
    }
}

/// Whether a PEX entry belongs to the dependencies layer.
fn is_dependency(name: &str) -> bool {
    name.starts_with(".deps/") || name.starts_with(".bootstrap/")
}

/// The entries of the PEX at `path`, under `prefix` (`app/greet.pex`), with their parent
/// directories in each layer. Reads the zip's directory, not its files.
pub(crate) fn split(path: &Path, prefix: &str) -> Result<Split> {
    let mut zip = ZipReader::open(path).context("a PEX is a zip")?;
    let mut deps = Vec::new();
    let mut code = Vec::new();
    for index in 0..zip.len() {
        let entry = zip.info(index)?;
        if entry.is_dir {
            continue;
        }
        let name = entry.name;
        if name.starts_with('/') || name.split('/').any(|part| part == "..") {
            anyhow::bail!("{} holds an entry outside itself: {name}", path.display());
        }
        let mode = entry
            .mode
            .map_or(0o644, |mode| if mode & 0o111 != 0 { 0o755 } else { 0o644 });
        let layer = match is_dependency(&name) {
            true => &mut deps,
            false => &mut code,
        };
        layer.push(Entry {
            path: format!("{prefix}/{name}"),
            mode,
            content: Some(Content {
                index,
                size: entry.size,
            }),
        });
    }
    add_parents(&mut deps);
    add_parents(&mut code);
    Ok(Split {
        pex: Pex { zip },
        deps,
        code,
    })
}

/// Adds every missing parent directory of the entries.
pub(crate) fn add_parents(entries: &mut Vec<Entry>) {
    let mut dirs = std::collections::BTreeSet::new();
    for entry in entries.iter() {
        let mut path = entry.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            dirs.insert(parent.to_string());
            path = parent;
        }
    }
    let present: std::collections::HashSet<String> =
        entries.iter().map(|e| e.path.clone()).collect();
    entries.extend(
        dirs.into_iter()
            .filter(|dir| !present.contains(dir))
            .map(|path| Entry {
                path,
                mode: 0o755,
                content: None,
            }),
    );
}

/// The PEX's `PEX-INFO`.
pub(crate) fn pex_info(path: &Path) -> Result<serde_json::Value> {
    let mut zip = ZipReader::open(path).context("a PEX is a zip")?;
    let text = zip.read_name("PEX-INFO").context("is it a PEX?")?;
    serde_json::from_slice(&text)
        .with_context(|| format!("PEX-INFO in {} is not JSON", path.display()))
}
