//! The action-cache entry: which blobs make a step's result, each named by its sha256.
//!
//! Written as a minimal Bazel `ActionResult` protobuf (field 2, `output_files`, each an
//! `OutputFile` with its `path` (1), `digest` (2: `hash` 1, `size_bytes` 2) and
//! `is_executable` (4)), so bazel-remote accepts it with its `/ac/` validation on. A signed
//! entry (see `signature`) carries its signature as the `worker` (1) of its
//! `execution_metadata` (9), a field every Bazel server stores as it is. Read
//! back strictly: a malformed entry, a digest that is not 64 hex digits, or a path that
//! could leave the project is no entry at all. The bytes themselves are trusted only once
//! they match their digest (see `Remote::fetch`): an entry cannot smuggle anything in.

use std::path::{Component, Path};

use anyhow::{Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputFile {
    /// Where the step puts it, relative to the project's root.
    pub(crate) path: String,
    /// The sha256 of its bytes, 64 lowercase hex digits.
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) executable: bool,
}

/// An entry as read: its files, and its signature if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) files: Vec<OutputFile>,
    pub(crate) signature: Option<String>,
}

pub(crate) fn encode(files: &[OutputFile], signature: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    for file in files {
        let mut digest = Vec::new();
        bytes_field(&mut digest, 1, file.sha256.as_bytes());
        varint_field(&mut digest, 2, file.size);
        let mut output = Vec::new();
        bytes_field(&mut output, 1, file.path.as_bytes());
        bytes_field(&mut output, 2, &digest);
        if file.executable {
            varint_field(&mut output, 4, 1);
        }
        bytes_field(&mut out, 2, &output);
    }
    if let Some(signature) = signature {
        let mut metadata = Vec::new();
        bytes_field(&mut metadata, 1, signature.as_bytes());
        bytes_field(&mut out, 9, &metadata);
    }
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Entry> {
    let mut files = Vec::new();
    let mut signature = None;
    for (field, value) in fields(bytes)? {
        match (field, value) {
            (2, Value::Bytes(output)) => files.push(output_file(output)?),
            (9, Value::Bytes(metadata)) => {
                for (field, value) in fields(metadata)? {
                    if let (1, Value::Bytes(worker)) = (field, value) {
                        signature = Some(String::from_utf8(worker.to_vec())?);
                    }
                }
            }
            _ => {}
        }
    }
    if files.is_empty() {
        bail!("the entry names no output file");
    }
    Ok(Entry { files, signature })
}

fn output_file(bytes: &[u8]) -> Result<OutputFile> {
    let mut file = OutputFile {
        path: String::new(),
        sha256: String::new(),
        size: 0,
        executable: false,
    };
    for (field, value) in fields(bytes)? {
        match (field, value) {
            (1, Value::Bytes(path)) => file.path = String::from_utf8(path.to_vec())?,
            (2, Value::Bytes(digest)) => {
                for (field, value) in fields(digest)? {
                    match (field, value) {
                        (1, Value::Bytes(hash)) => file.sha256 = String::from_utf8(hash.to_vec())?,
                        (2, Value::Varint(size)) => file.size = size,
                        _ => {}
                    }
                }
            }
            (4, Value::Varint(executable)) => file.executable = executable != 0,
            _ => {}
        }
    }
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if file.sha256.len() != 64 || !file.sha256.chars().all(is_hex) {
        bail!("an output's digest is not a sha256");
    }
    if !is_plain_relative(&file.path) {
        bail!("an output's path is not a plain relative path");
    }
    Ok(file)
}

/// A path of plain names only: no root, no `..`, no `.`, not empty.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn fields(mut bytes: &[u8]) -> Result<Vec<(u64, Value<'_>)>> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let tag = varint(&mut bytes)?;
        let value = match tag & 7 {
            0 => Value::Varint(varint(&mut bytes)?),
            2 => {
                let len = usize::try_from(varint(&mut bytes)?)?;
                if len > bytes.len() {
                    bail!("truncated entry");
                }
                let (value, rest) = bytes.split_at(len);
                bytes = rest;
                Value::Bytes(value)
            }
            // Fixed 64- and 32-bit fields: skipped.
            wire @ (1 | 5) => {
                let len = if wire == 1 { 8 } else { 4 };
                if len > bytes.len() {
                    bail!("truncated entry");
                }
                bytes = &bytes[len..];
                continue;
            }
            other => bail!("unknown wire type {other}"),
        };
        fields.push((tag >> 3, value));
    }
    Ok(fields)
}

fn varint(bytes: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = bytes.split_first() else {
            bail!("truncated entry");
        };
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("varint too long")
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    put_varint(out, field << 3);
    put_varint(out, value);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, value: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> OutputFile {
        OutputFile {
            path: path.into(),
            sha256: "ab".repeat(32),
            size: 300,
            executable: true,
        }
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let files = vec![
            file("dist/app.pex"),
            OutputFile {
                executable: false,
                ..file("m.json")
            },
        ];
        let entry = decode(&encode(&files, None)).unwrap();
        assert_eq!((entry.files, entry.signature), (files.clone(), None));
        let signed = decode(&encode(&files, Some("pybuild-sig:ci:AAAA"))).unwrap();
        assert_eq!(signed.files, files);
        assert_eq!(signed.signature.as_deref(), Some("pybuild-sig:ci:AAAA"));
    }

    #[test]
    fn the_bytes_are_an_action_result_protobuf() {
        // `protoc --encode=build.bazel.remote.execution.v2.ActionResult` of
        // output_files { path: "a" digest { hash: "ab"*32 size_bytes: 300 } is_executable: true }
        let mut expected = vec![0x12, 0x4c, 0x0a, 0x01, b'a', 0x12, 0x45, 0x0a, 0x40];
        expected.extend("ab".repeat(32).bytes());
        expected.extend([0x10, 0xac, 0x02, 0x20, 0x01]);
        assert_eq!(encode(&[file("a")], None), expected);
        // ... execution_metadata { worker: "w" }
        expected.extend([0x4a, 0x03, 0x0a, 0x01, b'w']);
        assert_eq!(encode(&[file("a")], Some("w")), expected);
    }

    #[test]
    fn a_poisoned_or_malformed_entry_is_refused() {
        for path in ["../x", "/etc/passwd", "a/../../b", "", "./a"] {
            assert!(decode(&encode(&[file(path)], None)).is_err(), "{path}");
        }
        let bad_digest = OutputFile {
            sha256: "zz".repeat(32),
            ..file("a")
        };
        assert!(decode(&encode(&[bad_digest], None)).is_err());
        assert!(decode(&encode(&[file("a")], None)[..20]).is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"\xff\xff\xff").is_err());
    }

    #[test]
    fn a_varint_reads_back_as_written_whatever_its_bits() {
        for value in [0, 1, 0x7f, 0x80, 200, 300, 0xffff, 1 << 35, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut read: &[u8] = &out;
            assert_eq!(varint(&mut read).unwrap(), value, "{out:?}");
            assert!(read.is_empty());
        }
    }

    /// Fixed 64- and 32-bit fields (wire types 1 and 5) are skipped whole, up to the last
    /// byte; one cut short is refused.
    #[test]
    fn fixed_width_fields_are_skipped_and_a_cut_one_refused() {
        let mut bytes = vec![(1 << 3) | 1];
        bytes.extend([0xee; 8]);
        bytes.extend([(2 << 3) | 5, 0xee, 0xee, 0xee, 0xee]);
        bytes.extend([3 << 3, 5]);
        bytes.extend([(4 << 3) | 5, 0xee, 0xee, 0xee, 0xee]);
        let read = fields(&bytes).unwrap();
        assert!(
            matches!(read[..], [(3, Value::Varint(5))]),
            "{}",
            read.len()
        );
        for cut in [vec![(1 << 3) | 1, 0, 0, 0], vec![(2 << 3) | 5, 0, 0, 0]] {
            let Err(err) = fields(&cut) else {
                panic!("a cut field was read");
            };
            assert!(format!("{err:#}").contains("truncated entry"), "{err:#}");
        }
    }
}
