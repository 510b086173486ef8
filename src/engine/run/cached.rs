//! The remote cache's part in deciding and running steps (see `engine::remote` and
//! docs/architecture.md, "The remote cache"): a stale step with a cache key is fetched
//! when the server has its result, and uploaded after it ran; the plan's last step may
//! have an early key, which lets a fresh clone take its result without running any step.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::DerefMut;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::engine::fingerprint::Fingerprint;
use crate::engine::remote::{self, Upload};
use crate::engine::session::Session;
use crate::engine::statcache::now_ns;
use crate::engine::state::StepRecord;
use crate::engine::step::{CacheKey, EarlyKey, Step};

/// The early key of the plan's last step, when it has one now. A step that cannot tell
/// (no interpreter yet, say) has none: the build then says why, step by step.
pub(super) fn early_key<'a, Cx>(cx: &mut Cx, step: &dyn Step<Cx>) -> Option<EarlyKey>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    match step.early_key(cx) {
        Ok(key) => key,
        Err(err) => {
            cx.printer.detail(&format!(
                "no early cache key for `{}`: {err:#}",
                step.name()
            ));
            None
        }
    }
}

/// Whether the step's record was made from `early`'s fingerprint and its outputs are
/// intact: its result is what these inputs make, whatever the state of the steps before.
pub(super) fn early_fresh<'a, Cx>(cx: &mut Cx, name: &str, early: &EarlyKey) -> Result<bool>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let Some(record) = cx.state.steps.get(name).cloned() else {
        return Ok(false);
    };
    if record.digest != early.fingerprint.digest() {
        return Ok(false);
    }
    for (output, recorded) in &record.outputs {
        if cx.hash(output)?.as_ref() != Some(recorded) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The step's key, when it has one and a remote cache is configured.
pub(super) fn cache_key<'a, Cx>(
    cx: &mut Cx,
    step: &dyn Step<Cx>,
    fingerprint: &Fingerprint,
) -> Option<CacheKey>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    cx.remote()?;
    match step.cache_key(cx, fingerprint) {
        Ok(key) => key,
        Err(err) => {
            cx.printer
                .detail(&format!("no cache key for `{}`: {err:#}", step.name()));
            None
        }
    }
}

/// Fetches the result cached under `key` into the project, once `step` found it matches
/// what is here (see `Step::fetch_check`), and records it for `step` with `fingerprint`,
/// as if it had been built here; whether it did. A signing key that cannot be used is an
/// error: the build would upload what it cannot sign.
pub(super) fn fetch<'a, Cx>(
    cx: &mut Cx,
    step: &dyn Step<Cx>,
    key: &CacheKey,
    fingerprint: &Fingerprint,
) -> Result<bool>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let name = step.name();
    let root = cx.project.root.clone();
    match cx.remote() {
        Some(remote) => remote.check_setup()?,
        None => return Ok(false),
    }
    let check = match step.fetch_check(cx) {
        Ok(check) => check,
        Err(err) => {
            cx.printer.detail(&format!(
                "`{name}` is not fetched: what is fetched cannot be checked here ({err:#})"
            ));
            return Ok(false);
        }
    };
    let Some(remote) = cx.remote() else {
        return Ok(false);
    };
    let expected: BTreeSet<&String> = key.outputs.iter().collect();
    let place = |files: &[remote::OutputFile]| {
        let named: BTreeSet<&String> = files.iter().map(|file| &file.path).collect();
        (named == expected && named.len() == files.len())
            .then(|| files.iter().map(|file| root.join(&file.path)).collect())
    };
    let fetched = remote.fetch(cx.printer, key, place, |temps, signed| {
        let temps: Vec<(String, PathBuf)> = temps
            .iter()
            .map(|(file, temp)| (file.path.clone(), temp.clone()))
            .collect();
        check(&temps, signed)
    });
    if fetched.is_none() {
        return Ok(false);
    }
    let mut outputs = BTreeMap::new();
    for output in &key.outputs {
        let hash = cx
            .hash(output)?
            .with_context(|| format!("{output} was fetched but cannot be read"))?;
        outputs.insert(output.clone(), hash);
    }
    let record = StepRecord {
        digest: fingerprint.digest(),
        outputs,
        run_id: now_ns(),
    };
    let state_dir = cx.project.state_dir();
    cx.state.record(&state_dir, name, fingerprint, record)?;
    Ok(true)
}

/// Uploads the outputs `name` recorded under each of `keys` (in the background; nothing
/// when read-only or without a remote cache).
pub(super) fn upload<'a, Cx>(cx: &mut Cx, name: &str, keys: Vec<String>)
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let Some(record) = cx.state.steps.get(name) else {
        return;
    };
    let root = &cx.project.root;
    let files: Vec<Upload> = record
        .outputs
        .iter()
        .map(|(path, built)| {
            let file = root.join(path);
            Upload {
                executable: remote::is_executable(&file),
                path: path.clone(),
                file,
                built: built.clone(),
            }
        })
        .collect();
    // Only outputs inside the project can be put back by a fetch.
    if files
        .iter()
        .any(|upload| Path::new(&upload.path).is_absolute())
    {
        return;
    }
    if let Some(remote) = cx.remote() {
        remote.upload(keys, files);
    }
}
