//! `PEX-INFO` for the code pybuild adds, as pex 2.105 computes it
//! (`pex_builder.PEXBuilder._prepare_code`), so the `pex_hash` that keys the `--venv`
//! extraction under `PEX_ROOT` is the one pex itself would write: the `entry_point`, the
//! `code_hash` (sha1 of the layer's sorted relative paths, then of each file's bytes:
//! `CacheHelper.pex_code_hash`) and the `pex_hash` (sha1 of `PEX-INFO` without it, dumped
//! as `json.dumps(sort_keys=True, separators=(",", ":"))`). What pex would hash otherwise
//! (a `PEX-INFO` that does not dump back to its own bytes, a dotfile in the layer) is an
//! error, on which the caller runs pex.

use std::fs;
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;

/// sha1 of nothing: the `code_hash` of a PEX without code.
const NO_CODE: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

/// `PEX-INFO` with the code added, and the `pex_hash` it replaces.
pub(super) struct WithCode {
    pub(super) text: String,
    pub(super) old_hash: String,
    pub(super) new_hash: String,
}

/// The dependencies PEX's `PEX-INFO` (`text`, of a `--venv` PEX without code) with the
/// layer's `files` and `entry_point` added.
pub(super) fn add_code(
    text: &[u8],
    entry_point: &str,
    layer: &Path,
    files: &[String],
) -> Result<WithCode> {
    let mut info: Value = serde_json::from_slice(text).context("PEX-INFO is not JSON")?;
    ensure!(
        python_dump(&info)?.as_bytes() == text,
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
    fields.insert("code_hash".into(), code_hash(layer, files)?.into());
    fields.remove("pex_hash");
    let new_hash = sha1(python_dump(&info)?.as_bytes());
    info["pex_hash"] = new_hash.clone().into();
    Ok(WithCode {
        text: python_dump(&info)?,
        old_hash,
        new_hash,
    })
}

/// The `pex_hash` of the dependencies PEX a bundle's `PEX-INFO` (`text`) was made from by
/// [`add_code`]: the same fields without the entry point and the code (the audit checks
/// with it the key the inner loop's block names, see `boot`).
pub(super) fn dependencies_hash(text: &[u8]) -> Result<String> {
    let mut info: Value = serde_json::from_slice(text).context("PEX-INFO is not JSON")?;
    ensure!(
        python_dump(&info)?.as_bytes() == text,
        "PEX-INFO is not in the form pybuild writes"
    );
    let fields = info.as_object_mut().context("PEX-INFO is not an object")?;
    fields.remove("entry_point");
    fields.remove("pex_hash");
    fields.insert("code_hash".into(), NO_CODE.into());
    Ok(sha1(python_dump(&info)?.as_bytes()))
}

/// The layer's files, relative, `/`-separated, sorted as pex sorts them (by path string).
pub(super) fn layer_files(layer: &Path) -> Result<Vec<String>> {
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
    // Read in chunks: a data file may be larger than the memory.
    let mut buf = vec![0; 1 << 16];
    for name in files {
        let path = layer.join(name);
        let cannot = || format!("cannot read {}", path.display());
        let mut file = fs::File::open(&path).with_context(cannot)?;
        loop {
            let read = file.read(&mut buf).with_context(cannot)?;
            if read == 0 {
                break;
            }
            digest.update(&buf[..read]);
        }
    }
    Ok(digest.digest().to_string())
}

fn sha1(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
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
        // Each escape Python's json writes short, and its integers; no float (Python may
        // write one otherwise).
        let value = serde_json::json!({"s": "\\ \r \t \u{8} \u{c} \u{1}", "n": [-3, 18446744073709551615u64]});
        assert_eq!(
            python_dump(&value).unwrap(),
            r#"{"n":[-3,18446744073709551615],"s":"\\ \r \t \b \f \u0001"}"#
        );
        assert!(python_dump(&serde_json::json!({"f": 1.5})).is_err());
    }

    #[test]
    fn a_pex_info_without_a_sha1_pex_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for hash in ["abc", "", "0123456789012345678901234567890123456789a"] {
            let deps = serde_json::json!({"code_hash": NO_CODE, "venv": true, "pex_hash": hash});
            let text = python_dump(&deps).unwrap();
            assert!(
                add_code(text.as_bytes(), "m:main", dir.path(), &[]).is_err(),
                "{hash:?}"
            );
        }
    }

    #[test]
    fn the_dependencies_hash_is_the_one_add_code_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("m.py"), "x").unwrap();
        let mut deps = serde_json::json!({"code_hash": NO_CODE, "venv": true, "distributions": {"six-1.whl": "ab"}});
        deps["pex_hash"] = sha1(python_dump(&deps).unwrap().as_bytes()).into();
        let text = python_dump(&deps).unwrap();
        let with = add_code(text.as_bytes(), "m:main", dir.path(), &["m.py".into()]).unwrap();
        assert_eq!(
            dependencies_hash(with.text.as_bytes()).unwrap(),
            with.old_hash
        );
        assert_ne!(with.old_hash, with.new_hash);
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
        // What pex zips but leaves out of its code hash: pex builds such a layer.
        for (left_out, is_dir) in [
            ("a/.hidden", false),
            ("__pycache__", true),
            ("a/b.pyc", false),
            ("a/b.pyo", false),
        ] {
            let path = dir.path().join(left_out);
            match is_dir {
                true => fs::create_dir(&path).unwrap(),
                false => fs::write(&path, "z").unwrap(),
            }
            assert!(layer_files(dir.path()).is_err(), "{left_out}");
            match is_dir {
                true => fs::remove_dir(&path).unwrap(),
                false => fs::remove_file(&path).unwrap(),
            }
        }
        assert!(layer_files(dir.path()).is_ok());
    }
}
