//! Dependencies PEXes shared by every checkout of the user, in
//! `$PYBUILD_CACHE_DIR/layers/` (else `~/.cache/pybuild/layers/`): a fresh clone whose venv
//! holds exactly what another checkout's held (same digest, see
//! `pex::dependencies::deps_digest`) takes that layer instead of building it again. Each
//! layer has its blake3 hash beside it (`.blake3`), checked before use: a damaged or
//! half-copied one is never taken; and its entries are checked against the venv
//! (`pex::audit`), so a layer put there unchecked (by an older pybuild) is not taken either. Layers unused for 30 days are removed when another is
//! added.
//!
//! With a remote cache (see `engine::remote`), a layer no checkout here has is looked for
//! there under a key made of its name (which is its digest), pybuild's version and the
//! platform, verified against its sha256, compared entry by entry with the venv it is for
//! (`pex::audit`: every dependency's file as the venv's `RECORD` lists it, pex's runtime
//! and launchers as the venv's pex), and only then offered to the other checkouts like one
//! built here: nothing fetched enters this machine-wide cache unchecked. A layer built here
//! is uploaded under that key.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};

use super::pex::audit::{self, Here};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::remote::{Upload, key};
use crate::engine::statcache::hash_file;
use crate::engine::state;
use crate::engine::step::CacheKey;
use crate::python::build::Build;
use crate::python::wheelhouse;

const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

fn dir() -> PathBuf {
    wheelhouse::pybuild_cache_dir().join("layers")
}

/// The file of a layer's hash, beside it.
pub(crate) fn sum_of(layer: &Path) -> PathBuf {
    let mut name = layer.as_os_str().to_owned();
    name.push(".blake3");
    PathBuf::from(name)
}

/// Whether the layer at `path` still holds what was written (the hash recorded beside
/// it when it was built): anything reused is verified first.
pub(crate) fn is_intact(path: &Path) -> bool {
    match (fs::read_to_string(sum_of(path)), hash_file(path)) {
        (Ok(recorded), Ok(hash)) => recorded == hash,
        _ => false,
    }
}

/// The name of the layer's one file in its remote cache entry.
const REMOTE_NAME: &str = "deps.pex";

/// The layer's key in the remote cache.
fn remote_key(name: &str) -> String {
    let mut fingerprint = Fingerprint::default();
    fingerprint.part("layer", name);
    key::key(
        "layer",
        "dependencies PEX",
        &fingerprint,
        Path::new("/"),
        "",
    )
}

/// Copies the shared layer named `name` to `target` (with its hash), if there is an
/// intact one here, or else in the remote cache (checked against `here`, its venv); returns
/// whether it did.
pub(crate) fn take(cx: &Build, name: &str, target: &Path, here: &Here) -> Result<bool> {
    let shared = dir().join(name);
    let (Ok(hash), true) = (fs::read_to_string(sum_of(&shared)), shared.is_file()) else {
        return fetch(cx, name, target, here);
    };
    let partial = target.with_extension("partial");
    fs::copy(&shared, &partial)
        .with_context(|| format!("cannot copy {} to {}", shared.display(), partial.display()))?;
    // The copy is what is checked (once), not the shared file: that may change meanwhile.
    if hash_file(&partial).ok().as_deref() != Some(hash.as_str()) {
        let _ = fs::remove_file(&partial);
        return Ok(false);
    }
    // Against this venv too: a layer an older pybuild fetched unchecked is not taken.
    match audit::check(&partial, here, false) {
        Ok(None) => {}
        Ok(Some(what)) => {
            let _ = fs::remove_file(&partial);
            cx.printer.detail(&format!(
                "the shared dependencies PEX {} is not taken: {what} cannot be checked",
                shared.display()
            ));
            return Ok(false);
        }
        Err(err) => {
            let _ = fs::remove_file(&partial);
            cx.printer.warn(&format!(
                "the shared dependencies PEX {} is not what this venv holds ({err:#}); \
                 building it here",
                shared.display()
            ));
            return Ok(false);
        }
    }
    state::write_atomically(&sum_of(target), hash.as_bytes())?;
    fs::rename(&partial, target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    // Used now: not among the layers unused for long.
    if let Ok(file) = fs::File::options().append(true).open(&shared) {
        let _ = file.set_modified(SystemTime::now());
    }
    // Built by another checkout here, perhaps before the remote cache was configured.
    upload(cx, target, &hash);
    Ok(true)
}

/// Fetches the layer `name` from the remote cache into `target` (with its hash), once it
/// matches `here`'s venv, and offers it to the other checkouts; returns whether it did.
fn fetch(cx: &Build, name: &str, target: &Path, here: &Here) -> Result<bool> {
    let Some(remote) = cx.remote() else {
        return Ok(false);
    };
    remote.check_setup()?;
    let partial = target.with_extension("fetched");
    let key = CacheKey {
        key: remote_key(name),
        outputs: vec![REMOTE_NAME.into()],
        unchecked: None,
    };
    let place = |files: &[crate::engine::remote::OutputFile]| {
        matches!(files, [file] if file.path == REMOTE_NAME).then(|| vec![partial.clone()])
    };
    let fetched = remote.fetch(cx.printer, &key, place, |temps, signed| {
        let [(_, temp)] = temps else {
            anyhow::bail!("a dependencies PEX is one file");
        };
        let unchecked = audit::check(temp, here, false)
            .context("the fetched dependencies PEX is not what this venv holds")?;
        match (unchecked, signed) {
            (Some(what), false) => anyhow::bail!("{what} cannot be checked here"),
            _ => Ok(()),
        }
    });
    if fetched.is_none() {
        return Ok(false);
    }
    let hash = hash_file(&partial).with_context(|| format!("cannot read {}", partial.display()))?;
    state::write_atomically(&sum_of(target), hash.as_bytes())?;
    fs::rename(&partial, target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    cx.printer.detail(&format!(
        "dependencies PEX {} fetched from the remote cache",
        cx.project.key(target)
    ));
    offer_here(target)?;
    Ok(true)
}

/// Offers the layer at `built` (intact, its hash beside it, built here) to the other
/// checkouts and uploads it to the remote cache. Best effort: the build does not depend on
/// it.
pub(crate) fn offer(cx: &Build, built: &Path) -> Result<()> {
    let hash = fs::read_to_string(sum_of(built))
        .with_context(|| format!("cannot read {}", sum_of(built).display()))?;
    upload(cx, built, &hash);
    offer_here(built)
}

/// Uploads the layer at `layer`, whose hash is `hash`, to the remote cache, if any (in
/// the background; the blob is sent only if the server lacks it).
fn upload(cx: &Build, layer: &Path, hash: &str) {
    if let (Some(remote), Some(name)) = (cx.remote(), layer.file_name()) {
        remote.upload(
            vec![remote_key(&name.to_string_lossy())],
            vec![Upload {
                path: REMOTE_NAME.into(),
                file: layer.to_path_buf(),
                built: hash.to_string(),
                executable: crate::engine::remote::is_executable(layer),
            }],
        );
    }
}

/// Offers the layer at `built` (intact, its hash beside it) to the other checkouts: a copy
/// renamed into place, hash first, so a reader never takes half a file.
fn offer_here(built: &Path) -> Result<()> {
    let name = built.file_name().context("a layer has a file name")?;
    let dir = dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    remove_unused(&dir);
    let shared = dir.join(name);
    if is_intact(&shared) {
        return Ok(());
    }
    let hash = fs::read_to_string(sum_of(built))
        .with_context(|| format!("cannot read {}", sum_of(built).display()))?;
    let partial = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    fs::copy(built, partial.path())
        .with_context(|| format!("cannot copy {} to {}", built.display(), dir.display()))?;
    state::write_atomically(&sum_of(&shared), hash.as_bytes())?;
    partial
        .persist(&shared)
        .with_context(|| format!("cannot move a layer to {}", shared.display()))?;
    Ok(())
}

/// Removes the layers (with their hashes) unused for long, and what killed copies left.
fn remove_unused(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > UNUSED_FOR);
        if !old || name.ends_with(".blake3") {
            continue; // a hash goes with its layer
        }
        let _ = fs::remove_file(&path);
        if name.ends_with(".pex") {
            let _ = fs::remove_file(sum_of(&path));
        }
    }
}
