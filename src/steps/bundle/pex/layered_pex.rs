//! The layered PEX written by pybuild itself, without starting pex (about 1-2 s of pex's
//! own start-up saved per build).
//!
//! pex builds the dependencies PEX with the very options the final PEX gets (`--venv
//! --sh-boot`, no `pex-args`), so it already holds everything the final PEX holds except
//! the project's code: the same `.bootstrap/` (pex's runtime, with its tools, as `--venv`
//! implies), the same `.deps/`, the same `/bin/sh` header. pex's own build of `pex
//! --requirements-pex deps.pex -D layer -e ENTRY --venv --sh-boot` differs from it only
//! in what depends on the code, and this module makes exactly those changes, as pex
//! 2.105 does:
//!
//! - `PEX-INFO` gets the `entry_point`, `code_hash` and `pex_hash` (see `pex_info`);
//! - the old `pex_hash` becomes the new one wherever pex wrote it: `__main__.py` and
//!   `__pex__/__init__.py` (the boot code's argument) and the `/bin/sh` header (the path
//!   of the installed venv, `venvs/<v>/<pex_hash>/<contents hash>`; the contents hash
//!   depends on the interpreter, which the dependencies PEX's digest holds);
//! - the layer's files are added, deflated, with pex's deterministic date and modes.
//!
//! and one change of its own: the inner loop's block in the `/bin/sh` header (see `boot`),
//! so the first run after an edit reuses the dependencies' venv. The zip is pex's.
//!
//! So the `--venv` extraction under `PEX_ROOT`, keyed by the `pex_hash`, is the one pex
//! itself would pick: new code is never run from a stale extraction. The dependencies
//! PEX's other entries are copied as they are (see `zip`). Anything unexpected (a zip64
//! archive, a `PEX-INFO` that does not dump back to its own bytes, a dotfile in the layer
//! that pex would leave out of the hash, `PEX_*` variables that pex reads while building)
//! is an error, on which the caller runs pex instead.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context as _, Result, ensure};

use super::boot;
use super::pex_info::{self, WithCode};
use super::zip::{Archive, Entry, Writer};

/// The files pex writes for the code (see module doc), taken from the dependencies PEX.
const REWRITTEN: &[&str] = &["PEX-INFO", "__main__.py", "__pex__/__init__.py"];

/// Whether this build lets pybuild write the PEX: pex reads `PEX_*` variables (other than
/// `PEX_ROOT`, which is pinned) while it builds, and `pex-args` may change what it writes.
pub(super) fn applies(pex_args: &[String]) -> bool {
    pex_args.is_empty()
        && std::env::vars_os().all(|(name, _)| {
            let name = name.to_string_lossy();
            !name.starts_with("PEX_") || name == "PEX_ROOT"
        })
}

/// Writes to `out` the PEX pex would build from the dependencies PEX `deps` (built with the
/// same options), the files under `layer` and `entry_point`. Returns the number of files
/// layered.
pub(super) fn write(deps: &Path, layer: &Path, entry_point: &str, out: &Path) -> Result<usize> {
    let data = fs::read(deps).with_context(|| format!("cannot read {}", deps.display()))?;
    let archive = Archive::parse(&data)?;
    let files = pex_info::layer_files(layer)?;

    let WithCode {
        text: mut info_text,
        old_hash,
        new_hash,
    } = pex_info::add_code(
        &archive.read(&data, "PEX-INFO")?,
        entry_point,
        layer,
        &files,
    )?;

    let mut rewritten = Vec::new();
    for name in &REWRITTEN[1..] {
        let text = archive.read(&data, name)?;
        ensure!(
            contains(&text, old_hash.as_bytes()),
            "{name} does not name the pex_hash"
        );
        rewritten.push((*name, replace(&text, &old_hash, &new_hash)));
    }
    let header = replace(&data[..archive.first_entry], &old_hash, &new_hash);
    let header = boot::add_inner_loop(&header, &old_hash, &new_hash)?;

    // In pex's order: the dependencies PEX's own (the code files pex rewrites in their
    // places), with the layer's files, sorted, merged in. (pex sorts the files it zips,
    // each after its folders, but walks each of `.deps/` folders, files first.)
    let mut deps_items = Vec::new();
    for entry in &archive.entries {
        let item = match entry.name.as_str() {
            "PEX-INFO" => Item::New(std::mem::take(&mut info_text).into_bytes(), 0o644),
            name if REWRITTEN.contains(&name) => {
                let (_, text) = rewritten
                    .iter_mut()
                    .find(|(rewritten, _)| *rewritten == name)
                    .context("a rewritten file twice")?;
                Item::New(std::mem::take(text), (entry.external >> 16) & 0o777 | 0o400)
            }
            _ => Item::Copy(entry),
        };
        deps_items.push((entry.name.clone(), item));
    }
    let mut layer_items = Vec::new();
    for name in &files {
        let path = layer.join(name);
        let mode = mode(&path)?;
        layer_items.push((name.clone(), Item::File(path, mode)));
    }
    let mut items = Vec::with_capacity(deps_items.len() + layer_items.len());
    let mut layer_items = layer_items.into_iter().peekable();
    for (name, item) in deps_items {
        while let Some(layered) = layer_items.next_if(|(next, _)| *next <= name) {
            ensure!(
                layered.0 != name,
                "{name} is both in the dependencies PEX and in the layer"
            );
            items.push(layered);
        }
        items.push((name, item));
    }
    items.extend(layer_items);
    let partial = out.with_extension("pex-partial");
    let file = fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut zip = Writer::new(BufWriter::new(file), &header)?;
    for (name, item) in &items {
        zip.add_dirs(name)?;
        match item {
            Item::Copy(entry) => zip.copy(&data, entry)?,
            Item::New(bytes, mode) => zip.add(name, bytes, *mode)?,
            Item::File(path, mode) => zip.add_file(name, path, *mode)?,
        }
    }
    let mut out_file = zip.finish()?;
    out_file.flush().context("cannot write the PEX")?;
    drop(out_file);
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", partial.display()))?;
    fs::rename(&partial, out)
        .with_context(|| format!("cannot move {} to {}", partial.display(), out.display()))?;
    Ok(files.len())
}

/// What goes into the PEX under a name.
enum Item<'a> {
    /// An entry of the dependencies PEX, copied as it is.
    Copy(&'a Entry),
    /// New bytes, with these permission bits.
    New(Vec<u8>, u32),
    /// A layer file, read as it is written (it may be larger than the memory), with
    /// these permission bits.
    File(std::path::PathBuf, u32),
}

/// The zip mode pex gives a layer file: 0755 when the user may run it, else 0644.
fn mode(path: &Path) -> Result<u32> {
    let meta = fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    let bits = if rustix::process::geteuid().is_root() {
        0o111
    } else {
        0o100
    };
    Ok(if meta.permissions().mode() & bits != 0 {
        0o755
    } else {
        0o644
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace(bytes: &[u8], old: &str, new: &str) -> Vec<u8> {
    let (old, new) = (old.as_bytes(), new.as_bytes());
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(old) {
            out.extend_from_slice(new);
            rest = &rest[old.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_the_hash_is_replaced() {
        assert_eq!(replace(b"aXbXX", "X", "YY"), b"aYYbYYYY");
    }

    #[test]
    fn a_hash_is_found_only_where_it_is() {
        assert!(contains(b"__main__ abc123 x", b"abc123"));
        assert!(!contains(b"__main__ abc124 x", b"abc123"));
        assert!(!contains(b"abc12", b"abc123"));
    }
}
