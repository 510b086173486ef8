//! The team's remote cache: a server speaking Bazel's HTTP remote-cache protocol (`GET`,
//! `HEAD`, `PUT` on `/ac/<key>` and `/cas/<sha256>`; nginx with WebDAV, bazel-remote),
//! used by the engine for any step that names a cache key (see `Step::cache_key`), and by
//! the shared dependencies PEXes. See docs/remote-cache.md.
//!
//! The rules, each for a reason:
//! - A step's result is an action-cache entry (`entry`) naming blobs by sha256. Every blob
//!   is verified against its name before it is written, and written whole (a temp file
//!   renamed into place) only when all of the entry's blobs are verified: a poisoned entry
//!   or a corrupted blob costs a warning and a local build, never a wrong output.
//! - Uploads go blobs first, entry last, on a thread of their own, so a reader never sees
//!   an entry whose blobs are missing, and the build does not wait for the server;
//!   [`Remote::finish`] waits at most [`UPLOAD_WAIT`] for them at the end of the
//!   invocation. Each file is checked against the hash recorded when it was built before
//!   it is sent: a file changed since is not published under a key it no longer matches.
//! - The server is a help, never a need: unreachable, slow (every request has a time
//!   limit), erroring (5xx) or refusing (401, 403), it costs one warning, and the rest of
//!   the invocation goes without it. A miss is a 404.
//! - Every answer is read with a bound set before it arrives (see `transport`): an entry
//!   a few KiB, a blob the size its entry declares, streamed to disk. An answer that is
//!   not what was asked for (a size or digest other than the entry's, an entry too large)
//!   costs one warning and that entry only: it says the entry is poisoned or a blob was
//!   damaged on the server's disk, not that the server cannot serve the other entries,
//!   and each is checked as strictly. A blob the server no longer has (a 404: evicted,
//!   as bazel-remote evicts blobs and entries apart) is a plain miss, no warning.
//! - Read-only (`read-only = true`, `PYBUILD_REMOTE_CACHE_READ_ONLY=1`): no `PUT`, ever.
//! - Credentials (see `credentials`) are sent as a header and never shown: every URL in a
//!   message is the one without its user-info.
//! - Whoever may write to the server chooses what its readers run, unless entries are
//!   signed (`signature`): a writer with a signing key signs every entry it uploads; a
//!   reader trusting some keys takes only entries one of them signed (any other is a miss,
//!   with one warning). Signed or not, what is fetched is checked against what is here
//!   before it is used (the `check` of [`Remote::fetch`]: the step's own sources, the
//!   venv's `RECORD`s); a result that cannot be checked here (no venv yet) is taken only
//!   with a trusted signature.

mod credentials;
pub(crate) mod entry;
pub(crate) mod key;
pub(crate) mod signature;
mod transport;

use std::cell::{Cell, RefCell};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use sha2::{Digest as _, Sha256};

use crate::base::config::CacheSection;
use crate::base::error::UserError;
use crate::base::ui::Printer;
use crate::engine::statcache::{Hash, hash_bytes};
use crate::engine::step::CacheKey;
use credentials::Endpoint;
pub(crate) use entry::OutputFile;
use signature::{SecretKey, Trust};
use transport::{Answer, head, put};

/// The environment's twins of `[cache] remote` and `[cache] read-only`, which they override.
pub(crate) const URL_VARIABLE: &str = "PYBUILD_REMOTE_CACHE";
pub(crate) const READ_ONLY_VARIABLE: &str = "PYBUILD_REMOTE_CACHE_READ_ONLY";

/// How long the end of an invocation waits for its uploads before leaving them unfinished.
pub(crate) const UPLOAD_WAIT: Duration = Duration::from_secs(20);

pub(crate) struct Remote {
    endpoint: Endpoint,
    read_only: bool,
    agent: ureq::Agent,
    /// Set at the first fault: the rest of the invocation goes without the server.
    broken: Cell<bool>,
    /// The keys an entry must be signed by (none: any entry, checked here).
    trust: Trust,
    /// What uploads are signed with, if anything; the error if the key cannot be used.
    signer: Result<Option<Arc<SecretKey>>, String>,
    /// Set at the first entry refused for its signature: one warning says so.
    refused: Cell<bool>,
    stats: Arc<Stats>,
    uploads: RefCell<Vec<JoinHandle<Result<()>>>>,
}

#[derive(Default)]
struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    fetched: AtomicU64,
    sent: AtomicU64,
}

/// A file to upload: where the entry says it goes, where it is, the hash it was built with.
pub(crate) struct Upload {
    pub(crate) path: String,
    pub(crate) file: PathBuf,
    pub(crate) built: Hash,
    pub(crate) executable: bool,
}

impl Remote {
    /// The remote cache `[cache]` and the environment configure, if any (`root`: the
    /// project's, which a configured signing key file is relative to).
    pub(crate) fn configured(config: &CacheSection, root: &Path) -> Option<Remote> {
        let from_env = std::env::var(URL_VARIABLE)
            .ok()
            .filter(|url| !url.trim().is_empty());
        let url = from_env.or_else(|| config.remote.clone())?;
        let read_only = config.read_only
            || std::env::var(READ_ONLY_VARIABLE)
                .is_ok_and(|value| matches!(value.trim(), "1" | "true" | "yes"));
        let header = std::env::var(credentials::HEADER_VARIABLE).ok();
        let netrc = std::env::var_os("NETRC")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".netrc")))
            .and_then(|path| fs::read_to_string(path).ok());
        let (trust, trust_problem) = match Trust::configured(&config.trusted_keys) {
            Ok(trust) => (trust, None),
            Err(err) => (Trust::default(), Some(format!("{err:#}"))),
        };
        let signer = match signature::signing_key_file(config.signing_key_file.as_deref(), root) {
            _ if read_only => Ok(None),
            None => Ok(None),
            Some((file, setting)) => SecretKey::load(&file, &setting)
                .map(|key| Some(Arc::new(key)))
                .map_err(|err| format!("{err:#}")),
        };
        let signer = match trust_problem {
            Some(problem) => Err(problem),
            None => signer,
        };
        Some(Remote {
            endpoint: Endpoint::new(&url, header.as_deref(), netrc.as_deref()),
            read_only,
            agent: transport::agent(),
            broken: Cell::new(false),
            trust,
            signer,
            refused: Cell::new(false),
            stats: Arc::default(),
            uploads: RefCell::default(),
        })
    }

    /// The setting that makes this cache unusable (a signing key file that cannot be
    /// read, a malformed trusted key in the environment), as a usage error naming it.
    pub(crate) fn check_setup(&self) -> Result<()> {
        match &self.signer {
            Ok(_) => Ok(()),
            Err(problem) => Err(UserError::usage(format!("remote cache: {problem}"))
                .hint(format!(
                    "`pybuild cache keygen NAME --out FILE` writes a key; unset {} or `[cache] \
                     signing-key-file` to upload unsigned",
                    signature::SIGNING_KEY_VARIABLE
                ))
                .into()),
        }
    }

    /// Whether the server has an entry under `key` this machine would take (for
    /// `status`: a stale step "would be fetched").
    pub(crate) fn has(&self, printer: &Printer, key: &CacheKey) -> bool {
        if !self.admits(printer, key, true) {
            return false;
        }
        self.entry(printer, &key.key).is_some()
    }

    /// Whether an entry under `key` could be used at all: one whose result cannot be
    /// checked here needs a trusted signature.
    fn admits(&self, printer: &Printer, key: &CacheKey, loud: bool) -> bool {
        let Some(why) = key.unchecked.as_deref().filter(|_| !self.trust.any()) else {
            return true;
        };
        let note = format!(
            "remote cache: not asked for {}: {why}, and no `[cache] trusted-keys` vouch \
             for what cannot be checked here",
            key.outputs.first().map_or("the result", String::as_str)
        );
        match loud {
            true => printer.info(&note),
            false => printer.detail(&note),
        }
        false
    }

    /// The entry of `key`, if the server has a well-formed one signed as the trusted keys
    /// require; with whether a trusted key signed it.
    fn entry(&self, printer: &Printer, key: &str) -> Option<(Vec<OutputFile>, bool)> {
        if self.broken.get() {
            return None;
        }
        match transport::entry(&self.agent, &self.endpoint, key) {
            Answer::Found(bytes) => match entry::decode(&bytes) {
                Ok(entry) => {
                    let verdict = self
                        .trust
                        .verdict(key, &entry.files, entry.signature.as_deref());
                    match verdict.refusal().filter(|_| self.trust.any()) {
                        None => Some((entry.files, verdict.refusal().is_none())),
                        Some(why) => {
                            let message = format!(
                                "remote cache: ignoring the entry {key}: {why} (`trusted-keys` \
                                 names the keys taken); building here"
                            );
                            match self.refused.replace(true) {
                                false => printer.warn(&message),
                                true => printer.detail(&message),
                            }
                            None
                        }
                    }
                }
                Err(err) => {
                    printer.warn(&format!(
                        "remote cache: ignoring the malformed entry {key} ({err:#})"
                    ));
                    None
                }
            },
            Answer::Missing => None,
            Answer::Refused(why) => {
                refused(printer, key, &why);
                None
            }
            Answer::Fault(why) => {
                self.fault(printer, &why);
                None
            }
        }
    }

    /// Fetches the result cached under `key`: `place` says where each output of the
    /// entry goes, or `None` if the entry is not one this step could have made (then it
    /// is ignored). Every blob is verified against its digest and written to a temp file
    /// beside its place; `check` then compares them with what is here (given each file
    /// and its temp file, and whether a trusted key signed the entry), and only if it
    /// finds nothing wrong are they renamed into place. Returns the entry's outputs, or
    /// `None` (a miss: the step builds here).
    pub(crate) fn fetch(
        &self,
        printer: &Printer,
        key: &CacheKey,
        place: impl FnOnce(&[OutputFile]) -> Option<Vec<PathBuf>>,
        check: impl FnOnce(&[(OutputFile, PathBuf)], bool) -> Result<()>,
    ) -> Option<Vec<OutputFile>> {
        // Not asked for: no miss either.
        if !self.admits(printer, key, false) {
            return None;
        }
        let fetched = self.fetch_entry(printer, &key.key, place, check);
        let counter = match fetched {
            Some(_) => &self.stats.hits,
            None => &self.stats.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        fetched
    }

    fn fetch_entry(
        &self,
        printer: &Printer,
        key: &str,
        place: impl FnOnce(&[OutputFile]) -> Option<Vec<PathBuf>>,
        check: impl FnOnce(&[(OutputFile, PathBuf)], bool) -> Result<()>,
    ) -> Option<Vec<OutputFile>> {
        let (files, signed) = self.entry(printer, key)?;
        let Some(targets) = place(&files) else {
            printer.warn(&format!(
                "remote cache: ignoring the entry {key}: its outputs are not this step's"
            ));
            return None;
        };
        let mut verified = Vec::new();
        for (file, target) in files.iter().zip(&targets) {
            match transport::blob(&self.agent, &self.endpoint, file, target) {
                Answer::Found(temp) => verified.push((temp, target)),
                // Evicted from the server's store: a miss like any other.
                Answer::Missing => return None,
                Answer::Refused(why) => {
                    refused(printer, key, &why);
                    return None;
                }
                Answer::Fault(why) => {
                    self.fault(printer, &why);
                    return None;
                }
            }
            self.stats.fetched.fetch_add(file.size, Ordering::Relaxed);
        }
        let temps: Vec<(OutputFile, PathBuf)> = files
            .iter()
            .zip(&verified)
            .map(|(file, (temp, _))| (file.clone(), temp.path().to_path_buf()))
            .collect();
        if let Err(err) = check(&temps, signed) {
            printer.warn(&format!(
                "remote cache: ignoring the entry {key}: {err:#}; building here"
            ));
            return None;
        }
        for (temp, target) in verified {
            if let Err(err) = temp.persist(target) {
                printer.warn(&format!(
                    "remote cache: cannot write {}: {err}; building here",
                    target.display()
                ));
                return None;
            }
        }
        Some(files)
    }

    /// Uploads `files` and then, under each of `keys`, the entry naming them, on a thread
    /// of its own ([`Remote::finish`] waits for it). Nothing when read-only.
    pub(crate) fn upload(&self, keys: Vec<String>, files: Vec<Upload>) {
        if self.read_only || self.broken.get() || keys.is_empty() {
            return;
        }
        let Ok(signer) = self.signer.clone() else {
            return; // said by `check_setup`
        };
        // Unsigned, it would be refused by the readers trusting the same keys as this one,
        // and would replace a signed entry on the server.
        if signer.is_none() && self.trust.any() {
            return;
        }
        let (agent, endpoint, stats) = (
            self.agent.clone(),
            self.endpoint.clone(),
            self.stats.clone(),
        );
        let handle = std::thread::spawn(move || -> Result<()> {
            let mut outputs = Vec::new();
            for upload in files {
                let bytes = fs::read(&upload.file)
                    .with_context(|| format!("cannot read {}", upload.file.display()))?;
                if hash_bytes(&bytes) != upload.built {
                    bail!("{} changed since it was built; not uploaded", upload.path);
                }
                let sha256 = sha256_hex(&bytes);
                let path = format!("cas/{sha256}");
                if !head(&agent, &endpoint, &path)? {
                    put(&agent, &endpoint, &path, &bytes)?;
                    stats.sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                outputs.push(OutputFile {
                    path: upload.path,
                    sha256,
                    size: bytes.len() as u64,
                    executable: upload.executable,
                });
            }
            for key in keys {
                let signature = signer.as_ref().map(|signer| signer.sign(&key, &outputs));
                let entry = entry::encode(&outputs, signature.as_deref());
                put(&agent, &endpoint, &format!("ac/{key}"), &entry)?;
            }
            Ok(())
        });
        self.uploads.borrow_mut().push(handle);
    }

    /// Waits for the uploads, [`UPLOAD_WAIT`] at most, and says what the cache did.
    pub(crate) fn finish(&self, printer: &Printer) {
        let deadline = Instant::now() + UPLOAD_WAIT;
        let mut failed = None;
        let mut unfinished = 0;
        for handle in self.uploads.borrow_mut().drain(..) {
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !handle.is_finished() {
                unfinished += 1;
                continue;
            }
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(err)) => failed = Some(format!("{err:#}")),
                Err(_) => failed = Some("the upload thread panicked".into()),
            }
        }
        if let Some(why) = failed {
            printer.warn(&format!("remote cache: an upload failed ({why})"));
        }
        if unfinished > 0 {
            printer.warn(&format!(
                "remote cache: {unfinished} upload(s) unfinished after {} s, left \
                 (a partial upload is never visible as a hit)",
                UPLOAD_WAIT.as_secs()
            ));
        }
        let stats = &self.stats;
        let (hits, misses) = (
            stats.hits.load(Ordering::Relaxed),
            stats.misses.load(Ordering::Relaxed),
        );
        let sent = stats.sent.load(Ordering::Relaxed);
        if hits + misses + sent > 0 {
            printer.info(&format!(
                "remote cache: {hits} hit(s), {misses} miss(es), {} fetched, {} sent",
                size(stats.fetched.load(Ordering::Relaxed)),
                size(sent)
            ));
        }
    }

    fn fault(&self, printer: &Printer, why: &str) {
        if !self.broken.replace(true) {
            printer.warn(&format!(
                "remote cache unusable ({why}); building without it"
            ));
        }
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The one warning for an answer refused: the entry `key` is a miss.
fn refused(printer: &Printer, key: &str, why: &str) {
    printer.warn(&format!(
        "remote cache: ignoring the entry {key}: {why}; building here"
    ));
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// Whether the file at `path` is executable (its mode says so for its owner).
pub(crate) fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o100 != 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::{is_executable, size};

    /// An output is uploaded as executable when its owner may run it (a bundle), else not
    /// (its manifest): a fetch restores both modes.
    #[test]
    fn executable_is_the_owner_s_bit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        for (mode, executable) in [(0o644, false), (0o755, true), (0o700, true), (0o655, false)] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(is_executable(&file), executable, "{mode:o}");
        }
        assert!(!is_executable(&dir.path().join("missing")));
    }

    #[test]
    fn sizes_are_said_in_bytes_kilobytes_or_megabytes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_500), "1.5 kB");
        assert_eq!(size(2_500_000), "2.5 MB");
    }
}
