//! The store of intermediate products: what a step makes on the way to its outputs and keeps
//! for the next build (a dependencies PEX, an image's dependencies layer, a wheelhouse fill
//! stamp), kept, checked and swept here rather than by each step that needs one.
//!
//! A store is a folder of entries, each a file named by the digest of what it is made of
//! (the caller's key: a name never changes meaning), with its blake3 hash beside it
//! (`<name>.blake3`). The rules, each for a reason:
//!
//! - **Checked on read.** [`Store::get`] hashes the entry and compares it with the hash
//!   written when it was made: a damaged, half-copied or hand-edited entry is refused
//!   ([`Lookup::Damaged`]) and the caller makes it again, over it. A product taken from
//!   another store ([`Store::take_from`]) is copied first and the copy checked, so what is
//!   used is what was checked, whatever happens to the original meanwhile.
//! - **Whole or not at all.** An entry is made in a temp file of the store's folder
//!   (`process::temp_name`), hashed, its hash written, and renamed into place: a killed
//!   maker leaves a temp file, never an entry. Concurrent makers of one name (the
//!   machine-wide store has no lock) each rename a whole file; a reader that catches one's
//!   hash beside the other's file refuses it, never takes it.
//! - **Swept.** [`Store::sweep`] removes the temp files of pybuilds that are gone;
//!   [`Store::keep_only`] the older entries of a family only the newest one is of use in;
//!   [`Store::remove_unused`] entries unused for long (a machine-wide store).
//! - **Remote-aware.** With the team's remote cache, an entry missing here can be fetched
//!   ([`Store::fetch`]: verified against its sha256, then the caller's check against what is
//!   here, and only then entered) and one made here uploaded ([`Store::upload`]), under a
//!   key made of its name, what kind of product it is, pybuild's version and the platform.
//!
//! A project's store is `.pybuild/layers/` (removed by `clean` with the rest of
//! `.pybuild/`); a store shared by the user's checkouts lives in pybuild's cache, which
//! `clean` never touches. Where each one is, and what is in it, the steps say.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};

use crate::base::process::{sweep_temporaries, temp_name};
use crate::base::ui::Printer;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::remote::{self, OutputFile, Remote, Upload, key};
use crate::engine::statcache::{Hash, hash_file};
use crate::engine::state;
use crate::engine::step::CacheKey;

/// What ends the name of an entry's hash file.
const SUM: &str = ".blake3";

/// A folder of products, each checked against the hash beside it.
pub(crate) struct Store {
    dir: PathBuf,
}

/// What [`Store::get`] found under a name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// An entry holding what was written, at this path.
    Intact(PathBuf),
    Missing,
    /// An entry that no longer holds what was written (or half of a pair being renamed
    /// in): never to be used; making it again replaces it.
    Damaged,
}

/// What kind of product an entry is, for its key in the remote cache and its one file in
/// the remote entry.
pub(crate) struct Kind {
    /// The key's kind (`"layer"`), kept from one version to the next: it names entries
    /// already on the server.
    pub(crate) name: &'static str,
    /// What it is, for messages (`"dependencies PEX"`).
    pub(crate) what: &'static str,
    /// The file's path in the remote entry.
    pub(crate) file: &'static str,
}

impl Store {
    /// The store in `dir` (made when the first entry is).
    pub(crate) fn at(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// Where the entry `name` is, intact or not.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The entry `name`, checked against the hash written when it was made.
    pub(crate) fn get(&self, name: &str) -> Lookup {
        let path = self.path(name);
        if !path.is_file() {
            return Lookup::Missing;
        }
        match (recorded(&path), hash_file(&path)) {
            (Some(recorded), Ok(hash)) if recorded == hash => Lookup::Intact(path),
            _ => Lookup::Damaged,
        }
    }

    /// A new temp path in the store's folder, for a product being made (swept by
    /// [`Store::sweep`] if its maker is killed); enter it with [`Store::put`].
    pub(crate) fn temp(&self) -> Result<PathBuf> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        Ok(self.dir.join(temp_name()))
    }

    /// Enters the finished file at `temp` (from [`Store::temp`]) as `name`: hashed, its hash
    /// written beside, then renamed into place. Returns the entry's path.
    pub(crate) fn put(&self, name: &str, temp: &Path) -> Result<PathBuf> {
        let hash = hash_file(temp).with_context(|| format!("cannot read {}", temp.display()))?;
        self.enter(name, temp, &hash)
    }

    /// Enters `temp`, whose hash is `hash`, as `name`.
    fn enter(&self, name: &str, temp: &Path, hash: &str) -> Result<PathBuf> {
        let path = self.path(name);
        state::write_atomically(&sum_of(&path), hash.as_bytes())?;
        fs::rename(temp, &path)
            .with_context(|| format!("cannot move {} to {}", temp.display(), path.display()))?;
        Ok(path)
    }

    /// Enters `bytes` as `name` (a small product: a stamp, a record).
    pub(crate) fn put_bytes(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let temp = self.temp()?;
        fs::write(&temp, bytes).with_context(|| format!("cannot write {}", temp.display()))?;
        self.put(name, &temp).inspect_err(|_| {
            let _ = fs::remove_file(&temp);
        })
    }

    /// Copies the entry `name` of `from` into this store, if `from` has it: the copy is
    /// checked against `from`'s recorded hash, then by `accept` (given the copy), and
    /// entered only if both find it right. Returns whether it was.
    pub(crate) fn take_from(
        &self,
        from: &Store,
        name: &str,
        accept: impl FnOnce(&Path) -> bool,
    ) -> Result<bool> {
        let source = from.path(name);
        let (Some(hash), true) = (recorded(&source), source.is_file()) else {
            return Ok(false);
        };
        let temp = self.temp()?;
        let taken = fs::copy(&source, &temp)
            .with_context(|| format!("cannot copy {} to {}", source.display(), temp.display()))
            .map(|_| hash_file(&temp).ok().as_deref() == Some(hash.as_str()) && accept(&temp));
        match taken {
            Ok(true) => {
                self.enter(name, &temp, &hash)?;
                from.touch(name);
                Ok(true)
            }
            other => {
                let _ = fs::remove_file(&temp);
                other
            }
        }
    }

    /// Marks the entry `name` used now: [`Store::remove_unused`] leaves it.
    pub(crate) fn touch(&self, name: &str) {
        if let Ok(file) = fs::File::options().append(true).open(self.path(name)) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Removes the entries whose names begin with `family` but for `keep` (with their
    /// hashes): the older products of a kind that only its newest one is of use in.
    pub(crate) fn keep_only(&self, family: &str, keep: &[&str]) {
        for (path, name) in self.entries() {
            let entry = name.strip_suffix(SUM).unwrap_or(&name);
            if name.starts_with(family) && !keep.contains(&entry) {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// Removes the entries (with their hashes) not used for `age`: nothing is lost but the
    /// time to make them again.
    pub(crate) fn remove_unused(&self, age: Duration) {
        let now = SystemTime::now();
        for (path, name) in self.entries() {
            if name.ends_with(SUM) || name.starts_with('.') {
                continue; // a hash goes with its entry; temp files go with their owner
            }
            let old = fs::metadata(&path)
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > age);
            if old {
                let _ = fs::remove_file(&path);
                let _ = fs::remove_file(sum_of(&path));
            }
        }
    }

    /// Removes what killed makers left half-written.
    pub(crate) fn sweep(&self) {
        sweep_temporaries(std::slice::from_ref(&self.dir));
    }

    /// The files of the store's folder, with their names.
    fn entries(&self) -> Vec<(PathBuf, String)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|entry| {
                (
                    entry.path(),
                    entry.file_name().to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    /// Fetches the entry `name`, a product of `kind`, from the remote cache into this store,
    /// once its blob matches its sha256 and `check` (given the fetched file, and whether a
    /// trusted key signed the entry) finds it right. Returns its path, or `None` (a miss, or
    /// refused: the caller makes it here).
    pub(crate) fn fetch(
        &self,
        remote: &Remote,
        printer: &Printer,
        kind: &Kind,
        name: &str,
        check: impl FnOnce(&Path, bool) -> Result<()>,
    ) -> Result<Option<PathBuf>> {
        let temp = self.temp()?;
        let key = CacheKey {
            key: remote_key(kind, name),
            outputs: vec![kind.file.into()],
            unchecked: None,
        };
        let place = |files: &[OutputFile]| {
            matches!(files, [file] if file.path == kind.file).then(|| vec![temp.clone()])
        };
        let fetched = remote.fetch(printer, &key, place, |temps, signed| {
            let [(_, fetched)] = temps else {
                anyhow::bail!("a {} is one file", kind.what);
            };
            check(fetched, signed)
        });
        if fetched.is_none() {
            let _ = fs::remove_file(&temp);
            return Ok(None);
        }
        let entered = self.put(name, &temp);
        if entered.is_err() {
            let _ = fs::remove_file(&temp);
        }
        entered.map(Some)
    }

    /// Uploads the intact entry `name`, a product of `kind`, to the remote cache (in the
    /// background; the blob is sent only if the server lacks it).
    pub(crate) fn upload(&self, remote: &Remote, kind: &Kind, name: &str) {
        let path = self.path(name);
        let Some(built) = recorded(&path) else {
            return;
        };
        remote.upload(
            vec![remote_key(kind, name)],
            vec![Upload {
                path: kind.file.into(),
                executable: remote::is_executable(&path),
                file: path,
                built,
            }],
        );
    }
}

/// The file of an entry's hash, beside it.
fn sum_of(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(SUM);
    PathBuf::from(name)
}

/// The hash recorded for the entry at `path`, if any.
fn recorded(path: &Path) -> Option<Hash> {
    fs::read_to_string(sum_of(path)).ok()
}

/// The key of the entry `name` of `kind` in the remote cache.
fn remote_key(kind: &Kind, name: &str) -> String {
    let mut fingerprint = Fingerprint::default();
    fingerprint.part(kind.name, name);
    key::key(kind.name, kind.what, &fingerprint, Path::new("/"), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("layers"));
        (dir, store)
    }

    /// Gets `name`, or makes it with `make`: the way every user of the store goes.
    fn get_or_make(
        store: &Store,
        name: &str,
        make: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<(PathBuf, Lookup)> {
        let found = match store.get(name) {
            Lookup::Intact(path) => return Ok((path.clone(), Lookup::Intact(path))),
            other => other,
        };
        let temp = store.temp()?;
        let made = make(&temp).and_then(|()| store.put(name, &temp));
        if made.is_err() {
            let _ = fs::remove_file(&temp);
        }
        Ok((made?, found))
    }

    fn put(store: &Store, name: &str, bytes: &[u8]) -> PathBuf {
        let temp = store.temp().unwrap();
        fs::write(&temp, bytes).unwrap();
        store.put(name, &temp).unwrap()
    }

    fn make_with(bytes: &'static [u8]) -> impl FnOnce(&Path) -> Result<()> {
        move |temp| Ok(fs::write(temp, bytes)?)
    }

    #[test]
    fn an_entry_is_made_once_then_found_intact() {
        let (_dir, store) = store();
        let (path, found) = get_or_make(&store, "a", make_with(b"one")).unwrap();
        assert_eq!(found, Lookup::Missing);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let (again, found) = get_or_make(&store, "a", |_| panic!("made again")).unwrap();
        assert_eq!((again.clone(), found), (path.clone(), Lookup::Intact(path)));
    }

    #[test]
    fn a_torn_write_is_never_taken() {
        let (_dir, store) = store();
        // Killed before its hash was written: a file under the name, nothing beside it.
        fs::create_dir_all(&store.dir).unwrap();
        fs::write(store.path("a"), b"half").unwrap();
        assert_eq!(store.get("a"), Lookup::Damaged);
        // Killed while making: only a temp file, which is no entry and is swept.
        let temp = store.temp().unwrap();
        fs::write(&temp, b"half").unwrap();
        assert_eq!(store.get("b"), Lookup::Missing);
        // A maker that fails enters nothing and leaves nothing.
        let failed = get_or_make(&store, "b", |temp| {
            fs::write(temp, b"half")?;
            anyhow::bail!("killed")
        });
        assert!(failed.is_err());
        assert_eq!(store.get("b"), Lookup::Missing);
        let names: Vec<String> = store.entries().into_iter().map(|(_, n)| n).collect();
        assert_eq!(names.len(), 2, "{names:?}"); // "a" and the first temp file only
    }

    #[test]
    fn a_corrupt_entry_is_refused_and_made_again() {
        let (_dir, store) = store();
        let (path, _) = get_or_make(&store, "a", make_with(b"right")).unwrap();
        fs::write(&path, b"wrong").unwrap();
        assert_eq!(store.get("a"), Lookup::Damaged);
        let (path, found) = get_or_make(&store, "a", make_with(b"right")).unwrap();
        assert_eq!(found, Lookup::Damaged);
        assert_eq!(fs::read(&path).unwrap(), b"right");
        assert_eq!(store.get("a"), Lookup::Intact(path));
    }

    /// Large enough that a reader could catch a maker's write half done.
    const SAME: &[u8] = &[7; 1 << 20];

    #[test]
    fn concurrent_makers_each_leave_an_intact_entry() {
        let (_dir, store) = store();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // Makers that find the entry damaged or missing, and make it, over and over.
            let makers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        for _ in 0..30 {
                            let temp = store.temp().unwrap();
                            fs::write(&temp, SAME).unwrap();
                            store.put("a", &temp).unwrap();
                        }
                    })
                })
                .collect();
            // Readers meanwhile: what they are given is whole, or they are given nothing.
            for _ in 0..3 {
                scope.spawn(|| {
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Lookup::Intact(path) = store.get("a") {
                            let read = fs::read(path).unwrap();
                            assert!(
                                read == SAME,
                                "a torn entry was taken ({} bytes)",
                                read.len()
                            );
                        }
                    }
                });
            }
            for maker in makers {
                maker.join().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        assert!(matches!(store.get("a"), Lookup::Intact(_)));
        // No temp file is left behind by a maker that finished.
        assert_eq!(store.entries().len(), 2);
    }

    #[test]
    fn a_product_taken_from_another_store_is_checked_as_copied() {
        let (_dir, shared) = store();
        let (_other, here) = store();
        assert!(!here.take_from(&shared, "a", |_| true).unwrap());
        let (path, _) = get_or_make(&shared, "a", make_with(b"right")).unwrap();
        assert!(!here.take_from(&shared, "a", |_| false).unwrap());
        assert_eq!(here.get("a"), Lookup::Missing);
        fs::write(&path, b"wrong").unwrap();
        assert!(!here.take_from(&shared, "a", |_| true).unwrap());
        assert_eq!(here.get("a"), Lookup::Missing);
        fs::write(&path, b"right").unwrap();
        assert!(here.take_from(&shared, "a", |_| true).unwrap());
        let Lookup::Intact(taken) = here.get("a") else {
            panic!("not taken whole");
        };
        assert_eq!(fs::read(taken).unwrap(), b"right");
        assert_eq!(here.entries().len(), 2, "a temp file was left");
    }

    #[test]
    fn only_the_kept_entry_of_a_family_stays() {
        let (_dir, store) = store();
        for name in ["deps-1.pex", "deps-2.pex", "other-1"] {
            put(&store, name, name.as_bytes());
        }
        store.keep_only("deps-", &["deps-2.pex"]);
        let mut names: Vec<String> = store.entries().into_iter().map(|(_, n)| n).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "deps-2.pex",
                "deps-2.pex.blake3",
                "other-1",
                "other-1.blake3"
            ]
        );
    }

    #[test]
    fn entries_unused_for_long_are_removed_with_their_hashes() {
        let (_dir, store) = store();
        let old = put(&store, "old", b"x");
        put(&store, "new", b"y");
        let long_ago = filetime::FileTime::from_unix_time(1_000_000_000, 0);
        filetime::set_file_mtime(&old, long_ago).unwrap();
        store.remove_unused(Duration::from_secs(3600));
        let mut names: Vec<String> = store.entries().into_iter().map(|(_, n)| n).collect();
        names.sort();
        assert_eq!(names, ["new", "new.blake3"]);
        // Used now: kept.
        let used = put(&store, "used", b"z");
        filetime::set_file_mtime(&used, long_ago).unwrap();
        store.touch("used");
        store.remove_unused(Duration::from_secs(3600));
        assert!(matches!(store.get("used"), Lookup::Intact(_)));
    }

    #[test]
    fn an_entry_made_long_ago_and_used_now_stays_whole_and_a_temp_file_is_its_makers() {
        let (_dir, store) = store();
        let long_ago = filetime::FileTime::from_unix_time(1_000_000_000, 0);
        // Made long ago (its hash too), used now: the hash is not taken for an unused entry.
        let used = put(&store, "used", b"z");
        filetime::set_file_mtime(&used, long_ago).unwrap();
        filetime::set_file_mtime(sum_of(&used), long_ago).unwrap();
        store.touch("used");
        // A maker's temp file, however old: its owner removes or enters it.
        let temp = store.temp().unwrap();
        fs::write(&temp, b"half").unwrap();
        filetime::set_file_mtime(&temp, long_ago).unwrap();
        store.remove_unused(Duration::from_secs(3600));
        assert_eq!(store.get("used"), Lookup::Intact(used));
        assert!(temp.exists());
    }

    #[test]
    fn a_remote_key_names_the_entry_and_its_kind() {
        let layer = Kind {
            name: "layer",
            what: "dependencies PEX",
            file: "deps.pex",
        };
        let stamp = Kind {
            name: "stamp",
            what: "wheelhouse stamp",
            file: "stamp",
        };
        let key = remote_key(&layer, "a");
        assert_eq!(key, remote_key(&layer, "a"));
        assert_ne!(key, remote_key(&layer, "b"));
        assert_ne!(key, remote_key(&stamp, "a"));
    }

    #[test]
    fn small_bytes_are_entered_whole_like_a_made_file() {
        let (_dir, store) = store();
        let path = store.put_bytes("stamp", b"groups").unwrap();
        assert_eq!(path, store.path("stamp"));
        assert_eq!(store.get("stamp"), Lookup::Intact(path.clone()));
        assert_eq!(fs::read(&path).unwrap(), b"groups");
        assert_eq!(store.entries().len(), 2, "a temp file was left");
    }

    #[test]
    fn a_sweep_removes_what_a_gone_maker_left_and_no_entry() {
        let (_dir, store) = store();
        let entry = put(&store, "a", b"whole");
        let mine = store.temp().unwrap();
        fs::write(&mine, b"being made").unwrap();
        // The same pid started a tick later: a pybuild that is gone.
        let me = crate::base::process::Identity::current()
            .unwrap()
            .to_string();
        let (pid, start) = me.rsplit_once('-').unwrap();
        let gone = format!("{pid}-{}", start.parse::<u64>().unwrap() + 1);
        let left = store.dir.join(temp_name().replace(&me, &gone));
        fs::write(&left, b"half").unwrap();
        store.sweep();
        assert!(!left.exists() && mine.exists());
        assert_eq!(store.get("a"), Lookup::Intact(entry));
    }
}
