//! An OCI image layout written by hand: `oci-layout`, `index.json` and
//! `blobs/sha256/<digest>` (see the OCI image-spec's image-layout.md).
//!
//! The same entries give the same bytes: a layer's entries are sorted, every mtime is the
//! image's epoch, owners are uid/gid 0 with no names, the gzip header has mtime 0, and the
//! JSON documents are compact with sorted keys (serde_json's map is ordered).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use flate2::{Compression, GzBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub(crate) const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The annotation skopeo and umoci read as the tag in `oci:DIR:TAG`.
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A blob as a manifest or index points at it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub(crate) media_type: String,
    pub(crate) digest: String,
    pub(crate) size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) annotations: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<serde_json::Value>,
}

/// A file, directory or symbolic link of a layer, its path relative to the image's root.
pub(crate) struct Entry {
    pub(crate) path: String,
    pub(crate) mode: u32,
    pub(crate) body: Body,
    /// The uid and gid it belongs to: 0, but for what the image's user must write to.
    pub(crate) owner: u32,
}

/// What an [`Entry`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    Dir,
    /// A regular file, its content read from a [`Contents`].
    File(Content),
    /// A symbolic link to this target.
    Link(String),
}

impl Entry {
    /// A directory owned by root.
    pub(crate) fn dir(path: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o755,
            body: Body::Dir,
            owner: 0,
        }
    }

    /// A regular file owned by root, 0755 when `executable`, else 0644.
    pub(crate) fn file(path: impl Into<String>, content: Content, executable: bool) -> Entry {
        Entry {
            path: path.into(),
            mode: if executable { 0o755 } else { 0o644 },
            body: Body::File(content),
            owner: 0,
        }
    }

    /// A symbolic link owned by root.
    pub(crate) fn link(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o777,
            body: Body::Link(target.into()),
            owner: 0,
        }
    }
}

/// A file's content: its index among those a [`Contents`] holds, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Content {
    pub(crate) index: usize,
    pub(crate) size: u64,
}

/// Where a layer's file contents are read from, one file at a time as the layer is
/// written: a layer is never in memory, whatever the size of its files (a PEX's entries
/// are read from the zip as they go into the tar).
pub(crate) trait Contents {
    fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>>;
}

/// A layer as written: its blob's digest and size, and the digest of its uncompressed tar
/// (the config's `diff_id`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct Layer {
    pub(crate) digest: String,
    pub(crate) diff_id: String,
    pub(crate) size: u64,
}

impl Layer {
    pub(crate) fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: LAYER.into(),
            digest: self.digest.clone(),
            size: self.size,
            annotations: None,
            platform: None,
        }
    }
}

/// A writer that hashes (sha256) and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hashing<W>(inner: W) -> Hashing<W> {
    Hashing {
        inner,
        hasher: Sha256::new(),
        size: 0,
    }
}

fn digest_of(hasher: Sha256) -> String {
    let bytes = hasher.finalize();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes `entries` (sorted here), their contents read from `contents` one at a time, as a
/// gzipped tar to `out`, every mtime `epoch`; hashed as it is written.
pub(crate) fn write_layer(
    entries: &mut [Entry],
    contents: &mut dyn Contents,
    epoch: u64,
    out: &Path,
) -> Result<Layer> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let compressed = hashing(BufWriter::new(file));
    let gzip = GzBuilder::new()
        .mtime(0)
        .write(compressed, Compression::default());
    let mut tar = tar::Builder::new(hashing(gzip));
    for entry in entries.iter() {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(epoch);
        header.set_uid(entry.owner.into());
        header.set_gid(entry.owner.into());
        header.set_mode(entry.mode & 0o7777);
        let cannot = || format!("cannot write {} into {}", entry.path, out.display());
        match &entry.body {
            Body::File(content) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.size);
                let mut data = Counted {
                    inner: contents.open(content.index)?.take(content.size),
                    read: 0,
                };
                tar.append_data(&mut header, &entry.path, &mut data)
                    .with_context(cannot)?;
                // The header said how long it is: a shorter file would garble the tar.
                if data.read != content.size {
                    bail!(
                        "{} is {} bytes long, not the {} it said",
                        entry.path,
                        data.read,
                        content.size
                    );
                }
            }
            Body::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, &entry.path, io::empty())
                    .with_context(cannot)?;
            }
            Body::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, &entry.path, target)
                    .with_context(cannot)?;
            }
        }
    }
    let uncompressed = tar.into_inner()?;
    let diff_id = digest_of(uncompressed.hasher);
    let mut compressed = uncompressed.inner.finish()?;
    compressed.flush()?;
    Ok(Layer {
        digest: digest_of(compressed.hasher),
        diff_id,
        size: compressed.size,
    })
}

/// Adds every missing parent directory of the entries, owned by root.
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
            .map(Entry::dir),
    );
}

/// A reader that counts what it gave.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.read += read as u64;
        Ok(read)
    }
}

/// An image layout being written in `dir`.
pub(crate) struct Layout {
    pub(crate) dir: PathBuf,
}

impl Layout {
    /// A new, empty layout in `dir`, which must not exist.
    pub(crate) fn create(dir: &Path) -> Result<Layout> {
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", blobs.display()))?;
        let marker = dir.join("oci-layout");
        fs::write(&marker, b"{\"imageLayoutVersion\":\"1.0.0\"}")
            .with_context(|| format!("cannot write {}", marker.display()))?;
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// Where the blob `digest` is in the layout at `dir`.
    pub(crate) fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
        let Some(hex) = digest.strip_prefix("sha256:") else {
            bail!("`{digest}` is no sha256 digest");
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("`{digest}` is no sha256 digest");
        }
        Ok(dir.join("blobs/sha256").join(hex))
    }

    /// Adds `bytes` as a blob of `media_type`.
    pub(crate) fn add(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        let digest = digest_of(hasher);
        let path = Layout::blob_path(&self.dir, &digest)?;
        fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Descriptor {
            media_type: media_type.into(),
            digest,
            size: bytes.len() as u64,
            annotations: None,
            platform: None,
        })
    }

    /// Copies the blob `digest` from the file `from`, checking on the way that its bytes
    /// have that digest: a damaged blob is refused, not passed on.
    pub(crate) fn copy_in(&self, from: &Path, digest: &str) -> Result<()> {
        let to = Layout::blob_path(&self.dir, digest)?;
        let mut source =
            File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
        let target =
            File::create(&to).with_context(|| format!("cannot create {}", to.display()))?;
        let mut target = hashing(BufWriter::new(target));
        io::copy(&mut source, &mut target)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        target.flush()?;
        let found = digest_of(target.hasher);
        if found != digest {
            bail!(
                "{} does not hold the blob {digest} it should (its digest is {found})",
                from.display()
            );
        }
        Ok(())
    }

    /// Writes `index.json`, pointing at `manifest` once per tag.
    pub(crate) fn write_index(&self, manifest: &Descriptor, tags: &[String]) -> Result<()> {
        let manifests: Vec<Descriptor> = tags
            .iter()
            .map(|tag| {
                let mut annotations = serde_json::Map::new();
                annotations.insert(REF_NAME.into(), tag.clone().into());
                Descriptor {
                    annotations: Some(annotations),
                    ..manifest.clone()
                }
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": manifests,
        });
        let path = self.dir.join("index.json");
        fs::write(&path, serde_json::to_vec(&index)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The sha256 digest of a file, as OCI writes it.
pub(crate) fn file_digest(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let read = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
    }
    Ok(digest_of(hasher))
}

/// Writes the directory `dir` as a tar to `out` (an `oci-archive`), entries sorted, every
/// mtime `epoch`, owned by root.
pub(crate) fn write_archive(dir: &Path, epoch: u64, out: &Path) -> Result<()> {
    let mut files = Vec::new();
    collect(dir, "", &mut files)?;
    files.sort();
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    for (rel, is_dir) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(epoch);
        header.set_uid(0);
        header.set_gid(0);
        if is_dir {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, &rel, io::empty())?;
        } else {
            let path = dir.join(&rel);
            let data =
                File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(data.metadata()?.len());
            tar.append_data(&mut header, &rel, data)?;
        }
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

fn collect(dir: &Path, prefix: &str, into: &mut Vec<(String, bool)>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if entry.file_type()?.is_dir() {
            into.push((rel.clone(), true));
            collect(&entry.path(), &format!("{rel}/"), into)?;
        } else {
            into.push((rel, false));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contents held in memory, for the tests.
    struct InMemory(Vec<&'static [u8]>);

    impl Contents for InMemory {
        fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>> {
            Ok(Box::new(self.0[index]))
        }
    }

    fn contents() -> InMemory {
        InMemory(vec![b"b", b"a"])
    }

    fn entries() -> Vec<Entry> {
        let file = |index, path: &str, executable| {
            Entry::file(path, Content { index, size: 1 }, executable)
        };
        vec![
            file(0, "app/b.txt", false),
            Entry::dir("app"),
            file(1, "app/a.txt", true),
            Entry::link("app/c", "a.txt"),
        ]
    }

    #[test]
    fn the_same_entries_in_any_order_give_the_same_layer() {
        let dir = tempfile::tempdir().unwrap();
        let one = write_layer(&mut entries(), &mut contents(), 0, &dir.path().join("one")).unwrap();
        let mut reversed = entries();
        reversed.reverse();
        let two = write_layer(&mut reversed, &mut contents(), 0, &dir.path().join("two")).unwrap();
        assert_eq!(one, two);
        assert_eq!(file_digest(&dir.path().join("one")).unwrap(), one.digest);
        let other = write_layer(
            &mut entries(),
            &mut contents(),
            1,
            &dir.path().join("three"),
        )
        .unwrap();
        assert_ne!(one.diff_id, other.diff_id);
    }

    #[test]
    fn a_file_shorter_than_it_said_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = entries();
        entries[0].body = Body::File(Content { index: 0, size: 2 });
        let err = write_layer(&mut entries, &mut contents(), 0, &dir.path().join("x")).unwrap_err();
        assert!(format!("{err:#}").contains("not the 2 it said"), "{err:#}");
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("oci")).unwrap();
        let source = dir.path().join("blob");
        fs::write(&source, b"content").unwrap();
        let good = file_digest(&source).unwrap();
        layout.copy_in(&source, &good).unwrap();
        let bad = format!("sha256:{}", "0".repeat(64));
        let err = layout.copy_in(&source, &bad).unwrap_err();
        assert!(format!("{err:#}").contains("does not hold the blob"));
        assert!(Layout::blob_path(dir.path(), "sha256:../../etc").is_err());
    }
}
