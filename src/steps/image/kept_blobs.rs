//! The blobs of the image made last, reused by the next build without being read again:
//! the base's layers (tens of MB) and the dependencies layer do not change at an edit,
//! and copying them and checking their digests again was most of an edit → image.
//!
//! When an image is placed, the stat data of each of its blobs (size, inode, change time
//! in ns) is recorded in `.pybuild/layers/oci-blobs.json`. The next build hard-links a
//! blob from that image into the new one only when its stat data is still the recorded:
//! a blob written since (a change, a `touch`) has another change time, and is copied from
//! its source and checked against its digest, as every blob is the first time. The link
//! lasts only until the new image replaces the old one, which is then removed: no two
//! outputs share a file.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::layout::Layout;

/// What says a file was not written since: size, device, inode, change time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
struct Stat {
    size: u64,
    dev: u64,
    ino: u64,
    ctime_ns: i128,
}

impl Stat {
    fn of(path: &Path) -> Option<Stat> {
        let meta = fs::symlink_metadata(path).ok()?;
        meta.is_file().then(|| Stat {
            size: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        })
    }
}

/// The image made last, and its blobs' stat data as recorded when it was placed.
pub(crate) struct Kept {
    layout: PathBuf,
    stats: BTreeMap<String, Stat>,
}

fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("layers").join("oci-blobs.json")
}

impl Kept {
    /// The record for the image at `layout`; none when it is missing or unreadable.
    pub(crate) fn load(state_dir: &Path, layout: &Path) -> Kept {
        let stats = fs::read(record_path(state_dir))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Kept {
            layout: layout.to_path_buf(),
            stats,
        }
    }

    /// Links the blob `digest` of the image made last into `into`, when it is there as it
    /// was placed; false when it is not (then it is to be copied and checked).
    pub(crate) fn link_into(&self, into: &Layout, digest: &str) -> bool {
        let (Ok(from), Ok(to)) = (
            Layout::blob_path(&self.layout, digest),
            Layout::blob_path(&into.dir, digest),
        ) else {
            return false;
        };
        let recorded = self.stats.get(digest);
        recorded.is_some()
            && Stat::of(&from).as_ref() == recorded
            && fs::hard_link(&from, &to).is_ok()
    }
}

/// Records the stat data of the blobs of the image placed at `layout`.
pub(crate) fn remember(state_dir: &Path, layout: &Path) -> Result<()> {
    let mut stats = BTreeMap::new();
    for entry in fs::read_dir(layout.join("blobs/sha256"))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stat) = Stat::of(&entry.path()) {
            stats.insert(format!("sha256:{name}"), stat);
        }
    }
    let path = record_path(state_dir);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    crate::engine::state::write_atomically(&path, &serde_json::to_vec(&stats)?)
}
