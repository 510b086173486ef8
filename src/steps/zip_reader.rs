//! The one reader of zip files the steps ship or check (a bundle read back, a PEX audited,
//! a PEX split into an image's layers), over the `zip` crate: entries by index or name,
//! inflated as they are read, and what precedes the zip (a PEX's `/bin/sh` header).
//!
//! Refused when opened: what is not a zip, and a zip naming an entry twice. Python's
//! `zipimport` takes the last of two entries of one name; a reader that saw another one
//! could check one file and ship the other, so no reader here has to decide.

use std::fs::File;
use std::io::{BufReader, Read, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};

/// An open zip file.
pub(crate) struct ZipReader {
    path: PathBuf,
    zip: zip::ZipArchive<BufReader<File>>,
}

/// What the central directory says of an entry.
pub(crate) struct EntryInfo {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    /// Its size, inflated.
    pub(crate) size: u64,
    /// The CRC-32 of its inflated bytes, as the central directory records it.
    pub(crate) crc32: u32,
}

impl ZipReader {
    /// Opens the zip at `path`: its central directory is read, not its entries.
    pub(crate) fn open(path: &Path) -> Result<ZipReader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let records = central_records(&file)
            .with_context(|| format!("{} is not a readable zip", path.display()))?;
        let zip = zip::ZipArchive::new(BufReader::new(file))
            .with_context(|| format!("{} is not a readable zip", path.display()))?;
        // The crate keeps one entry per name: fewer than the central directory's records
        // means a name came twice.
        ensure!(
            records == zip.len() as u64,
            "{} names an entry twice",
            path.display()
        );
        Ok(ZipReader {
            path: path.to_path_buf(),
            zip,
        })
    }

    /// How many entries it has.
    pub(crate) fn len(&self) -> usize {
        self.zip.len()
    }

    /// The name of entry `index`.
    pub(crate) fn name(&self, index: usize) -> Result<&str> {
        self.zip
            .name_for_index(index)
            .with_context(|| format!("{}: entry {index} has no name", self.path.display()))
    }

    /// The names of its entries, in the central directory's order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.zip.file_names()
    }

    /// The index of the entry `name`.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.zip.index_for_name(name)
    }

    /// What the central directory says of entry `index`.
    pub(crate) fn info(&mut self, index: usize) -> Result<EntryInfo> {
        let path = &self.path;
        let entry = self
            .zip
            .by_index_raw(index)
            .with_context(|| format!("cannot read entry {index} of {}", path.display()))?;
        Ok(EntryInfo {
            name: entry.name().to_string(),
            is_dir: entry.is_dir(),
            size: entry.size(),
            crc32: entry.crc32(),
        })
    }

    /// Entry `index`, inflated as it is read (its CRC checked at its end).
    pub(crate) fn entry(&mut self, index: usize) -> Result<impl Read + '_> {
        let path = &self.path;
        self.zip
            .by_index(index)
            .with_context(|| format!("cannot read entry {index} of {}", path.display()))
    }

    /// The bytes of entry `index`, inflated.
    pub(crate) fn read(&mut self, index: usize) -> Result<Vec<u8>> {
        let what = format!(
            "cannot read {} in {}",
            self.name(index)?,
            self.path.display()
        );
        let mut bytes = Vec::new();
        self.entry(index)?.read_to_end(&mut bytes).context(what)?;
        Ok(bytes)
    }

    /// The bytes of the entry `name`, inflated.
    pub(crate) fn read_name(&mut self, name: &str) -> Result<Vec<u8>> {
        let index = self
            .index_of(name)
            .with_context(|| format!("{} holds no {name}", self.path.display()))?;
        self.read(index)
    }

    /// What precedes the zip's first entry (a PEX's `/bin/sh` header).
    pub(crate) fn header(&mut self) -> Result<Vec<u8>> {
        let mut first = None;
        for index in 0..self.zip.len() {
            let start = self.zip.by_index_raw(index)?.header_start();
            first = Some(first.map_or(start, |first: u64| first.min(start)));
        }
        let first = first.unwrap_or(self.zip.offset());
        let mut file = File::open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        file.seek(SeekFrom::Start(0))?;
        let mut header = Vec::new();
        file.take(first)
            .read_to_end(&mut header)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        Ok(header)
    }
}

/// The number of records the zip's central directory declares (its end record's, or its
/// zip64 end record's), read from the file's last 64 KiB.
fn central_records(file: &File) -> Result<u64> {
    const END: &[u8] = &[0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR: &[u8] = &[0x50, 0x4b, 0x06, 0x07];
    const ZIP64_END: &[u8] = &[0x50, 0x4b, 0x06, 0x06];
    let mut file = file;
    let len = file.seek(SeekFrom::End(0))?;
    let tail_len = len.min(22 + 0xFFFF);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::new();
    file.take(tail_len).read_to_end(&mut tail)?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&at| &tail[at..at + 4] == END)
        .context("no end of central directory")?;
    let u16_at = |at: usize| u16::from_le_bytes([tail[at], tail[at + 1]]);
    let total = u16_at(end + 10);
    if total != 0xFFFF {
        return Ok(u64::from(total));
    }
    // Zip64: the locator before the end record gives where the zip64 end record is.
    let Some(locator) = end
        .checked_sub(20)
        .filter(|&at| &tail[at..at + 4] == ZIP64_LOCATOR)
    else {
        bail!("a zip64 count without a zip64 locator");
    };
    let at = u64::from_le_bytes(tail[locator + 8..locator + 16].try_into()?);
    let mut record = [0u8; 40];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut record)?;
    ensure!(&record[..4] == ZIP64_END, "a garbled zip64 end record");
    Ok(u64::from_le_bytes(record[32..40].try_into()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use zip::write::SimpleFileOptions;

    /// A zip of `entries` after `header`, written by the crate.
    fn zip_file(header: &[u8], entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(header).unwrap();
        let mut zip = zip::ZipWriter::new(file.as_file_mut());
        for (name, bytes) in entries {
            zip.start_file(*name, SimpleFileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    #[test]
    fn entries_and_the_header_before_them_are_read() {
        let file = zip_file(
            b"#!/bin/sh\nexec python3 \"$0\"\n",
            &[("PEX-INFO", b"{}"), ("a/b.py", b"print(1)\n")],
        );
        let mut zip = ZipReader::open(file.path()).unwrap();
        assert_eq!(zip.names().collect::<Vec<_>>(), ["PEX-INFO", "a/b.py"]);
        assert_eq!(zip.name(1).unwrap(), "a/b.py");
        assert_eq!(zip.read_name("a/b.py").unwrap(), b"print(1)\n");
        assert_eq!(zip.info(1).unwrap().size, 9);
        assert_eq!(zip.header().unwrap(), b"#!/bin/sh\nexec python3 \"$0\"\n");
        assert!(zip.read_name("missing").is_err());
        let plain = zip_file(b"", &[("x", b"y")]);
        assert_eq!(
            ZipReader::open(plain.path()).unwrap().header().unwrap(),
            b""
        );
    }

    #[test]
    fn a_zip_naming_an_entry_twice_is_refused() {
        // Two entries `a` and `b`, then `b` renamed `a` in both its headers: same length.
        let file = zip_file(b"", &[("a", b"honest"), ("b", b"trojan")]);
        let mut bytes = std::fs::read(file.path()).unwrap();
        let renamed: Vec<usize> = bytes
            .windows(1)
            .enumerate()
            .filter(|(at, w)| {
                w[0] == b'b' && *at >= 30 && bytes[at - 30..at - 26] == *b"PK\x03\x04"
                    || w[0] == b'b' && *at >= 46 && bytes[at - 46..at - 42] == *b"PK\x01\x02"
            })
            .map(|(at, _)| at)
            .collect();
        assert_eq!(renamed.len(), 2, "the local and central names of b");
        for at in renamed {
            bytes[at] = b'a';
        }
        std::fs::write(file.path(), &bytes).unwrap();
        let err = ZipReader::open(file.path())
            .err()
            .expect("a duplicate name was taken");
        assert!(
            format!("{err:#}").contains("names an entry twice"),
            "{err:#}"
        );
    }

    #[test]
    fn what_is_not_a_zip_is_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"not a zip at all").unwrap();
        let err = ZipReader::open(file.path()).err().unwrap();
        assert!(
            format!("{err:#}").contains("is not a readable zip"),
            "{err:#}"
        );
    }

    /// More entries than a zip's 16-bit count holds: the count is the zip64 end record's,
    /// reached through its locator, and a name given twice is still found out.
    #[test]
    fn a_zip64_directory_is_counted_from_its_own_end_record() {
        let names: Vec<String> = (0..=0xFFFF_u32).map(|n| format!("{n:05}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let file = zip_file(b"#!/bin/sh\n", &entries);
        let zip = ZipReader::open(file.path()).unwrap();
        assert_eq!(zip.len(), 0x10000);
        assert_eq!(central_records(file.as_file()).unwrap(), 0x10000);
        // `00001` renamed `00000` in both its headers.
        let mut bytes = std::fs::read(file.path()).unwrap();
        let renamed: Vec<usize> = (0..bytes.len() - 5)
            .filter(|&at| {
                &bytes[at..at + 5] == b"00001"
                    && (at >= 30 && bytes[at - 30..at - 26] == *b"PK\x03\x04"
                        || at >= 46 && bytes[at - 46..at - 42] == *b"PK\x01\x02")
            })
            .collect();
        assert_eq!(renamed.len(), 2, "the local and central names of 00001");
        for at in renamed {
            bytes[at + 4] = b'0';
        }
        std::fs::write(file.path(), &bytes).unwrap();
        let err = ZipReader::open(file.path())
            .err()
            .expect("a duplicate name was taken");
        assert!(
            format!("{err:#}").contains("names an entry twice"),
            "{err:#}"
        );
        // The locator gone (its signature broken): refused, not counted from the 16 bits.
        let end = bytes.len() - 22;
        assert_eq!(&bytes[end..end + 4], b"PK\x05\x06");
        bytes[end - 20] = b'X';
        std::fs::write(file.path(), &bytes).unwrap();
        let err = central_records(&std::fs::File::open(file.path()).unwrap()).unwrap_err();
        assert!(format!("{err:#}").contains("zip64 locator"), "{err:#}");
    }

    /// The count compared is the directory's total, not that of "this disk" beside it
    /// (equal in every archive one writer made; a crafted one may differ).
    #[test]
    fn the_total_count_is_the_one_read() {
        let file = zip_file(b"", &[("a", b"1"), ("b", b"2")]);
        let mut bytes = std::fs::read(file.path()).unwrap();
        let end = bytes.len() - 22;
        assert_eq!(&bytes[end..end + 4], b"PK\x05\x06");
        // This disk's count: 0x0102 entries; the total stays 2.
        bytes[end + 9] = 1;
        std::fs::write(file.path(), &bytes).unwrap();
        let file = std::fs::File::open(file.path()).unwrap();
        assert_eq!(central_records(&file).unwrap(), 2);
    }
}
