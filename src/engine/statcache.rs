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
//!
//! Only regular files are read (links followed): anything else is answered as missing, and
//! is never opened in a way that could block (see [`open_regular`]). A file that cannot be
//! read is an error that names it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Entries whose mtime is closer than this to their hashing time are not trusted.
pub(crate) const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// A hex content hash (128 bits of BLAKE3).
pub(crate) type Hash = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStat {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime_ns: i64,
    pub(crate) inode: u64,
}

impl FileStat {
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    fn from_raw(stat: &rustix::fs::Stat) -> FileStat {
        FileStat {
            size: stat.st_size as u64,
            mtime_ns: stat.st_mtime as i64 * 1_000_000_000 + stat.st_mtime_nsec as i64,
            ctime_ns: stat.st_ctime as i64 * 1_000_000_000 + stat.st_ctime_nsec as i64,
            inode: stat.st_ino as u64,
        }
    }

    pub(crate) fn of(meta: &fs::Metadata) -> FileStat {
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
    /// Looked up by this invocation (see [`StatCache::retain_used`]).
    #[serde(skip)]
    used: bool,
}

impl Entry {
    fn trusted_for(&self, stat: &FileStat) -> bool {
        self.stat == *stat && stat.mtime_ns < self.hashed_at_ns - RACY_WINDOW_NS
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct StatCache {
    // Hashed, not ordered: a lookup per input file, and paths share long prefixes.
    entries: HashMap<String, Entry>,
    #[serde(skip)]
    hashed: usize,
    /// Whether entries changed since loading or saving.
    #[serde(skip)]
    changed: bool,
}

impl StatCache {
    /// The content hash of `root/key`, or `None` when no such file exists (or it is not a
    /// regular file). `key` is the path relative to `root` (or absolute, for files outside
    /// the project).
    pub(crate) fn hash(&mut self, root: &Path, key: &str) -> io::Result<Option<Hash>> {
        let path = root.join(key);
        let meta = match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Ok(None),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        if let Some(entry) = self.entries.get_mut(key)
            && entry.trusted_for(&FileStat::of(&meta))
        {
            entry.used = true;
            return Ok(Some(entry.hash.clone()));
        }
        // Take the time before reading, so a write racing with the read counts as racy.
        let hashed_at_ns = now_ns();
        let Some((stat, hash)) = hash_regular(&path)? else {
            return Ok(None);
        };
        self.hashed += 1;
        self.changed = true;
        self.entries.insert(
            key.to_string(),
            Entry {
                stat,
                hash: hash.clone(),
                hashed_at_ns,
                used: true,
            },
        );
        Ok(Some(hash))
    }

    /// [`StatCache::hash`] for many files at once: the `stat` calls, and the reads of files
    /// that need hashing, are spread over the machine's cores. An error names the file.
    pub(crate) fn hash_many<S: AsRef<str> + Sync>(
        &mut self,
        root: &Path,
        keys: &[S],
    ) -> anyhow::Result<Vec<Option<Hash>>> {
        let stats = stat_all(root, keys)?;

        let mut hashes: Vec<Option<Hash>> = Vec::with_capacity(keys.len());
        let mut to_hash = Vec::new();
        for (i, (key, stat)) in keys.iter().map(AsRef::as_ref).zip(&stats).enumerate() {
            let Some(stat) = stat else {
                hashes.push(None);
                continue;
            };
            match self.entries.get_mut(key) {
                Some(entry) if entry.trusted_for(stat) => {
                    entry.used = true;
                    hashes.push(Some(entry.hash.clone()));
                }
                _ => {
                    hashes.push(None);
                    to_hash.push(i);
                }
            }
        }
        if to_hash.is_empty() {
            return Ok(hashes);
        }
        let hashed_at_ns = now_ns();
        self.hashed += to_hash.len();
        let fresh = parallel_map(&to_hash, |&i| {
            let key = keys[i].as_ref();
            hash_regular(&root.join(key)).with_context(|| format!("cannot read {key}"))
        });
        for (i, hashed) in to_hash.into_iter().zip(fresh) {
            // Gone, or no longer a regular file, since its stat: missing, as for `hash`.
            let Some((stat, hash)) = hashed? else {
                continue;
            };
            self.entries.insert(
                keys[i].as_ref().to_string(),
                Entry {
                    stat,
                    hash: hash.clone(),
                    hashed_at_ns,
                    used: true,
                },
            );
            hashes[i] = Some(hash);
        }
        self.changed = true;
        Ok(hashes)
    }

    pub(crate) fn is_changed(&self) -> bool {
        self.changed
    }

    pub(crate) fn mark_saved(&mut self) {
        self.changed = false;
    }

    /// How many files were read and hashed (not answered from the cache) so far.
    #[cfg(test)]
    pub(crate) fn hashed_count(&self) -> usize {
        self.hashed
    }

    /// Forgets entries not looked up since loading; for when every input was looked up.
    pub(crate) fn retain_used(&mut self) {
        let before = self.entries.len();
        self.entries.retain(|_, entry| entry.used);
        self.changed |= self.entries.len() != before;
    }
}

/// The stat data of each file (`None`: missing, or not a regular file). Each is looked up
/// relative to an open handle on its directory, so the kernel resolves one path component
/// per file rather than the whole path: the bulk of a no-op build's system time.
fn stat_all<S: AsRef<str> + Sync>(
    root: &Path,
    keys: &[S],
) -> anyhow::Result<Vec<Option<FileStat>>> {
    const MAX_GROUP: usize = 512;
    fn parent(key: &str) -> &str {
        key.rfind('/').map_or("", |i| &key[..i])
    }
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut group_parent = None;
    for (i, key) in keys.iter().enumerate() {
        let key_parent = parent(key.as_ref());
        match groups.last_mut() {
            Some(group) if group.len() < MAX_GROUP && group_parent == Some(key_parent) => {
                group.end = i + 1
            }
            _ => {
                groups.push(i..i + 1);
                group_parent = Some(key_parent);
            }
        }
    }
    let stat_group = |group: &std::ops::Range<usize>| -> anyhow::Result<Vec<Option<FileStat>>> {
        let dir = root.join(parent(keys[group.start].as_ref()));
        let flags =
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
        let handle = match rustix::fs::open(&dir, flags, rustix::fs::Mode::empty()) {
            Ok(handle) => handle,
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => {
                return Ok(vec![None; group.len()]);
            }
            Err(err) => {
                return Err(io::Error::from(err))
                    .with_context(|| format!("cannot open {}", dir.display()));
            }
        };
        keys[group.clone()]
            .iter()
            .map(|key| {
                let key = key.as_ref();
                let name = key.rfind('/').map_or(key, |i| &key[i + 1..]);
                match rustix::fs::statat(&handle, name, rustix::fs::AtFlags::empty()) {
                    Ok(stat)
                        if rustix::fs::FileType::from_raw_mode(stat.st_mode)
                            == rustix::fs::FileType::RegularFile =>
                    {
                        Ok(Some(FileStat::from_raw(&stat)))
                    }
                    Ok(_) | Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
                    Err(err) => {
                        Err(io::Error::from(err)).with_context(|| format!("cannot read {key}"))
                    }
                }
            })
            .collect()
    };
    let mut stats = Vec::with_capacity(keys.len());
    for group in parallel_map(&groups, stat_group) {
        stats.extend(group?);
    }
    Ok(stats)
}

/// `f` over `items` on up to one thread per core, results in order. Small inputs stay on
/// this thread: spawning costs more than it saves.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const MIN_PER_THREAD: usize = 4;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The stat data and content hash of `path` if it is a regular file (following links),
/// `None` if it is missing or anything else.
fn hash_regular(path: &Path) -> io::Result<Option<(FileStat, Hash)>> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    // The stat of what is read, not of what was there when the caller looked.
    let stat = FileStat::of(&file.metadata()?);
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file)?;
    Ok(Some((stat, short_hex(hasher.finalize()))))
}

/// Opens `path` for reading if it is a regular file (following links); `None` if it is
/// missing or anything else. Callers look at the file type before, but the file can be
/// replaced in between: a named pipe would block a plain `open` until a writer comes (for
/// ever, holding the project's lock), so it is opened non-blocking and checked on the handle.
pub(crate) fn open_regular(path: &Path) -> io::Result<Option<File>> {
    let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let file = match File::options()
        .read(true)
        .custom_flags(nonblocking)
        .open(path)
    {
        Ok(file) => file,
        // A socket cannot be opened at all (ENXIO).
        Err(err)
            if err.kind() == io::ErrorKind::NotFound
                || err.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    Ok(file.metadata()?.is_file().then_some(file))
}

/// The content hash of a regular file (not through the cache: for pybuild's own files).
pub(crate) fn hash_file(path: &Path) -> io::Result<Hash> {
    match hash_regular(path)? {
        Some((_, hash)) => Ok(hash),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "missing, or not a regular file",
        )),
    }
}

pub(crate) fn hash_bytes(bytes: &[u8]) -> Hash {
    short_hex(blake3::hash(bytes))
}

fn short_hex(hash: blake3::Hash) -> Hash {
    hash.to_hex()[..32].to_string()
}

pub(crate) fn now_ns() -> i64 {
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

    /// An edit the stat data cannot show: after `key` was hashed, its content changes and
    /// its stat data (mtime, ctime, size, inode) comes out equal to what was recorded, as
    /// when a write lands within the same timestamp tick as the hashing. The kernel cannot
    /// be made to repeat a ctime, so the record is brought to the file's new stat data;
    /// the hash and the moment of hashing stay those of the old content.
    fn edit_unseen_by_stat(cache: &mut StatCache, dir: &Path, key: &str, content: &str) {
        let path = dir.join(key);
        let before = cache.entries[key].stat;
        fs::write(&path, content).unwrap();
        set_mtime(&path, before.mtime_ns);
        let entry = cache.entries.get_mut(key).unwrap();
        entry.stat = FileStat::of(&fs::metadata(&path).unwrap());
        assert_eq!(
            (entry.stat.size, entry.stat.mtime_ns, entry.stat.inode),
            (before.size, before.mtime_ns, before.inode),
            "the edit must keep the size and mtime"
        );
    }

    #[test]
    fn recent_file_is_racy_and_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        for lookup in ["hash", "hash_many"] {
            let look = |cache: &mut StatCache| match lookup {
                "hash" => cache.hash(dir.path(), "a.py").unwrap(),
                _ => cache.hash_many(dir.path(), &["a.py"]).unwrap().remove(0),
            };
            fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
            let mut cache = StatCache::default();
            look(&mut cache);
            edit_unseen_by_stat(&mut cache, dir.path(), "a.py", "x = 2\n");
            // Only the racy rule can see this edit: the stat data is equal.
            assert_eq!(
                look(&mut cache).unwrap(),
                hash_bytes(b"x = 2\n"),
                "{lookup}"
            );
            assert_eq!(cache.hashed_count(), 2, "{lookup}");
        }
    }

    #[test]
    fn an_entry_hashed_well_after_its_mtime_is_trusted() {
        // The counterpart of the racy test: the same unseen edit on a file whose mtime
        // lies outside the window is answered from the cache (so the racy test fails for
        // the window, not for the stat data).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        fs::write(&path, "x = 1\n").unwrap();
        set_mtime(&path, now_ns() - 10 * RACY_WINDOW_NS);
        let mut cache = StatCache::default();
        let first = cache.hash(dir.path(), "a.py").unwrap();
        edit_unseen_by_stat(&mut cache, dir.path(), "a.py", "x = 2\n");
        assert_eq!(cache.hash(dir.path(), "a.py").unwrap(), first);
        assert_eq!(cache.hashed_count(), 1);
    }

    #[test]
    fn the_racy_window_is_strict() {
        let stat = FileStat {
            size: 6,
            mtime_ns: 1_000 * RACY_WINDOW_NS,
            ctime_ns: 1_000 * RACY_WINDOW_NS,
            inode: 7,
        };
        let entry = |hashed_at_ns| Entry {
            stat,
            hash: hash_bytes(b"x = 1\n"),
            hashed_at_ns,
            used: false,
        };
        let at_the_edge = stat.mtime_ns + RACY_WINDOW_NS;
        assert!(!entry(at_the_edge).trusted_for(&stat));
        assert!(entry(at_the_edge + 1).trusted_for(&stat));
        let later = FileStat {
            mtime_ns: stat.mtime_ns + 1,
            ..stat
        };
        assert!(!entry(at_the_edge + 1).trusted_for(&later));
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
    fn hash_many_agrees_with_hash_and_uses_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<String> = (0..600).map(|i| format!("m{i}.py")).collect();
        for (i, key) in keys.iter().enumerate() {
            let path = dir.path().join(key);
            fs::write(&path, format!("x = {i}\n")).unwrap();
            set_mtime(&path, now_ns() - 10 * RACY_WINDOW_NS);
        }
        let mut all = keys.clone();
        all.push("missing.py".into());
        let mut cache = StatCache::default();
        let many = cache.hash_many(dir.path(), &all).unwrap();
        assert_eq!(many.len(), 601);
        assert_eq!(many[600], None);
        assert_eq!(many[7].as_deref(), Some(hash_bytes(b"x = 7\n").as_str()));
        assert_eq!(cache.hashed_count(), 600);
        cache.mark_saved();
        assert_eq!(cache.hash_many(dir.path(), &all).unwrap(), many);
        assert_eq!(
            cache.hashed_count(),
            600,
            "second pass is answered from the cache"
        );
        assert!(!cache.is_changed());
    }

    #[test]
    fn hash_many_finds_files_in_every_directory_in_any_order() {
        // Keys of several directories, interleaved, and more in one directory than a group
        // of stat calls holds: each file is stat'ed in its own directory.
        let dir = tempfile::tempdir().unwrap();
        let mut keys: Vec<String> = Vec::new();
        for i in 0..520 {
            keys.push(format!("pkg/m{i}.py"));
        }
        for (i, sub) in ["a", "b/c", "a", "", "b/c"].iter().enumerate() {
            let prefix = if sub.is_empty() {
                String::new()
            } else {
                format!("{sub}/")
            };
            keys.push(format!("{prefix}n{i}.py"));
        }
        for key in &keys {
            let path = dir.path().join(key);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, key).unwrap();
        }
        let mut cache = StatCache::default();
        let many = cache.hash_many(dir.path(), &keys).unwrap();
        for (key, hash) in keys.iter().zip(&many) {
            assert_eq!(
                hash.as_deref(),
                Some(hash_bytes(key.as_bytes()).as_str()),
                "{key}"
            );
        }
    }

    #[test]
    fn a_link_that_cannot_be_resolved_is_an_error_not_a_missing_file() {
        // A loop: not a file that is missing, and not one to leave out silently.
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("loop.py", dir.path().join("loop.py")).unwrap();
        let mut cache = StatCache::default();
        assert!(cache.hash(dir.path(), "loop.py").is_err());
        let err = cache.hash_many(dir.path(), &["loop.py"]).unwrap_err();
        assert!(format!("{err:#}").contains("loop.py"), "{err:#}");
    }

    #[test]
    fn only_what_was_looked_up_is_kept_and_a_change_is_known() {
        let dir = tempfile::tempdir().unwrap();
        for key in ["a.py", "b.py"] {
            fs::write(dir.path().join(key), key).unwrap();
        }
        let mut cache = StatCache::default();
        assert!(!cache.is_changed());
        cache.hash_many(dir.path(), &["a.py", "b.py"]).unwrap();
        assert!(cache.is_changed(), "new entries must be saved");
        cache.mark_saved();
        // As loaded by the next invocation: nothing looked up yet.
        let mut cache: StatCache =
            postcard::from_bytes(&postcard::to_stdvec(&cache).unwrap()).unwrap();
        cache.hash(dir.path(), "a.py").unwrap();
        cache.mark_saved();
        cache.retain_used();
        assert!(cache.is_changed(), "forgetting b.py must be saved");
        assert_eq!(cache.entries.keys().collect::<Vec<_>>(), ["a.py"]);
        cache.mark_saved();
        cache.retain_used();
        assert!(!cache.is_changed(), "nothing was forgotten");
    }

    #[test]
    fn a_named_pipe_is_missing_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.txt");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(open_regular(&fifo).unwrap().is_none());
        let mut cache = StatCache::default();
        assert_eq!(cache.hash(dir.path(), "pipe.txt").unwrap(), None);
        assert_eq!(cache.hash_many(dir.path(), &["pipe.txt"]).unwrap(), [None]);
    }

    #[test]
    fn a_socket_or_a_missing_file_opens_as_none_and_other_errors_are_errors() {
        // What `open_regular` meets when a file is replaced between its stat and its open.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("server.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(open_regular(&socket).unwrap().is_none());
        assert!(open_regular(&dir.path().join("gone.py")).unwrap().is_none());
        fs::write(dir.path().join("f"), "").unwrap();
        assert!(open_regular(&dir.path().join("f/x.py")).is_err());
    }

    #[test]
    fn hashes_are_of_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        fs::write(&path, "x = 1\n").unwrap();
        let hash = hash_file(&path).unwrap();
        assert_eq!(hash, hash_bytes(b"x = 1\n"));
        assert_eq!(hash.len(), 32);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
        assert_ne!(hash, hash_bytes(b"x = 2\n"));
        assert!(
            hash_file(dir.path()).is_err(),
            "a directory has no content hash"
        );
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = StatCache::default();
        assert_eq!(cache.hash(dir.path(), "nope.py").unwrap(), None);
    }
}
