//! `pybuild cache keygen NAME --out FILE`: a new ed25519 key for signing the remote
//! cache's entries (see docs/remote-cache.md). The secret key goes to FILE, created with
//! mode 600 in a temp file renamed into place (never half-written, never readable by
//! others); the public key, the line readers put in `[cache] trusted-keys`, goes to stdout.
//! An existing FILE is kept unless `--force`: it may be the key CI signs with.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::base::config;
use crate::base::error::UserError;
use crate::base::ui::Printer;
use crate::engine::remote::signature::{SIGNING_KEY_VARIABLE, SecretKey};

pub(crate) fn keygen(name: &str, out: &Path, force: bool, printer: &Printer) -> Result<()> {
    if !config::is_key_name(name) {
        return Err(UserError::usage(format!(
            "`{name}` is not a key name: use letters, digits, `.`, `_` and `-` (e.g. `ci-2026`)"
        ))
        .into());
    }
    if !force && (out.exists() || out.is_symlink()) {
        return Err(
            UserError::usage(format!("{} exists; not overwritten", out.display()))
                .hint(
                    "pass --force to replace it (readers trusting its key will refuse new entries)",
                )
                .into(),
        );
    }
    let key = SecretKey::generate(name);
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set the mode of a file in {}", dir.display()))?;
    temp.write_all(key.to_file_text().as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    match force {
        true => temp.persist(out).map(drop),
        false => temp.persist_noclobber(out).map(drop),
    }
    .with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", key.public());
    printer.info(&format!(
        "secret key written to {} (mode 600): sign with {SIGNING_KEY_VARIABLE}={} or \
         `[cache] signing-key-file`; readers add the line above to `[cache] trusted-keys`",
        out.display(),
        out.display()
    ));
    Ok(())
}
