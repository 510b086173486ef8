//! The few parts of the zip format the layered PEX needs, read and written without a zip
//! library: the dependencies PEX's entries found through its central directory (after
//! the `/bin/sh` header), copied byte for byte, and new entries written as Python's
//! zipfile writes them for pex (deflated, pex's deterministic date, absolute offsets),
//! so the result is the archive pex would write. No zip64, no encryption, no data
//! descriptors: an archive that has or needs them is refused, and the caller then runs
//! pex. What only reads a zip goes through `steps::zip_reader`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
/// pex's deterministic date, 1980-01-01 00:00, in MS-DOS form.
const DOS_DATE: u16 = (1 << 5) | 1;
/// Made by: Unix (3), zip 2.0; needed: 2.0 (what Python's zipfile writes).
const MADE_BY: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
const UTF8_NAME: u16 = 0x800;

fn u16_at(data: &[u8], at: usize) -> Result<u16> {
    let bytes = data.get(at..at + 2).context("the zip is truncated")?;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32> {
    let bytes = data.get(at..at + 4).context("the zip is truncated")?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// One entry of the central directory.
pub(super) struct Entry {
    pub(super) name: String,
    /// Where its central record lies in the archive, and how long it is.
    central: (usize, usize),
    /// Where its local header starts in the archive (absolute), and its whole length.
    local: (usize, usize),
    method: u16,
    compressed: usize,
    pub(super) external: u32,
}

/// The dependencies PEX, read: where the zip starts, its entries.
pub(super) struct Archive {
    pub(super) first_entry: usize,
    pub(super) entries: Vec<Entry>,
}

impl Archive {
    pub(super) fn parse(data: &[u8]) -> Result<Archive> {
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
    pub(super) fn read(&self, data: &[u8], name: &str) -> Result<Vec<u8>> {
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
pub(super) struct Writer<W: Write> {
    out: W,
    at: usize,
    central: Vec<u8>,
    count: usize,
    dirs: BTreeSet<String>,
}

impl<W: Write> Writer<W> {
    /// A zip in `out`, after `header` (the PEX's `/bin/sh` header).
    pub(super) fn new(mut out: W, header: &[u8]) -> Result<Writer<W>> {
        out.write_all(header)
            .context("cannot write the PEX header")?;
        Ok(Writer {
            out,
            at: header.len(),
            central: Vec::new(),
            count: 0,
            dirs: BTreeSet::new(),
        })
    }

    fn offset(&self) -> Result<u32> {
        u32::try_from(self.at)
            .ok()
            .filter(|&at| at != u32::MAX)
            .context("the PEX would need zip64")
    }

    /// Copies an entry of `data` as it is, its central record pointing to its new place.
    pub(super) fn copy(&mut self, data: &[u8], entry: &Entry) -> Result<()> {
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
    pub(super) fn add_dirs(&mut self, path: &str) -> Result<()> {
        let path = path.trim_end_matches('/');
        let mut dirs = Vec::new();
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash + 1;
            dirs.push(path[..end].to_string());
        }
        for dir in dirs {
            if !self.dirs.contains(&dir) {
                self.record(&dir, 0, 0, 0, (0o40755 << 16) | 0x10)?;
                self.dirs.insert(dir);
            }
        }
        Ok(())
    }

    /// Adds file `name` with `bytes`, deflated, with permission bits `mode`.
    pub(super) fn add(&mut self, name: &str, bytes: &[u8], mode: u32) -> Result<()> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).context("cannot deflate")?;
        let deflated = encoder.finish().context("cannot deflate")?;
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        let size = u32::try_from(bytes.len()).context("a file too big for a zip without zip64")?;
        let compressed = u32::try_from(deflated.len()).context("a file too big for a zip")?;
        self.record(name, crc.sum(), compressed, size, (0o100000 | mode) << 16)?;
        self.out
            .write_all(&deflated)
            .context("cannot write the PEX")?;
        self.at += deflated.len();
        Ok(())
    }

    /// Adds file `name` with the content of `path`, deflated, with permission bits `mode`,
    /// never holding it in memory: it is read twice, once for its checksum and deflated
    /// size (which come first), once to write it; a file that changed between the two is
    /// refused.
    pub(super) fn add_file(&mut self, name: &str, path: &Path, mode: u32) -> Result<()> {
        let (crc, size, compressed) = deflate_file(path, &mut std::io::sink())?;
        let size32 = u32::try_from(size).context("a file too big for a zip without zip64")?;
        let compressed32 = u32::try_from(compressed).context("a file too big for a zip")?;
        self.record(name, crc, compressed32, size32, (0o100000 | mode) << 16)?;
        let written = deflate_file(path, &mut self.out)?;
        ensure!(
            written == (crc, size, compressed),
            "{} changed while it was added to the PEX",
            path.display()
        );
        self.at += compressed32 as usize;
        Ok(())
    }

    /// Writes an entry's local header and its central record, for a body of `compressed`
    /// bytes that the caller writes next.
    fn record(
        &mut self,
        name: &str,
        crc: u32,
        compressed: u32,
        size: u32,
        external: u32,
    ) -> Result<()> {
        let offset = self.offset()?;
        let method: u16 = if name.ends_with('/') { 0 } else { 8 };
        let flags = if name.is_ascii() { 0 } else { UTF8_NAME };
        let name_len = u16::try_from(name.len()).context("a name too long for a zip")?;
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
        self.central.extend_from_slice(&CENTRAL.to_le_bytes());
        self.central.extend_from_slice(&MADE_BY.to_le_bytes());
        self.central.extend_from_slice(&common);
        self.central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        self.central.extend_from_slice(&external.to_le_bytes());
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.at += local.len();
        self.count += 1;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<W> {
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

/// Deflates the file at `path` into `out` as [`Writer::add`] does, in chunks; returns its
/// CRC-32, its size and its deflated size.
fn deflate_file(path: &Path, out: &mut dyn Write) -> Result<(u32, u64, u64)> {
    let cannot = || format!("cannot read {}", path.display());
    let mut file = File::open(path).with_context(cannot)?;
    let mut counted = Counted { out, count: 0 };
    let mut encoder = DeflateEncoder::new(&mut counted, Compression::default());
    let mut crc = flate2::Crc::new();
    let mut size = 0u64;
    let mut buf = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buf).with_context(cannot)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        crc.update(&buf[..read]);
        encoder
            .write_all(&buf[..read])
            .context("cannot write the PEX")?;
    }
    encoder.finish().context("cannot write the PEX")?;
    Ok((crc.sum(), size, counted.count))
}

/// A writer that counts what goes through it.
struct Counted<'a> {
    out: &'a mut dyn Write,
    count: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.out.write(buf)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read as _, Write as _};

    use zip::CompressionMethod;
    use zip::write::SimpleFileOptions;

    use super::*;

    const HEADER: &[u8] = b"#!/bin/sh\necho a header before the zip\n";

    /// A zip written by the `zip` crate with one stored entry, for [`Writer::copy`].
    fn stored_source() -> Vec<u8> {
        let mut source = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .unix_permissions(0o600);
        source.start_file("copied/stored.txt", options).unwrap();
        source.write_all(b"stored as it is").unwrap();
        source.finish().unwrap().into_inner()
    }

    /// Entries with extra fields (in their local headers and central records) and comments,
    /// after a header, in an archive with a comment: each found, and read, whole.
    #[test]
    fn extra_fields_and_comments_are_stepped_over() {
        let mut source = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in [("a.txt", b"first".as_slice()), ("b/c.py", b"second")] {
            let mut options = zip::write::FullFileOptions::default()
                .compression_method(CompressionMethod::Stored)
                .with_file_comment(format!("the comment of {name}"));
            // A field of an ID no one registered, which readers step over.
            options.add_extra_data(0x4242, [7; 9], false).unwrap();
            source.start_file(name, options).unwrap();
            source.write_all(body).unwrap();
        }
        source.set_comment("the archive's comment").unwrap();
        let zip = source.finish().unwrap().into_inner();
        let mut data = HEADER.to_vec();
        data.extend_from_slice(&zip);
        let archive = Archive::parse(&data).unwrap();
        let names: Vec<&str> = archive.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b/c.py"]);
        assert_eq!(archive.first_entry, HEADER.len());
        assert_eq!(archive.read(&data, "a.txt").unwrap(), b"first");
        assert_eq!(archive.read(&data, "b/c.py").unwrap(), b"second");
    }

    /// An empty zip after a header starts where the header ends; an entry whose size is
    /// zip64's sentinel is refused.
    #[test]
    fn an_empty_archive_and_a_zip64_size_are_read_as_they_are() {
        let empty = zip::ZipWriter::new(Cursor::new(Vec::new()))
            .finish()
            .unwrap()
            .into_inner();
        let mut data = HEADER.to_vec();
        data.extend_from_slice(&empty);
        let archive = Archive::parse(&data).unwrap();
        assert!(archive.entries.is_empty());
        assert_eq!(archive.first_entry, HEADER.len());

        let mut data = stored_source();
        let central = Archive::parse(&data).unwrap().entries[0].central.0;
        data[central + 24..central + 28].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = Archive::parse(&data)
            .err()
            .expect("a zip64 entry is refused");
        assert!(format!("{err}").contains("zip64"), "{err}");
    }

    /// What the writer writes, read back by the `zip` crate (as Python's zipfile and pex
    /// read it), field by field; and by [`Archive`], the reader the layered PEX uses.
    #[test]
    fn what_the_writer_writes_reads_back_field_by_field() {
        let source = stored_source();
        let parsed = Archive::parse(&source).unwrap();
        let mut writer = Writer::new(Vec::new(), HEADER).unwrap();
        writer.add_dirs("app/sub/mod.py").unwrap();
        writer.add("app/sub/mod.py", b"VALUE = 1\n", 0o644).unwrap();
        writer
            .add("app/run", &b"#!/bin/sh\n".repeat(50), 0o755)
            .unwrap();
        writer.add("app/empty.txt", b"", 0o600).unwrap();
        writer.add_dirs("café/ünï.py").unwrap();
        writer
            .add("café/ünï.py", "X = 'é'\n".as_bytes(), 0o644)
            .unwrap();
        writer.copy(&source, &parsed.entries[0]).unwrap();
        let data = writer.finish().unwrap();
        assert!(data.starts_with(HEADER));
        // Python's zipfile's fields, as pex writes them: made by Unix (3) with zip 2.0, the
        // date 1980-01-01.
        let written = Archive::parse(&data).unwrap();
        let central = written.entry("app/sub/mod.py").unwrap().central.0;
        assert_eq!(u16_at(&data, central + 4).unwrap(), 0x0314);
        assert_eq!(u16_at(&data, central + 14).unwrap(), 0x0021);

        // (name, is a directory, mode, method, content)
        let long = b"#!/bin/sh\n".repeat(50);
        let expected: [(&str, bool, u32, CompressionMethod, &[u8]); 8] = [
            ("app/", true, 0o40755, CompressionMethod::Stored, b""),
            ("app/sub/", true, 0o40755, CompressionMethod::Stored, b""),
            (
                "app/sub/mod.py",
                false,
                0o100644,
                CompressionMethod::Deflated,
                b"VALUE = 1\n",
            ),
            (
                "app/run",
                false,
                0o100755,
                CompressionMethod::Deflated,
                &long,
            ),
            (
                "app/empty.txt",
                false,
                0o100600,
                CompressionMethod::Deflated,
                b"",
            ),
            ("café/", true, 0o40755, CompressionMethod::Stored, b""),
            (
                "café/ünï.py",
                false,
                0o100644,
                CompressionMethod::Deflated,
                "X = 'é'\n".as_bytes(),
            ),
            (
                "copied/stored.txt",
                false,
                0o100600,
                CompressionMethod::Stored,
                b"stored as it is",
            ),
        ];
        let mut zip = zip::ZipArchive::new(Cursor::new(&data)).unwrap();
        assert_eq!(zip.len(), expected.len());
        for (index, (name, is_dir, mode, method, content)) in expected.into_iter().enumerate() {
            let mut entry = zip.by_index(index).unwrap();
            assert_eq!(entry.name(), name);
            assert_eq!(entry.is_dir(), is_dir, "{name}");
            assert_eq!(entry.unix_mode(), Some(mode), "{name}");
            assert_eq!(entry.compression(), method, "{name}");
            assert_eq!(entry.size(), content.len() as u64, "{name}");
            if name != "copied/stored.txt" {
                // pex's deterministic date: 1980-01-01 00:00:00.
                let date = entry.last_modified().unwrap();
                assert_eq!(
                    (date.year(), date.month(), date.day()),
                    (1980, 1, 1),
                    "{name}"
                );
                assert_eq!(
                    (date.hour(), date.minute(), date.second()),
                    (0, 0, 0),
                    "{name}"
                );
            }
            let mut read = Vec::new();
            // Reading to the end checks the CRC-32 the writer recorded.
            entry.read_to_end(&mut read).unwrap();
            assert_eq!(read, content, "{name}");
            drop(entry);
            let own = Archive::parse(&data).unwrap();
            assert_eq!(own.read(&data, name).unwrap(), content, "{name}");
        }
        let own = Archive::parse(&data).unwrap();
        assert_eq!(own.first_entry, HEADER.len());
        assert_eq!(own.entries[2].external >> 16, 0o100644);
    }

    #[test]
    fn a_file_added_from_disk_is_the_bytes_added_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut memory = Writer::new(Vec::new(), b"#!/bin/sh\n").unwrap();
        memory.add("a/f", &bytes, 0o644).unwrap();
        let mut disk = Writer::new(Vec::new(), b"#!/bin/sh\n").unwrap();
        disk.add_file("a/f", &path, 0o644).unwrap();
        let written = disk.finish().unwrap();
        assert_eq!(memory.finish().unwrap(), written);
        let archive = Archive::parse(&written).unwrap();
        assert_eq!(archive.read(&written, "a/f").unwrap(), bytes);
    }
}
