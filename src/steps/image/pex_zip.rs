//! The bundle PEX read as the image ships it: its zip entries are either the dependencies
//! (`.deps/`, the installed wheels, and `.bootstrap/`, pex's runtime), or pex's entry
//! (`__main__.py`, `__pex__/`, `PEX-INFO`), or the project's code (its packages and its
//! `.dist-info`). The image's venv is laid out from the whole PEX by pex (see `venv.rs`);
//! what changes at each edit, the code, is taken from here.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::steps::zip_reader::ZipReader;

/// The bundle PEX, open.
pub(crate) struct Pex {
    path: PathBuf,
    zip: ZipReader,
}

/// Whether a PEX entry belongs to the dependencies.
fn is_dependency(name: &str) -> bool {
    name.starts_with(".deps/") || name.starts_with(".bootstrap/")
}

/// Whether a PEX entry is pex's own way in, which a venv does without.
fn is_entry(name: &str) -> bool {
    name == "__main__.py" || name == "PEX-INFO" || name.starts_with("__pex__/")
}

/// The `PEX-INFO` fields that change with the project's code alone.
const CODE_FIELDS: &[&str] = &["code_hash", "pex_hash"];

impl Pex {
    pub(crate) fn open(path: &Path) -> Result<Pex> {
        let zip = ZipReader::open(path)
            .with_context(|| format!("{} is not a zip (a PEX)", path.display()))?;
        Ok(Pex {
            path: path.to_path_buf(),
            zip,
        })
    }

    /// What the venv's dependencies are made of, as text to hash: `PEX-INFO` but for the
    /// code's hashes (it names each distribution with pex's hash of its files, the entry
    /// point and the options `__main__.py` is written from), then each dependency entry's
    /// name, size and CRC-32. Read from the zip's directory: no dependency is unzipped.
    pub(crate) fn dependencies_key(&mut self) -> Result<String> {
        let mut info = pex_info_of(&mut self.zip, &self.path)?;
        if let Some(fields) = info.as_object_mut() {
            for field in CODE_FIELDS {
                fields.remove(*field);
            }
        }
        let mut key = serde_json::to_string(&info)?;
        for index in 0..self.zip.len() {
            let entry = self.zip.info(index)?;
            if is_dependency(&entry.name) {
                key.push_str(&format!(
                    "\n{} {} {:08x}",
                    entry.name, entry.size, entry.crc32
                ));
            }
        }
        Ok(key)
    }

    /// The project's code: the entries neither dependencies nor pex's entry, by index
    /// and name.
    fn code(&mut self) -> Result<Vec<(usize, String)>> {
        let mut code = Vec::new();
        for index in 0..self.zip.len() {
            let entry = self.zip.info(index)?;
            let (name, is_dir) = (entry.name, entry.is_dir);
            if is_dir || is_dependency(&name) || is_entry(&name) {
                continue;
            }
            if name.starts_with('/') || name.split('/').any(|part| part == "..") {
                anyhow::bail!(
                    "{} holds an entry outside itself: {name}",
                    self.path.display()
                );
            }
            code.push((index, name));
        }
        code.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(code)
    }

    /// The names of the project's code files in the PEX, sorted.
    pub(crate) fn code_names(&mut self) -> Result<Vec<String>> {
        Ok(self.code()?.into_iter().map(|(_, name)| name).collect())
    }

    /// Writes the project's code under `dir` at their names in the PEX.
    pub(crate) fn extract_code(&mut self, dir: &Path) -> Result<()> {
        for (index, name) in self.code()? {
            let target = dir.join(&name);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let mut entry = self.zip.entry(index)?;
            let mut out = File::create(&target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            std::io::copy(&mut entry, &mut out)
                .with_context(|| format!("cannot unzip {name} from {}", self.path.display()))?;
        }
        Ok(())
    }

    /// The bytes of `PEX-INFO`.
    pub(crate) fn pex_info_bytes(&mut self) -> Result<Vec<u8>> {
        self.zip
            .read_name("PEX-INFO")
            .with_context(|| format!("{} holds no PEX-INFO: is it a PEX?", self.path.display()))
    }
}

fn pex_info_of(zip: &mut ZipReader, path: &Path) -> Result<serde_json::Value> {
    let bytes = zip
        .read_name("PEX-INFO")
        .with_context(|| format!("{} holds no PEX-INFO: is it a PEX?", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("PEX-INFO in {} is not JSON", path.display()))
}

/// The PEX's `PEX-INFO`.
pub(crate) fn pex_info(path: &Path) -> Result<serde_json::Value> {
    pex_info_of(&mut Pex::open(path)?.zip, path)
}
