//! What the engine runs: a [`Step`], which says what its result depends on (its
//! fingerprint and the steps it builds on) and how to make it. The engine (`engine::run`)
//! decides from that whether it runs; see docs/architecture.md, "Freshness".
//!
//! `Cx` is whatever the steps work with: the engine reaches its own part of it, the
//! [`Session`](super::session::Session), through `DerefMut`, and knows nothing else of it.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::engine::fingerprint::Fingerprint;

pub(crate) trait Step<Cx> {
    fn name(&self) -> &str;

    /// Whose commands these are; see [`Kind`].
    fn kind(&self) -> Kind {
        Kind::BuiltIn
    }

    /// The steps whose results this one builds on: the engine adds when each last
    /// succeeded to the fingerprint, so this step runs again after any of them does.
    fn deps(&self) -> Vec<String> {
        Vec::new()
    }

    /// Checks that can fail before any step of the build runs (a bad output path), so a
    /// mistake is reported in milliseconds, not after the steps before this one.
    fn preflight(&self, _cx: &mut Cx) -> Result<()> {
        Ok(())
    }

    /// What the step's result depends on, as it is now (the runs of its [`Step::deps`]
    /// aside: the engine adds them).
    fn fingerprint(&self, cx: &mut Cx) -> Result<Fingerprint>;

    /// Makes the step's result; returns the files it produced (relative to the root, or
    /// absolute), whose hashes are recorded and checked before the record is trusted.
    fn run(&self, cx: &mut Cx) -> Result<Vec<String>>;

    /// The step's fingerprint and the job that makes its result, prepared together (cargo's
    /// `prepare_target` returns a `Job` the same way): what the engine calls. A step whose
    /// run needs what its fingerprint read (the bundle: its target, the input files, the
    /// interpreter) overrides it, so the job consumes what was read instead of reading it
    /// again, and a build runs with exactly what decided it was stale. By default, the
    /// fingerprint and a job that calls [`Step::run`].
    fn prepare<'s>(&'s self, cx: &mut Cx) -> Result<Prepared<'s, Cx>> {
        let fingerprint = self.fingerprint(cx)?;
        Ok(Prepared::new(fingerprint, move |cx| self.run(cx)))
    }

    /// Why the step's result is no longer in place although its record and outputs are
    /// (a venv whose interpreter was deleted, a distribution uninstalled by hand), if it
    /// is not: checked, cheaply, before the record is trusted.
    fn damage(&self, _cx: &mut Cx) -> Result<Option<String>> {
        Ok(None)
    }

    /// How the step's result is shared through the remote cache (see `engine::remote`), if
    /// it can be: its key, given its `fingerprint` now, and the outputs it would produce.
    /// The key must hold everything the result's bytes depend on: a step fetches, instead
    /// of building, whatever another machine built under the same key.
    fn cache_key(&self, _cx: &mut Cx, _fingerprint: &Fingerprint) -> Result<Option<CacheKey>> {
        Ok(None)
    }

    /// As [`Step::cache_key`], but known before any step of the plan runs (no venv), when
    /// everything the result depends on is pinned: with the fingerprint it is made of,
    /// recorded for the step when its result is fetched this way. Only the plan's last step
    /// is asked: a hit, or a record made from this fingerprint with its outputs intact,
    /// leaves every step of the plan alone.
    fn early_key(&self, _cx: &mut Cx) -> Result<Option<EarlyKey>> {
        Ok(None)
    }

    /// How a result fetched from the remote cache is compared with what is here before it
    /// is used, prepared before the fetch (see [`FetchCheck`]). A step that names a key
    /// checks what it can: a fetched result is never trusted for being in the cache.
    fn fetch_check(&self, _cx: &mut Cx) -> Result<FetchCheck> {
        Ok(Box::new(|_, signed| match signed {
            true => Ok(()),
            false => bail!("nothing here can check it, and no trusted key signed it"),
        }))
    }

    /// Whether what the session derived from the project (`Session::derived`: the
    /// bundle's target) still holds after this step ran: a step that writes only its own
    /// outputs keeps it; one that may change the files it is derived from (a venv, a task
    /// running the user's commands) does not, and the engine forgets it before the step
    /// runs.
    fn keeps_derived(&self) -> bool {
        false
    }

    /// A few words shown after the step's status, such as the bundle's path.
    fn summary(&self, _cx: &Cx) -> String {
        String::new()
    }
}

/// See [`Step::prepare`]. The job runs at most once, after the engine decided the step is
/// stale; a fresh step's is dropped.
pub(crate) struct Prepared<'s, Cx> {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) job: Job<'s, Cx>,
}

/// Makes a step's result: see [`Step::run`].
pub(crate) type Job<'s, Cx> = Box<dyn FnOnce(&mut Cx) -> Result<Vec<String>> + 's>;

impl<'s, Cx> Prepared<'s, Cx> {
    pub(crate) fn new(
        fingerprint: Fingerprint,
        job: impl FnOnce(&mut Cx) -> Result<Vec<String>> + 's,
    ) -> Self {
        Prepared {
            fingerprint,
            job: Box::new(job),
        }
    }
}

/// A step's key in the remote cache, and the outputs (relative to the root) a result
/// fetched under it must consist of: an entry naming other files is ignored.
#[derive(Debug, Clone)]
pub(crate) struct CacheKey {
    pub(crate) key: String,
    pub(crate) outputs: Vec<String>,
    /// Why part of a result fetched under this key could not be checked here (a fresh
    /// clone has no venv to check the dependencies against): then only an entry a trusted
    /// key signed is asked for.
    pub(crate) unchecked: Option<String>,
}

/// Two keys are the same when they name the same result: whether this machine could check
/// it is no part of what it is (a key asked before the venv was made is the key after).
impl PartialEq for CacheKey {
    fn eq(&self, other: &CacheKey) -> bool {
        (&self.key, &self.outputs) == (&other.key, &other.outputs)
    }
}

impl Eq for CacheKey {}

/// Compares a fetched result with what is here: given each output (relative to the root)
/// and the temp file holding its verified bytes, and whether a trusted key signed the
/// entry (which vouches for what cannot be checked here). An error, naming the file that
/// differs, means the entry is ignored and the step built here.
pub(crate) type FetchCheck = Box<dyn FnOnce(&[(String, PathBuf)], bool) -> Result<()>>;

/// See [`Step::early_key`].
#[derive(Debug, Clone)]
pub(crate) struct EarlyKey {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) key: CacheKey,
}

/// Whose commands a step runs, which decides how the engine runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// pybuild's own: its commands write to the step's log, behind a spinner, under the
    /// project's lock.
    BuiltIn,
    /// The user's: its commands write to the terminal (no spinner, it would garble their
    /// output) and run without the project's lock (see `Lock::release`). `always`: it has
    /// nothing to be fresh by (neither sources nor outputs), so it runs every time, like a
    /// make target without prerequisites.
    Task { always: bool },
}
