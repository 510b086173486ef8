//! pybuild's state in `.pybuild/`: what each step recorded after its last success, the
//! stat cache, the interpreters seen.
//!
//! - Saved atomically (a temp file in `.pybuild/`, then a rename), so a reader sees the old
//!   state or the new one, never a mix.
//! - A step's record is removed, and the state saved, *before* the step runs, and written
//!   again only after it succeeded: an interrupted step is never taken for fresh.
//! - A step's record holds the digest of its fingerprint; the full fingerprint, needed only
//!   to explain a rebuild, is kept beside it in `.pybuild/fingerprints/<step>.json`.
//! - Saved only when something changed, so a no-op build writes nothing.
//! - A missing file is a first run; a truncated, garbled or other-version file means
//!   "everything stale" with a one-line warning, never an error. The file carries a
//!   checksum of its contents, so even one flipped bit is seen, never read as a record.
//! - An entry of `.pybuild/` (or `.pybuild` itself) of the wrong type, a file where a
//!   directory belongs or the reverse, is replaced with a warning before anything uses it:
//!   damaged state costs a rebuild, never a wedged project.
//! - One pybuild process at a time works on a project: [`Lock`](super::lock::Lock) holds an exclusive lock on
//!   `.pybuild/lock` (released by the OS when the process dies, so a killed process never
//!   leaves a lock behind).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::ui::Printer;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::listing::Listing;
use crate::engine::statcache::{FileStat, Hash, StatCache};

/// Bumped whenever the format or the meaning of a record changes.
pub(crate) const VERSION: u32 = 3;
const STATE_FILE: &str = "state.bin";
/// The state file starts with this, then [`VERSION`] (u32, little-endian), then the
/// blake3 hash of the rest, then the postcard-encoded [`State`]: compact and fast to
/// read, which a no-op build over thousands of files notices.
const MAGIC: &[u8; 8] = b"pybuild\0";
const CHECKSUM_LEN: usize = 32;
pub(crate) const LOCK_FILE: &str = "lock";

/// The entries pybuild keeps in `.pybuild/`, and whether each is a directory.
pub(crate) const LAYOUT: &[(&str, bool)] = &[
    (LOCK_FILE, false),
    (STATE_FILE, false),
    ("fingerprints", true),
    ("produced", true),
    ("logs", true),
    ("layers", true),
    ("tmp", true),
    ("running", true),
    // What the app needs from the venv, as its interpreter said (`python::closure`).
    ("needed", false),
];

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) steps: BTreeMap<String, StepRecord>,
    pub(crate) files: StatCache,
    pub(crate) interpreters: BTreeMap<String, BinaryProbe>,
    pub(crate) listing: Listing,
    /// Whether `steps` or `interpreters` changed since loading or saving.
    #[serde(skip)]
    pub(crate) dirty: bool,
}

/// What a program said about itself when asked (its real path and version), kept while
/// the stat data of the file found and of the real one are unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BinaryProbe {
    pub(crate) found_stat: FileStat,
    pub(crate) real: PathBuf,
    pub(crate) real_stat: FileStat,
    pub(crate) version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StepRecord {
    /// [`Fingerprint::digest`] of the fingerprint recorded for the step.
    pub(crate) digest: Hash,
    /// Output path (relative to the project, or absolute) → content hash.
    pub(crate) outputs: BTreeMap<String, Hash>,
    /// When the step last ran (ns since the epoch); steps that build on its result
    /// include it in their fingerprint, so they run again after it does.
    pub(crate) run_id: i64,
}

impl State {
    pub(crate) fn load(dir: &Path, printer: &Printer) -> State {
        let path = dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return State::default(),
            Err(err) => return Self::discard(&path, &err.to_string(), printer),
        };
        let Some(payload) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Self::discard(&path, "not a pybuild state file", printer);
        };
        let (version, payload) = payload.split_at(payload.len().min(4));
        let version = <[u8; 4]>::try_from(version).map(u32::from_le_bytes);
        match version {
            Ok(VERSION) => {}
            Ok(other) => {
                let why = format!("version {other}; this pybuild writes {VERSION}");
                return Self::discard(&path, &why, printer);
            }
            Err(_) => return Self::discard(&path, "truncated", printer),
        }
        if payload.len() < CHECKSUM_LEN {
            return Self::discard(&path, "truncated", printer);
        }
        let (checksum, payload) = payload.split_at(CHECKSUM_LEN);
        if blake3::hash(payload).as_bytes() != checksum {
            return Self::discard(&path, "its checksum does not match", printer);
        }
        match postcard::from_bytes::<State>(payload) {
            Ok(state) => state,
            Err(err) => Self::discard(&path, &err.to_string(), printer),
        }
    }

    fn discard(path: &Path, why: &str, printer: &Printer) -> State {
        printer.warn(&format!(
            "ignoring unreadable {} ({why}); everything will be rebuilt",
            path.display()
        ));
        State::default()
    }

    pub(crate) fn save(&mut self, dir: &Path) -> Result<()> {
        let payload = postcard::to_stdvec(self).context("cannot serialise the state")?;
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
        bytes.extend_from_slice(&payload);
        write_atomically(&dir.join(STATE_FILE), &bytes)?;
        self.dirty = false;
        self.files.mark_saved();
        self.listing.mark_saved();
        Ok(())
    }

    pub(crate) fn save_if_changed(&mut self, dir: &Path) -> Result<()> {
        if self.dirty || self.files.is_changed() || self.listing.is_changed() {
            self.save(dir)?;
        }
        Ok(())
    }

    /// Records a step's success: its full fingerprint beside the state, then the record.
    pub(crate) fn record(
        &mut self,
        dir: &Path,
        step: &str,
        fingerprint: &Fingerprint,
        record: StepRecord,
    ) -> Result<()> {
        let text = serde_json::to_vec(fingerprint).context("cannot serialise a fingerprint")?;
        write_atomically(&fingerprint_path(dir, step), &text)?;
        remember_produced(dir, step, record.outputs.keys())?;
        self.steps.insert(step.to_string(), record);
        self.dirty = true;
        self.save(dir)
    }

    /// Removes a step's record (before it runs), and saves. The fingerprint it is about to
    /// run with is written already: should the run fail, the next one knows the step was
    /// tried (its record alone says whether it finished).
    pub(crate) fn forget(
        &mut self,
        dir: &Path,
        step: &str,
        fingerprint: &Fingerprint,
    ) -> Result<()> {
        let text = serde_json::to_vec(fingerprint).context("cannot serialise a fingerprint")?;
        write_atomically(&fingerprint_path(dir, step), &text)?;
        self.steps.remove(step);
        self.dirty = true;
        self.save(dir)
    }
}

/// The fingerprint a step recorded, to explain why it is stale; `None` if unreadable.
pub(crate) fn recorded_fingerprint(dir: &Path, step: &str) -> Option<Fingerprint> {
    let text = fs::read(fingerprint_path(dir, step)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Every output `step` ever recorded, in this state directory's life: a step's record is
/// removed before it runs, so after a failed or changed build (another bundle kind, another
/// output name) only this still knows what `pybuild clean` should remove.
pub(crate) fn produced_outputs(dir: &Path, step: &str) -> BTreeSet<String> {
    fs::read(produced_path(dir, step))
        .ok()
        .and_then(|text| serde_json::from_slice(&text).ok())
        .unwrap_or_default()
}

fn remember_produced<'a>(
    dir: &Path,
    step: &str,
    outputs: impl Iterator<Item = &'a String>,
) -> Result<()> {
    let mut produced = produced_outputs(dir, step);
    let before = produced.len();
    produced.extend(outputs.cloned());
    if produced.len() == before {
        return Ok(());
    }
    let text = serde_json::to_vec(&produced).context("cannot serialise the outputs")?;
    write_atomically(&produced_path(dir, step), &text)
}

fn produced_path(dir: &Path, step: &str) -> PathBuf {
    dir.join("produced").join(format!("{step}.json"))
}

fn fingerprint_path(dir: &Path, step: &str) -> PathBuf {
    dir.join("fingerprints").join(format!("{step}.json"))
}

/// Writes `bytes` to `path` through a temp file in the same directory and a rename; the
/// file is private to the user (the temp file's 0600), as pybuild's state should be.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, bytes, None)
}

/// [`write_atomically`] for a file the user owns and shares (`project.toml`, a bundle's
/// manifest): the umask decides its mode, as for any file a tool writes.
pub(crate) fn write_shared(path: &Path, bytes: &[u8]) -> Result<()> {
    let umask = rustix::process::umask(rustix::fs::Mode::empty());
    rustix::process::umask(umask);
    write_with_mode(path, bytes, Some(0o666 & !umask.bits()))
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Named for the sweep (`base::outputs::sweep`): a manifest's temp file is in `dist/`.
    let mut temp = tempfile::Builder::new()
        .prefix(&crate::base::process::temp_name())
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", temp.path().display()))?;
    }
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_data())
        .with_context(|| format!("cannot write {}", temp.path().display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Identifies the saved state file's version (it is replaced, never rewritten, on save),
/// to tell whether another process saved it since.
pub(crate) fn saved_stamp(dir: &Path) -> Option<(u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir.join(STATE_FILE)).ok()?;
    Some((meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::ui::Printer;
    use crate::engine::lock::Lock;

    #[test]
    fn produced_outputs_outlive_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(dir.path(), &Printer::silent());
        for output in ["dist/app.pex", "dist/app.pyz"] {
            let record = StepRecord {
                digest: Fingerprint::default().digest(),
                outputs: BTreeMap::from([(output.to_string(), "h".to_string())]),
                run_id: 1,
            };
            state
                .record(dir.path(), "bundle", &Fingerprint::default(), record)
                .unwrap();
        }
        state
            .forget(dir.path(), "bundle", &Fingerprint::default())
            .unwrap();
        let produced: Vec<String> = produced_outputs(dir.path(), "bundle").into_iter().collect();
        assert_eq!(produced, ["dist/app.pex", "dist/app.pyz"]);
    }

    #[test]
    fn garbage_truncated_and_other_versions_load_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let printer = Printer::silent();
        let mut state = State::load(dir.path(), &printer);
        let record = StepRecord {
            digest: Fingerprint::default().digest(),
            outputs: BTreeMap::new(),
            run_id: 1,
        };
        state
            .record(dir.path(), "venv", &Fingerprint::default(), record)
            .unwrap();
        assert_eq!(
            recorded_fingerprint(dir.path(), "venv"),
            Some(Fingerprint::default())
        );
        assert_eq!(State::load(dir.path(), &printer).steps.len(), 1);

        let path = dir.path().join(STATE_FILE);
        let full = fs::read(&path).unwrap();
        fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert!(State::load(dir.path(), &printer).steps.is_empty());
        fs::write(&path, b"\xff\x00garbage").unwrap();
        assert!(State::load(dir.path(), &printer).steps.is_empty());
        let mut other = full.clone();
        other[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&999u32.to_le_bytes());
        fs::write(&path, other).unwrap();
        assert!(State::load(dir.path(), &printer).steps.is_empty());
    }

    #[test]
    fn any_flipped_bit_discards_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let printer = Printer::silent();
        let mut state = State::load(dir.path(), &printer);
        let record = StepRecord {
            digest: Fingerprint::default().digest(),
            outputs: BTreeMap::from([("dist/app.pex".to_string(), "h".to_string())]),
            run_id: 1,
        };
        state
            .record(dir.path(), "bundle", &Fingerprint::default(), record)
            .unwrap();
        let path = dir.path().join(STATE_FILE);
        let good = fs::read(&path).unwrap();
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            fs::write(&path, &bad).unwrap();
            let loaded = State::load(dir.path(), &printer);
            assert!(loaded.steps.is_empty(), "bit {bit} went unnoticed");
        }
    }

    #[test]
    fn entries_of_the_wrong_type_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join(".pybuild");
        fs::write(&state_dir, "garbage").unwrap();
        let printer = Printer::silent();
        drop(Lock::acquire(&state_dir, false, &printer).unwrap());
        assert!(state_dir.is_dir());
        fs::write(state_dir.join("logs"), "garbage").unwrap();
        fs::create_dir_all(state_dir.join("state.bin/x")).unwrap();
        fs::remove_file(state_dir.join(LOCK_FILE)).unwrap();
        fs::create_dir(state_dir.join(LOCK_FILE)).unwrap();
        let _lock = Lock::acquire(&state_dir, false, &printer).unwrap();
        assert!(!state_dir.join("logs").exists());
        assert!(!state_dir.join("state.bin").exists());
        assert!(state_dir.join(LOCK_FILE).is_file());
        let mut state = State::load(&state_dir, &printer);
        state.save(&state_dir).unwrap();
    }

    #[test]
    fn second_lock_fails_fast_without_wait() {
        let dir = tempfile::tempdir().unwrap();
        let printer = Printer::silent();
        let first = Lock::acquire(dir.path(), false, &printer).unwrap();
        let err = Lock::acquire(dir.path(), false, &printer).err().unwrap();
        assert!(err.to_string().contains("another pybuild"), "{err}");
        drop(first);
        Lock::acquire(dir.path(), false, &printer).unwrap();
    }
}
