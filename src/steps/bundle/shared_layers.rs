//! Dependencies PEXes shared by every checkout of the user, a store (`engine::store`) in
//! `$PYBUILD_CACHE_DIR/layers/` (else `~/.cache/pybuild/layers/`): a fresh clone whose venv
//! holds exactly what another checkout's held (same digest, see
//! `pex::dependencies::deps_digest`) takes that layer instead of building it again. A layer
//! is copied into the project's store and the copy checked against the hash written beside
//! the shared one: a damaged or half-copied one is never taken; and its entries are
//! checked against the venv (`pex::audit`), so a layer put there unchecked (by an older
//! pybuild) is not taken either. Layers unused for 30 days are removed when another is
//! added.
//!
//! With a remote cache (see `engine::remote`), a layer no checkout here has is looked for
//! there under a key made of its name (which is its digest), pybuild's version and the
//! platform, verified against its sha256, compared entry by entry with the venv it is for
//! (`pex::audit`: every dependency's file as the venv's `RECORD` lists it, pex's runtime
//! and launchers as the venv's pex), and only then offered to the other checkouts like one
//! built here: nothing fetched enters this machine-wide cache unchecked. A layer built here
//! is uploaded under that key.

use std::time::Duration;

use anyhow::{Context as _, Result};

use super::pex::audit::{self, Here};
use crate::engine::store::{Kind, Lookup, Store};
use crate::python::build::Build;
use crate::python::wheelhouse;

const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A dependencies PEX in the remote cache: one file under a key made of its name.
const LAYER: Kind = Kind {
    name: "layer",
    what: "dependencies PEX",
    file: "deps.pex",
};

/// The store the user's checkouts share.
fn shared() -> Store {
    Store::at(wheelhouse::pybuild_cache_dir().join("layers"))
}

/// Takes the shared layer `name` into the project's `store`, if there is an intact one
/// here, or else in the remote cache (checked against `here`, its venv); returns whether it
/// did.
pub(crate) fn take(cx: &Build, store: &Store, name: &str, here: &Here) -> Result<bool> {
    let shared = shared();
    if !shared.path(name).is_file() {
        return fetch(cx, store, name, here);
    }
    let shown = shared.path(name);
    // The copy is what is checked (once), not the shared file: that may change meanwhile.
    // Against this venv too: a layer an older pybuild fetched unchecked is not taken.
    let taken = store.take_from(&shared, name, |copy| {
        match audit::check(copy, here, false) {
            Ok(None) => true,
            Ok(Some(what)) => {
                cx.printer.detail(&format!(
                    "the shared dependencies PEX {} is not taken: {what} cannot be checked",
                    shown.display()
                ));
                false
            }
            Err(err) => {
                cx.printer.warn(&format!(
                    "the shared dependencies PEX {} is not what this venv holds ({err:#}); \
                 building it here",
                    shown.display()
                ));
                false
            }
        }
    })?;
    // Built by another checkout here, perhaps before the remote cache was configured.
    if let (true, Some(remote)) = (taken, cx.remote()) {
        store.upload(remote, &LAYER, name);
    }
    Ok(taken)
}

/// Fetches the layer `name` from the remote cache into the project's `store`, once it
/// matches `here`'s venv, and offers it to the other checkouts; returns whether it did.
fn fetch(cx: &Build, store: &Store, name: &str, here: &Here) -> Result<bool> {
    let Some(remote) = cx.remote() else {
        return Ok(false);
    };
    remote.check_setup()?;
    let fetched = store.fetch(remote, cx.printer, &LAYER, name, |temp, signed| {
        let unchecked = audit::check(temp, here, false)
            .context("the fetched dependencies PEX is not what this venv holds")?;
        match (unchecked, signed) {
            (Some(what), false) => anyhow::bail!("{what} cannot be checked here"),
            _ => Ok(()),
        }
    })?;
    let Some(path) = fetched else {
        return Ok(false);
    };
    cx.printer.detail(&format!(
        "dependencies PEX {} fetched from the remote cache",
        cx.project.key(&path)
    ));
    offer_here(store, name)?;
    Ok(true)
}

/// Offers the layer `name` of the project's `store` (built here) to the other checkouts
/// and uploads it to the remote cache. Best effort: the build does not depend on it.
pub(crate) fn offer(cx: &Build, store: &Store, name: &str) -> Result<()> {
    if let Some(remote) = cx.remote() {
        store.upload(remote, &LAYER, name);
    }
    offer_here(store, name)
}

/// Offers the layer `name` of `store` to the other checkouts: a copy checked against its
/// hash and entered whole, so a reader never takes half a file. Removes the layers unused
/// for long, and what killed copies left.
fn offer_here(store: &Store, name: &str) -> Result<()> {
    let shared = shared();
    shared.sweep();
    shared.remove_unused(UNUSED_FOR);
    if let Lookup::Intact(_) = shared.get(name) {
        return Ok(());
    }
    if !shared.take_from(store, name, |_| true)? {
        anyhow::bail!("{} changed as it was copied", store.path(name).display());
    }
    Ok(())
}
