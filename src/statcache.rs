//! Content hashes of files, reused while the files' stat data is unchanged.
//!
//! Timestamps are the fast path, content hashes the truth. Each entry keeps a file's stat
//! data (size, mtime and ctime in nanoseconds, inode) next to the hash of its content and
//! the moment that hash was taken. A later lookup reuses the hash only when:
//! - the stat data is *equal* to the recorded one (any difference, older or newer, means
//!   re-hash: a checkout or `rsync -t` can give an edited file an older mtime), and
//! - the entry is not *racy*: its mtime is at least [`RACY_WINDOW_NS`] older than the moment
//!   it was hashed. A file written within the same timestamp tick as (or after) its hashing
//!   can change again without its stat data changing, so such entries are hashed again on
//!   the next lookup (git's "racy git" rule, with a window for coarse file-system clocks).
//!
//! A touch changes the stat data but not the hash, so it costs one re-hash and no rebuild.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Entries whose mtime is closer than this to their hashing time are not trusted.
pub const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// A hex content hash (128 bits of BLAKE3).
pub type Hash = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

impl FileStat {
    pub fn of(meta: &fs::Metadata) -> FileStat {
        FileStat {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            inode: meta.ino(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stat: FileStat,
    hash: Hash,
    hashed_at_ns: i64,
}

impl Entry {
    fn trusted_for(&self, stat: &FileStat) -> bool {
        self.stat == *stat && stat.mtime_ns < self.hashed_at_ns - RACY_WINDOW_NS
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatCache {
    entries: BTreeMap<String, Entry>,
    #[serde(skip)]
    used: HashSet<String>,
    #[serde(skip)]
    hashed: usize,
}

impl StatCache {
    /// The content hash of `root/key`, or `None` when no such file exists.
    /// `key` is the path relative to `root` (or absolute, for files outside the project).
    pub fn hash(&mut self, root: &Path, key: &str) -> io::Result<Option<Hash>> {
        let path = root.join(key);
        let meta = match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Ok(None),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        self.used.insert(key.to_string());
        let stat = FileStat::of(&meta);
        if let Some(entry) = self.entries.get(key)
            && entry.trusted_for(&stat)
        {
            return Ok(Some(entry.hash.clone()));
        }
        // Take the time before reading, so a write racing with the read counts as racy.
        let hashed_at_ns = now_ns();
        let hash = hash_file(&path)?;
        self.hashed += 1;
        self.entries.insert(
            key.to_string(),
            Entry {
                stat,
                hash: hash.clone(),
                hashed_at_ns,
            },
        );
        Ok(Some(hash))
    }

    /// How many files were read and hashed (not answered from the cache) so far.
    pub fn hashed_count(&self) -> usize {
        self.hashed
    }

    /// Forgets entries not looked up since loading; for when every input was looked up.
    pub fn retain_used(&mut self) {
        let used = &self.used;
        self.entries.retain(|key, _| used.contains(key));
    }
}

pub fn hash_file(path: &Path) -> io::Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(File::open(path)?)?;
    Ok(short_hex(hasher.finalize()))
}

pub fn hash_bytes(bytes: &[u8]) -> Hash {
    short_hex(blake3::hash(bytes))
}

fn short_hex(hash: blake3::Hash) -> Hash {
    hash.to_hex()[..32].to_string()
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn set_mtime(path: &Path, ns: i64) {
        let time = UNIX_EPOCH + Duration::from_nanos(ns as u64);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    #[test]
    fn old_unchanged_file_is_answered_from_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        fs::write(&path, "x = 1\n").unwrap();
        set_mtime(&path, now_ns() - 10 * RACY_WINDOW_NS);
        let mut cache = StatCache::default();
        let first = cache.hash(dir.path(), "a.py").unwrap();
        assert_eq!(cache.hashed_count(), 1);
        assert_eq!(cache.hash(dir.path(), "a.py").unwrap(), first);
        assert_eq!(cache.hashed_count(), 1);
    }

    #[test]
    fn recent_file_is_racy_and_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        fs::write(&path, "x = 1\n").unwrap();
        let mut cache = StatCache::default();
        cache.hash(dir.path(), "a.py").unwrap();
        // Same size, and the mtime put back: only the racy rule can see this edit.
        let mtime = FileStat::of(&fs::metadata(&path).unwrap()).mtime_ns;
        fs::write(&path, "x = 2\n").unwrap();
        set_mtime(&path, mtime);
        let second = cache.hash(dir.path(), "a.py").unwrap();
        assert_eq!(cache.hashed_count(), 2);
        assert_eq!(second.unwrap(), hash_bytes(b"x = 2\n"));
    }

    #[test]
    fn older_mtime_edit_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        fs::write(&path, "x = 1\n").unwrap();
        let old = now_ns() - 100 * RACY_WINDOW_NS;
        set_mtime(&path, old);
        let mut cache = StatCache::default();
        cache.hash(dir.path(), "a.py").unwrap();
        fs::write(&path, "x = 22\n").unwrap();
        set_mtime(&path, old - RACY_WINDOW_NS);
        assert_eq!(
            cache.hash(dir.path(), "a.py").unwrap().unwrap(),
            hash_bytes(b"x = 22\n")
        );
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = StatCache::default();
        assert_eq!(cache.hash(dir.path(), "nope.py").unwrap(), None);
    }
}
