//! The layered PEX written by pybuild itself, without starting pex (about 1-2 s of pex's
//! own start-up saved per build).
//!
//! pex builds the dependencies PEX with the very options the final PEX gets (`--venv
//! --sh-boot`, no `pex-args`), so it already holds everything the final PEX holds except
//! the project's code: the same `.bootstrap/` (pex's runtime, with its tools, as `--venv`
//! implies), the same `.deps/`, the same `/bin/sh` header. pex's own build of `pex
//! --requirements-pex deps.pex -D layer -e ENTRY --venv --sh-boot` differs from it only
//! in what depends on the code, and this module makes exactly those changes, as pex
//! 2.105 computes them (`pex_builder.PEXBuilder._prepare_code`):
//!
//! - `PEX-INFO` gets the `entry_point`, the `code_hash` (sha1 of the layer's sorted
//!   relative paths, then of each file's bytes, in that order: `CacheHelper.pex_code_hash`)
//!   and the `pex_hash` (sha1 of `PEX-INFO` without it, dumped as
//!   `json.dumps(sort_keys=True, separators=(",", ":"))`);
//! - the old `pex_hash` becomes the new one wherever pex wrote it: `__main__.py` and
//!   `__pex__/__init__.py` (the boot code's argument) and the `/bin/sh` header (the path
//!   of the installed venv, `venvs/<v>/<pex_hash>/<contents hash>`; the contents hash
//!   depends on the interpreter, which the dependencies PEX's digest holds);
//! - the layer's files are added, deflated, with pex's deterministic date and modes.
//!
//! So the `--venv` extraction under `PEX_ROOT`, keyed by the `pex_hash`, is the one pex
//! itself would pick: new code is never run from a stale extraction. The dependencies
//! PEX's other entries are copied as they are. Anything unexpected (a zip64 archive, a
//! `PEX-INFO` that does not dump back to its own bytes, a dotfile in the layer that pex
//! would leave out of the hash, `PEX_*` variables that pex reads while building) is an
//! error, on which the caller runs pex instead.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde_json::Value;

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
/// The files pex writes for the code (see module doc), taken from the dependencies PEX.
const REWRITTEN: &[&str] = &["PEX-INFO", "__main__.py", "__pex__/__init__.py"];
/// sha1 of nothing: the `code_hash` of a PEX without code.
const NO_CODE: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
/// pex's deterministic date, 1980-01-01 00:00, in MS-DOS form.
const DOS_DATE: u16 = (1 << 5) | 1;
/// Made by: Unix (3), zip 2.0; needed: 2.0 (what Python's zipfile writes).
const MADE_BY: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
const UTF8_NAME: u16 = 0x800;

/// Whether this build lets pybuild write the PEX: pex reads `PEX_*` variables (other than
/// `PEX_ROOT`, which is pinned) while it builds, and `pex-args` may change what it writes.
pub(crate) fn applies(pex_args: &[String]) -> bool {
    pex_args.is_empty()
        && std::env::vars_os().all(|(name, _)| {
            let name = name.to_string_lossy();
            !name.starts_with("PEX_") || name == "PEX_ROOT"
        })
}

/// Writes to `out` the PEX pex would build from the dependencies PEX `deps` (built with the
/// same options), the files under `layer` and `entry_point`. Returns the number of files
/// layered.
pub(crate) fn write(deps: &Path, layer: &Path, entry_point: &str, out: &Path) -> Result<usize> {
    let data = fs::read(deps).with_context(|| format!("cannot read {}", deps.display()))?;
    let archive = Archive::parse(&data)?;
    let files = layer_files(layer)?;

    let info_text = archive.read(&data, "PEX-INFO")?;
    let mut info: Value = serde_json::from_slice(&info_text).context("PEX-INFO is not JSON")?;
    ensure!(
        python_dump(&info)?.as_bytes() == info_text.as_slice(),
        "PEX-INFO is not in the form pybuild writes back"
    );
    let fields = info.as_object_mut().context("PEX-INFO is not an object")?;
    let old_hash = match fields.get("pex_hash") {
        Some(Value::String(hash)) if hash.len() == 40 => hash.clone(),
        _ => bail!("PEX-INFO has no pex_hash"),
    };
    ensure!(
        fields.get("code_hash") == Some(&Value::from(NO_CODE))
            && fields.get("venv") == Some(&Value::Bool(true))
            && !fields.contains_key("entry_point"),
        "the dependencies PEX is not a --venv PEX without code"
    );
    fields.insert("entry_point".into(), entry_point.into());
    fields.insert("code_hash".into(), code_hash(layer, &files)?.into());
    fields.remove("pex_hash");
    let new_hash = sha1(python_dump(&info)?.as_bytes());
    info["pex_hash"] = new_hash.clone().into();
    let mut info_text = python_dump(&info)?;

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
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        layer_items.push((name.clone(), Item::New(bytes, mode(&path)?)));
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
    let mut zip = Writer::new(BufWriter::new(file), header.len());
    zip.out
        .write_all(&header)
        .context("cannot write the PEX header")?;
    for (name, item) in &items {
        zip.add_dirs(name)?;
        match item {
            Item::Copy(entry) => zip.copy(&data, entry)?,
            Item::New(bytes, mode) => zip.add(name, bytes, *mode)?,
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
}

/// The layer's files, relative, `/`-separated, sorted as pex sorts them (by path string).
fn layer_files(layer: &Path) -> Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let name = entry
                .file_name()
                .into_string()
                .ok()
                .context("a name is not UTF-8")?;
            // pex zips these but leaves them out of the code hash: let pex build.
            if name.starts_with('.')
                || name == "__pycache__"
                || name.ends_with(".pyc")
                || name.ends_with(".pyo")
            {
                bail!("{prefix}{name} is left out of pex's code hash");
            }
            let kind = entry.file_type().context("cannot stat a layer file")?;
            if kind.is_dir() {
                walk(&entry.path(), &format!("{prefix}{name}/"), out)?;
            } else if kind.is_file() {
                out.push(format!("{prefix}{name}"));
            } else {
                bail!("{prefix}{name} is not a plain file");
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(layer, "", &mut files)?;
    files.sort();
    Ok(files)
}

/// pex's `code_hash` of the layer: the paths, joined, then each file's bytes.
fn code_hash(layer: &Path, files: &[String]) -> Result<String> {
    let mut digest = sha1_smol::Sha1::new();
    digest.update(files.concat().as_bytes());
    for name in files {
        let path = layer.join(name);
        digest.update(&fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    Ok(digest.digest().to_string())
}

fn sha1(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
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

/// `json.dumps(value, sort_keys=True, separators=(",", ":"))`, as Python writes it
/// (`ensure_ascii`: every character outside printable ASCII as `\uXXXX`).
fn python_dump(value: &Value) -> Result<String> {
    fn string(text: &str, out: &mut String) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
    }
    fn dump(value: &Value, out: &mut String) -> Result<()> {
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
            Value::Number(n) => bail!("{n}: Python may write this number otherwise"),
            Value::String(s) => string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    dump(item, out)?;
                }
                out.push(']');
            }
            Value::Object(fields) => {
                let mut keys: Vec<&String> = fields.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(key, out);
                    out.push(':');
                    dump(&fields[key], out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }
    let mut out = String::new();
    dump(value, &mut out)?;
    Ok(out)
}

fn u16_at(data: &[u8], at: usize) -> Result<u16> {
    let bytes = data.get(at..at + 2).context("the zip is truncated")?;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32> {
    let bytes = data.get(at..at + 4).context("the zip is truncated")?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// One entry of the central directory.
struct Entry {
    name: String,
    /// Where its central record lies in the archive, and how long it is.
    central: (usize, usize),
    /// Where its local header starts in the archive (absolute), and its whole length.
    local: (usize, usize),
    method: u16,
    compressed: usize,
    external: u32,
}

/// The dependencies PEX, read: where the zip starts, its entries.
struct Archive {
    first_entry: usize,
    entries: Vec<Entry>,
}

impl Archive {
    fn parse(data: &[u8]) -> Result<Archive> {
        let tail = data.len().saturating_sub(22 + 0xFFFF);
        let end = (tail..data.len().saturating_sub(21))
            .rev()
            .find(|&at| u32_at(data, at).is_ok_and(|sig| sig == END))
            .context("no end of central directory: not a zip")?;
        ensure!(
            end < 20 || u32_at(data, end - 20)? != ZIP64_LOCATOR,
            "a zip64 archive"
        );
        let (disk, count, total) = (
            u16_at(data, end + 4)?,
            u16_at(data, end + 8)?,
            u16_at(data, end + 10)?,
        );
        let (size, offset) = (
            u32_at(data, end + 12)? as usize,
            u32_at(data, end + 16)? as usize,
        );
        ensure!(
            disk == 0 && count == total && count != 0xFFFF && offset != 0xFFFF_FFFF,
            "a split or zip64 archive"
        );
        // What precedes the zip (the header) shifts its offsets when they were written
        // relative to the zip's start.
        let shift = end
            .checked_sub(size + offset)
            .context("a garbled central directory")?;
        let mut entries = Vec::with_capacity(count as usize);
        let mut at = shift + offset;
        for _ in 0..count {
            ensure!(u32_at(data, at)? == CENTRAL, "a garbled central directory");
            let flags = u16_at(data, at + 8)?;
            ensure!(
                flags & 0b1001 == 0,
                "an encrypted entry or one with a data descriptor"
            );
            let method = u16_at(data, at + 10)?;
            let compressed = u32_at(data, at + 20)?;
            let size = u32_at(data, at + 24)?;
            let name_len = u16_at(data, at + 28)? as usize;
            let record =
                46 + name_len + u16_at(data, at + 30)? as usize + u16_at(data, at + 32)? as usize;
            let local = u32_at(data, at + 42)?;
            ensure!(
                compressed != 0xFFFF_FFFF && size != 0xFFFF_FFFF && local != 0xFFFF_FFFF,
                "a zip64 entry"
            );
            let name = data
                .get(at + 46..at + 46 + name_len)
                .context("the zip is truncated")?;
            let name = String::from_utf8(name.to_vec()).context("an entry name is not UTF-8")?;
            let local = shift + local as usize;
            ensure!(u32_at(data, local)? == LOCAL, "{name}: no local header");
            let local_len = 30
                + u16_at(data, local + 26)? as usize
                + u16_at(data, local + 28)? as usize
                + compressed as usize;
            ensure!(local + local_len <= data.len(), "the zip is truncated");
            entries.push(Entry {
                name,
                central: (at, record),
                local: (local, local_len),
                method,
                compressed: compressed as usize,
                external: u32_at(data, at + 38)?,
            });
            at += record;
        }
        let first_entry = entries
            .iter()
            .map(|e| e.local.0)
            .min()
            .unwrap_or(shift + offset);
        Ok(Archive {
            first_entry,
            entries,
        })
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .with_context(|| format!("the dependencies PEX has no {name}"))
    }

    /// The bytes of entry `name`, inflated.
    fn read(&self, data: &[u8], name: &str) -> Result<Vec<u8>> {
        let entry = self.entry(name)?;
        let start = entry.local.0 + entry.local.1 - entry.compressed;
        let raw = &data[start..start + entry.compressed];
        match entry.method {
            0 => Ok(raw.to_vec()),
            8 => {
                let mut out = Vec::new();
                DeflateDecoder::new(raw)
                    .read_to_end(&mut out)
                    .with_context(|| format!("cannot inflate {name}"))?;
                Ok(out)
            }
            method => bail!("{name} is compressed with method {method}"),
        }
    }
}

/// A zip written entry by entry after a header, with absolute offsets (as Python's
/// zipfile writes when it appends to a file), then its central directory.
struct Writer<W: Write> {
    out: W,
    at: usize,
    central: Vec<u8>,
    count: usize,
    dirs: std::collections::BTreeSet<String>,
}

impl<W: Write> Writer<W> {
    fn new(out: W, header_len: usize) -> Writer<W> {
        Writer {
            out,
            at: header_len,
            central: Vec::new(),
            count: 0,
            dirs: Default::default(),
        }
    }

    fn offset(&self) -> Result<u32> {
        u32::try_from(self.at)
            .ok()
            .filter(|&at| at != u32::MAX)
            .context("the PEX would need zip64")
    }

    /// Copies an entry of `data` as it is, its central record pointing to its new place.
    fn copy(&mut self, data: &[u8], entry: &Entry) -> Result<()> {
        let offset = self.offset()?;
        let (start, len) = entry.local;
        self.out
            .write_all(&data[start..start + len])
            .context("cannot write the PEX")?;
        let (central, central_len) = entry.central;
        let mut record = data[central..central + central_len].to_vec();
        record[42..46].copy_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(&record);
        if entry.name.ends_with('/') {
            self.dirs.insert(entry.name.clone());
        }
        self.at += len;
        self.count += 1;
        Ok(())
    }

    /// Adds the directory entries of `path`'s parents not written yet, as pex does.
    fn add_dirs(&mut self, path: &str) -> Result<()> {
        let path = path.trim_end_matches('/');
        let mut dirs = Vec::new();
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash + 1;
            dirs.push(path[..end].to_string());
        }
        for dir in dirs {
            if !self.dirs.contains(&dir) {
                self.record(&dir, &[], 0, 0, (0o40755 << 16) | 0x10)?;
                self.dirs.insert(dir);
            }
        }
        Ok(())
    }

    /// Adds file `name` with `bytes`, deflated, with permission bits `mode`.
    fn add(&mut self, name: &str, bytes: &[u8], mode: u32) -> Result<()> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).context("cannot deflate")?;
        let deflated = encoder.finish().context("cannot deflate")?;
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        let size = u32::try_from(bytes.len()).context("a file too big for a zip without zip64")?;
        self.record(name, &deflated, crc.sum(), size, (0o100000 | mode) << 16)
    }

    fn record(
        &mut self,
        name: &str,
        body: &[u8],
        crc: u32,
        size: u32,
        external: u32,
    ) -> Result<()> {
        let offset = self.offset()?;
        let method: u16 = if name.ends_with('/') { 0 } else { 8 };
        let flags = if name.is_ascii() { 0 } else { UTF8_NAME };
        let name_len = u16::try_from(name.len()).context("a name too long for a zip")?;
        let compressed = u32::try_from(body.len()).context("a file too big for a zip")?;
        let mut common = Vec::with_capacity(26);
        common.extend_from_slice(&NEEDED.to_le_bytes());
        common.extend_from_slice(&flags.to_le_bytes());
        common.extend_from_slice(&method.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // time: 00:00:00
        common.extend_from_slice(&DOS_DATE.to_le_bytes());
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&compressed.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra
        let mut local = LOCAL.to_le_bytes().to_vec();
        local.extend_from_slice(&common);
        local.extend_from_slice(name.as_bytes());
        self.out.write_all(&local).context("cannot write the PEX")?;
        self.out.write_all(body).context("cannot write the PEX")?;
        self.central.extend_from_slice(&CENTRAL.to_le_bytes());
        self.central.extend_from_slice(&MADE_BY.to_le_bytes());
        self.central.extend_from_slice(&common);
        self.central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        self.central.extend_from_slice(&external.to_le_bytes());
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.at += local.len() + body.len();
        self.count += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<W> {
        let offset = self.offset()?;
        let count = u16::try_from(self.count)
            .ok()
            .filter(|&n| n != u16::MAX)
            .context("too many entries for a zip without zip64")?;
        let size = u32::try_from(self.central.len()).context("the PEX would need zip64")?;
        self.out
            .write_all(&self.central)
            .context("cannot write the PEX")?;
        let mut end = END.to_le_bytes().to_vec();
        end.extend_from_slice(&[0; 4]); // this disk, the directory's disk
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&offset.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.out.write_all(&end).context("cannot write the PEX")?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_dumped_as_python_dumps_it() {
        let value: Value = serde_json::from_str(
            r#"{"b":[1,true,null],"a":"x/y \"q\" \u00e9 \ud83d\ude00 \u007f\n","c":{}}"#,
        )
        .unwrap();
        assert_eq!(
            python_dump(&value).unwrap(),
            r#"{"a":"x/y \"q\" \u00e9 \ud83d\ude00 \u007f\n","b":[1,true,null],"c":{}}"#
        );
    }

    #[test]
    fn every_occurrence_of_the_hash_is_replaced() {
        assert_eq!(replace(b"aXbXX", "X", "YY"), b"aYYbYYYY");
    }

    #[test]
    fn the_code_hash_is_pex_s() {
        // pex 2.105: CacheHelper.pex_code_hash of a folder holding `a/b.py` ("x") and
        // `a-c.txt` ("y"): sha1("a-c.txta/b.py" + "y" + "x").
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("a/b.py"), "x").unwrap();
        fs::write(dir.path().join("a-c.txt"), "y").unwrap();
        let files = layer_files(dir.path()).unwrap();
        assert_eq!(files, ["a-c.txt", "a/b.py"]);
        assert_eq!(
            code_hash(dir.path(), &files).unwrap(),
            sha1(b"a-c.txta/b.pyyx")
        );
        fs::write(dir.path().join("a/.hidden"), "z").unwrap();
        assert!(layer_files(dir.path()).is_err());
    }
}
