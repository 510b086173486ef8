//! The image's base, named the way skopeo names images in `[image] base`:
//!
//! - `oci:PATH[:TAG]`: an OCI image layout (relative to the root, or absolute); without a
//!   tag, the layout must hold one image;
//! - `oci-archive:PATH`: the same as a tar, unpacked once per content into pybuild's cache
//!   (`images/archive-<hash>/`);
//! - `docker://REFERENCE`: pulled once per reference with `skopeo copy` into pybuild's cache
//!   (`images/docker-<hash>/`); a reference by digest (`@sha256:...`) pins it.
//!
//! Cache folders are written whole in a folder of their own and renamed into place, so a
//! killed pull is never taken for a base.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::interpreter;
use super::layout::{self, Descriptor, Layout};
use crate::base::error::UserError;
use crate::engine::statcache::{hash_bytes, hash_file};
use crate::python::build::Build;
use crate::python::wheelhouse;

/// What `[image] base` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    Oci { path: String, tag: Option<String> },
    Archive { path: String },
    Docker { reference: String },
}

/// The forms `[image] base` takes, for messages.
const FORMS: &str = "`oci:PATH[:TAG]`, `oci-archive:PATH` or `docker://IMAGE[:TAG]`";

impl Reference {
    pub(crate) fn parse(text: &str) -> Result<Reference, UserError> {
        let bad = || {
            UserError::usage(format!(
                "`[image] base = \"{text}\"` in project.toml names no image"
            ))
            .hint(format!("name the base as skopeo does: {FORMS}"))
        };
        if let Some(rest) = text.strip_prefix("docker://") {
            if rest.is_empty() {
                return Err(bad());
            }
            return Ok(Reference::Docker {
                reference: rest.into(),
            });
        }
        if let Some(path) = text.strip_prefix("oci-archive:") {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Reference::Archive { path: path.into() });
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            // `oci:dir:tag`: the tag is after the last colon, unless a slash follows it.
            let (path, tag) = match rest.rsplit_once(':') {
                Some((path, tag)) if !tag.contains('/') && !path.is_empty() => {
                    (path, Some(tag.to_string()))
                }
                _ => (rest, None),
            };
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Reference::Oci {
                path: path.into(),
                tag,
            });
        }
        Err(bad())
    }
}

/// A base image, read from a layout: its manifest, config and layers, and the Python the
/// image's venv runs on.
pub(crate) struct Base {
    pub(crate) dir: PathBuf,
    /// What `[image] base` names, as written (the manifest's `base.name` annotation).
    pub(crate) name: String,
    /// The digest of the base's manifest (`base.digest`).
    pub(crate) digest: String,
    pub(crate) config: serde_json::Value,
    pub(crate) layers: Vec<Descriptor>,
    pub(crate) python: Python,
}

/// The base's interpreter, which the image's venv links to: its path in the image
/// (`/usr/bin/python3.11`) and its version (`3.11`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Python {
    pub(crate) path: String,
    pub(crate) version: String,
}

/// `[image] base`, parsed; a usage error when it is missing or malformed.
pub(crate) fn reference(cx: &Build) -> Result<Reference> {
    let Some(base) = &cx.project.config.image.base else {
        return Err(UserError::usage("project.toml does not say what the image starts from")
            .hint(format!("set `base` in `[image]`: {FORMS}"))
            .hint("a Debian base with Python: `mmdebstrap --variant=essential --include=python3-minimal,libpython3.11-stdlib bookworm base.tar`, then `umoci` to make it a layout (docs/deploy.md)")
            .into());
    };
    Ok(Reference::parse(base)?)
}

/// What the image's fingerprint says of the base: the manifest a layout's tag points at,
/// an archive's content (as an input file), a docker reference as written.
pub(crate) fn describe(
    cx: &mut Build,
    fingerprint: &mut crate::engine::fingerprint::Fingerprint,
) -> Result<()> {
    match reference(cx)? {
        Reference::Oci { path, tag } => {
            let dir = cx.project.root.join(&path);
            let named = cx.project.config.image.base.clone().unwrap_or_default();
            let manifest = manifest_in(&dir, tag.as_deref(), &named)?;
            fingerprint.part("base", format!("{named} {}", manifest.digest));
        }
        Reference::Archive { path } => {
            fingerprint.part("base", format!("oci-archive:{path}"));
            cx.add_files(fingerprint, &[path])?;
        }
        Reference::Docker { reference } => {
            // By the digest of the copy pulled (before the steps run, see [`pull`]), so
            // a `--refresh-base` that pulled another image makes the image stale.
            let dir = pulled_dir(&reference);
            let digest = match dir.join("index.json").is_file() {
                true => manifest_in(&dir, Some(PULLED_TAG), &reference)?.digest,
                false => "not pulled".into(),
            };
            fingerprint.part("base", format!("docker://{reference} {digest}"));
        }
    }
    Ok(())
}

/// The base, read (and fetched or unpacked into the cache first when it has to be).
pub(crate) fn open(cx: &Build) -> Result<Base> {
    let (dir, tag, named) = match reference(cx)? {
        Reference::Oci { path, tag } => {
            let named = cx.project.config.image.base.clone().unwrap_or_default();
            (cx.project.root.join(&path), tag, named)
        }
        Reference::Archive { path } => (unpacked(cx, &path)?, None, format!("oci-archive:{path}")),
        Reference::Docker { reference } => (
            pulled(cx, &reference, false)?,
            Some(PULLED_TAG.into()),
            format!("docker://{reference}"),
        ),
    };
    let found = manifest_in(&dir, tag.as_deref(), &named)?;
    let manifest: serde_json::Value = read_blob_json(&dir, &found.digest, &named)?;
    let config = manifest
        .get("config")
        .and_then(|c| serde_json::from_value::<Descriptor>(c.clone()).ok())
        .with_context(|| format!("the base image {named} has a manifest without a config"))?;
    let config: serde_json::Value = read_blob_json(&dir, &config.digest, &named)?;
    let layers: Vec<Descriptor> = manifest
        .get("layers")
        .map(|l| serde_json::from_value(l.clone()))
        .transpose()
        .with_context(|| {
            format!("the base image {named} has a manifest whose layers cannot be read")
        })?
        .unwrap_or_default();
    let mut base = Base {
        dir,
        name: named,
        digest: found.digest,
        config,
        layers,
        python: Python {
            path: String::new(),
            version: String::new(),
        },
    };
    base.python = python_of(cx, &base)?;
    Ok(base)
}

/// The base's interpreter the venv runs on: `[image] python` (else `python3.X`) looked up
/// on the image's PATH in the base's files. Its minor version must be the venv's (which the bundle's
/// compiled wheels, pins and byte-code were made for): another starts a container that
/// dies at once, so it is refused here, naming both; so is a base without it.
fn python_of(cx: &Build, base: &Base) -> Result<Python> {
    let named = &base.name;
    let venv = cx.project.venv();
    let wanted = venv_python_version(&venv).with_context(|| {
        format!(
            "cannot tell the Python version of the venv {} (its pyvenv.cfg)",
            venv.display()
        )
    })?;
    let wanted = wanted.as_str();
    let found = pythons(base)?;
    if !found.versions.is_empty() && !found.versions.iter().any(|version| version == wanted) {
        return Err(UserError::usage(format!(
            "the base {named} (`[image] base`) has Python {}, and the bundle was built for Python {wanted} (the venv {})",
            found.versions.join(", "),
            venv.display()
        ))
        .hint(format!(
            "use a base with Python {wanted}, or build with Python {} (`[project] python = \"{}\"`)",
            found.versions[0], found.versions[0]
        ))
        .into());
    }
    let name = &cx.project.config.image.python;
    let path_env = path_of(&base.config);
    // `python3` by default; a base with only `python3.X` (no link to it) has that.
    let path = interpreter::resolve(&found.binaries, name, &path_env)
        .or_else(|| interpreter::resolve(&found.binaries, &format!("python{wanted}"), &path_env));
    let Some(path) = path else {
        return Err(UserError::usage(format!(
            "the base {named} (`[image] base`) has no `{name}` (`[image] python`) on its PATH ({path_env})"
        ))
        .hint(format!("the image's venv runs on the base's Python {wanted}: use a base with it, or name it in `[image] python`"))
        .into());
    };
    match interpreter::version_of(&path) {
        Some(version) if version == wanted => Ok(Python { path, version }),
        other => Err(UserError::usage(format!(
            "`{name}` (`[image] python`) in the base {named} is {path}, {}, and the bundle was built for Python {wanted}",
            other.map_or("of no version its name tells".to_string(), |v| format!("Python {v}"))
        ))
        .hint(format!("name the base's `python{wanted}` in `[image] python`"))
        .into()),
    }
}

/// The PATH the base's config sets, else Debian's default.
pub(crate) fn path_of(config: &serde_json::Value) -> String {
    config
        .pointer("/config/Env")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str()?.strip_prefix("PATH="))
        .next()
        .unwrap_or(DEFAULT_PATH)
        .to_string()
}

/// The PATH an image gets when its base sets none (Debian's default).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `3.11` from the venv's `pyvenv.cfg` (`version_info` with uv, `version` with venv).
fn venv_python_version(venv: &Path) -> Option<String> {
    let text = fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if !matches!(key.trim(), "version" | "version_info") {
            return None;
        }
        let mut parts = value.trim().split('.');
        Some(format!("{}.{}", parts.next()?, parts.next()?))
    })
}

/// What the base's files say of its Python: the versions (`3.11`) of `python3.X` in a
/// `bin/` folder or a `lib/python3.X/` folder, anywhere, and every `bin/python*` file or
/// link (what the image's venv links its interpreter to, see `interpreter.rs`), minus
/// what a later layer whites out. Read from the layers' tar headers (no Python runs),
/// once per set of layers: remembered in the cache beside the bases.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub(crate) struct Pythons {
    pub(crate) versions: Vec<String>,
    /// Path in the image (no leading `/`) → the link's target, `None` for a file.
    pub(crate) binaries: BTreeMap<String, Option<String>>,
}

pub(crate) fn pythons(base: &Base) -> Result<Pythons> {
    let digests: Vec<&str> = base.layers.iter().map(|l| l.digest.as_str()).collect();
    let key = hash_bytes(format!("python-v2\n{}", digests.join("\n")).as_bytes());
    let remembered = images_dir().join(format!("python-{}", &key[..32]));
    if let Some(found) = fs::read(&remembered)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    {
        return Ok(found);
    }
    let mut found = Pythons::default();
    for layer in &base.layers {
        let path = Layout::blob_path(&base.dir, &layer.digest)?;
        let file = File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let reader: Box<dyn std::io::Read> = if layer.media_type.ends_with("gzip") {
            Box::new(flate2::read::GzDecoder::new(file))
        } else if layer.media_type.ends_with(".tar") || layer.media_type.ends_with("tar") {
            Box::new(file)
        } else {
            // zstd and the like: not readable here, so not told.
            continue;
        };
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .with_context(|| format!("cannot read the layer {}", path.display()))?;
        for entry in entries {
            let entry =
                entry.with_context(|| format!("cannot read the layer {}", path.display()))?;
            let name = entry.path_bytes();
            let name = String::from_utf8_lossy(&name).into_owned();
            if let Some((version, removed)) = python_in_path(&name) {
                found.versions.retain(|v| !(removed && *v == version));
                if !removed && !found.versions.contains(&version) {
                    found.versions.push(version);
                }
            }
            let name = name.trim_start_matches("./").trim_end_matches('/');
            let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
            if !dir.ends_with("bin") {
                continue;
            }
            if let Some(removed) = file.strip_prefix(".wh.") {
                found.binaries.remove(&format!("{dir}/{removed}"));
            } else if file.starts_with("python") {
                let kind = entry.header().entry_type();
                let link = match entry.link_name_bytes() {
                    Some(target) if kind.is_symlink() => {
                        Some(String::from_utf8_lossy(&target).into_owned())
                    }
                    // A hard link is the file it names.
                    Some(target) if kind.is_hard_link() => Some(format!(
                        "/{}",
                        String::from_utf8_lossy(&target).trim_start_matches("./")
                    )),
                    _ => None,
                };
                if kind.is_file() || kind.is_symlink() || kind.is_hard_link() {
                    found.binaries.insert(name.to_string(), link);
                }
            }
        }
    }
    found.versions.sort();
    if let Some(parent) = remembered.parent()
        && fs::create_dir_all(parent).is_ok()
    {
        let _ = crate::engine::state::write_atomically(&remembered, &serde_json::to_vec(&found)?);
    }
    Ok(found)
}

/// `("3.11", whited_out)` when `path` (a layer's entry) is a `bin/python3.11`, a
/// `lib/python3.11` folder or under one, or whites either out (`bin/.wh.python3.11`).
fn python_in_path(path: &str) -> Option<(String, bool)> {
    let parts: Vec<&str> = path
        .trim_start_matches("./")
        .trim_end_matches('/')
        .split('/')
        .collect();
    for (at, pair) in parts.windows(2).enumerate() {
        let last = at + 2 == parts.len();
        let (name, removed) = match pair[1].strip_prefix(".wh.") {
            Some(name) => (name, true),
            None => (pair[1], false),
        };
        let minor = name.strip_prefix("python3.").unwrap_or_default();
        if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) || (removed && !last) {
            continue;
        }
        if (pair[0] == "bin" && last) || pair[0] == "lib" {
            return Some((format!("3.{minor}"), removed));
        }
    }
    None
}

/// The manifest `tag` names in the layout at `dir` (or its only one, without a tag).
fn manifest_in(dir: &Path, tag: Option<&str>, named: &str) -> Result<Descriptor> {
    let index_path = dir.join("index.json");
    let text = read_bounded(&index_path).map_err(|err| {
        UserError::usage(format!(
            "`[image] base = \"{named}\"`: {} cannot be read ({err})",
            index_path.display()
        ))
        .hint("the base must be an OCI image layout (a folder with oci-layout, index.json and blobs/)")
    })?;
    let index: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not JSON", index_path.display()))?;
    let manifests: Vec<Descriptor> = index
        .get("manifests")
        .map(|m| serde_json::from_value(m.clone()))
        .transpose()
        .with_context(|| format!("{} lists no manifests", index_path.display()))?
        .unwrap_or_default();
    let tag_of = |d: &Descriptor| {
        d.annotations
            .as_ref()
            .and_then(|a| a.get(layout::REF_NAME))
            .and_then(|t| t.as_str())
            .map(str::to_string)
    };
    let found = match tag {
        Some(tag) => manifests.iter().find(|d| tag_of(d).as_deref() == Some(tag)),
        None if manifests.len() == 1 => manifests.first(),
        None => None,
    };
    let Some(found) = found else {
        let tags: Vec<String> = manifests.iter().filter_map(tag_of).collect();
        let what = match tag {
            Some(tag) => format!("has no image tagged `{tag}`"),
            None => format!("holds {} images, and no tag says which", manifests.len()),
        };
        return Err(
            UserError::usage(format!("the base image layout {} {what}", dir.display()))
                .hint(format!(
                    "its tags: {}; name one as `oci:PATH:TAG` in `[image] base`",
                    tags.join(", ")
                ))
                .into(),
        );
    };
    if found.media_type == layout::INDEX {
        let nested: Descriptor = Descriptor { ..found.clone() };
        let index: serde_json::Value = read_blob_json(dir, &nested.digest, named)?;
        let linux = index
            .get("manifests")
            .and_then(|m| m.as_array())
            .and_then(|m| {
                m.iter().find(|d| {
                    d.pointer("/platform/os").and_then(|v| v.as_str()) == Some("linux")
                        && d.pointer("/platform/architecture").and_then(|v| v.as_str())
                            == Some(std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64").as_str())
                })
            })
            .with_context(|| format!("the base image {named} has no manifest for linux on this machine's architecture"))?;
        return Ok(serde_json::from_value(linux.clone())?);
    }
    Ok(found.clone())
}

fn read_blob_json(dir: &Path, digest: &str, named: &str) -> Result<serde_json::Value> {
    let path = Layout::blob_path(dir, digest)?;
    let found = layout::file_digest(&path)
        .with_context(|| format!("the base image {named} lacks the blob {digest}"))?;
    if found != digest {
        return Err(UserError::failure(format!(
            "the base image {named} is damaged: {} does not match its digest",
            path.display()
        ))
        .into());
    }
    let bytes = read_bounded(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))
}

/// The most of a base's JSON document (index, manifest, config) read into memory: a
/// registry takes manifests of 4 MiB at most, and configs are smaller still.
const MAX_JSON: u64 = 16 << 20;

/// A JSON document of the base, refused past [`MAX_JSON`] bytes rather than read whole.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    File::open(path)?
        .take(MAX_JSON + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "longer than the {} MiB an image's JSON document may be",
                MAX_JSON >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// The cache folder bases are kept in.
fn images_dir() -> PathBuf {
    wheelhouse::pybuild_cache_dir().join("images")
}

/// An `oci-archive` unpacked into the cache, once per content.
fn unpacked(cx: &Build, path: &str) -> Result<PathBuf> {
    let archive = cx.project.root.join(path);
    let hash = hash_file(&archive).map_err(|err| {
        UserError::usage(format!(
            "`[image] base = \"oci-archive:{path}\"`: cannot read {} ({err})",
            archive.display()
        ))
    })?;
    let dir = images_dir().join(format!("archive-{}", &hash[..32]));
    if dir.join("index.json").is_file() {
        return Ok(dir);
    }
    cx.printer.phase(&format!("unpacking the base {path}"));
    let parent = images_dir();
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let incoming = wheelhouse::incoming_folder(&parent)?;
    unpack_plain(&archive, path, incoming.path())?;
    into_place(incoming, &dir)
}

/// Unpacks the files and folders of the tar `archive` (`named` in project.toml) into
/// `into`, refusing any other entry: a link would make a blob read there (the manifest,
/// the config, a layer) be read from wherever it leads, outside the archive.
fn unpack_plain(archive: &Path, named: &str, into: &Path) -> Result<()> {
    let cannot = || {
        format!(
            "cannot unpack {} (is it an oci-archive?)",
            archive.display()
        )
    };
    let file = File::open(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().with_context(cannot)? {
        let mut entry = entry.with_context(cannot)?;
        let kind = entry.header().entry_type();
        let name = entry.path().with_context(cannot)?.display().to_string();
        if !(kind.is_file() || kind.is_dir()) {
            return Err(UserError::usage(format!(
                "`[image] base = \"oci-archive:{named}\"` holds `{name}`, which is no file \
                 or folder ({kind:?}): an oci-archive's links are not followed"
            ))
            .hint("make the archive again with its blobs as files (`skopeo copy` does)")
            .into());
        }
        if !entry.unpack_in(into).with_context(cannot)? {
            anyhow::bail!("{} holds `{name}`, outside itself", archive.display());
        }
    }
    Ok(())
}

/// A `docker://` base, pulled when it is not yet (`refresh`: pulled again anyway); an
/// `oci:` or `oci-archive:` base is on disk already.
pub(crate) fn pull(cx: &Build, refresh: bool) -> Result<()> {
    match reference(cx)? {
        Reference::Docker { reference } => pulled(cx, &reference, refresh).map(drop),
        _ if refresh => {
            cx.printer
                .warn("`--refresh-base` pulls a `docker://` base again: this one is on disk");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The tag of a pulled base in its cache folder.
const PULLED_TAG: &str = "base";

/// Where the base `docker://reference` is kept once pulled.
fn pulled_dir(reference: &str) -> PathBuf {
    images_dir().join(format!(
        "docker-{}",
        &hash_bytes(reference.as_bytes())[..32]
    ))
}

/// Whether a registry is this machine's (`127.0.0.1:5000`, `localhost`, `[::1]`): skopeo
/// may then speak plain HTTP to it, as `pybuild push` does.
fn is_loopback(reference: &str) -> bool {
    let host = reference.split('/').next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    reference.contains('/')
        && (host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

/// A registry's image copied into the cache with skopeo, once per reference, unless
/// `refresh`: then pulled again, and put in the old copy's place once whole.
fn pulled(cx: &Build, reference: &str, refresh: bool) -> Result<PathBuf> {
    let dir = pulled_dir(reference);
    if !refresh && dir.join("index.json").is_file() {
        return Ok(dir);
    }
    let Ok(skopeo) = which::which("skopeo") else {
        return Err(UserError::usage(format!(
            "`[image] base = \"docker://{reference}\"` is pulled with skopeo, which is not installed"
        ))
        .hint("install skopeo (`apt-get install skopeo`), or name a base on disk: `oci:PATH[:TAG]` or `oci-archive:PATH`")
        .into());
    };
    cx.printer.phase(&format!("pulling docker://{reference}"));
    let parent = images_dir();
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let incoming = wheelhouse::incoming_folder(&parent)?;
    let target = format!("oci:{}:{PULLED_TAG}", incoming.path().display());
    let mut args = crate::args!["copy", "--quiet"].to_vec();
    if is_loopback(reference) {
        args.push("--src-tls-verify=false".into());
    }
    args.extend(crate::args![format!("docker://{reference}"), target]);
    // Its own log: the pull runs before the steps (see `Image::preflight`), and the image
    // step's log is emptied when that step starts.
    let mut runner = cx.runner.clone();
    runner.scope("image-base");
    runner.reset_log()?;
    runner.run(&skopeo, &args).map_err(|err| {
        err.context(format!(
            "cannot pull the base docker://{reference} (`[image] base`): is the registry reachable?"
        ))
    })?;
    if refresh && dir.exists() {
        // Out of the way, then removed: the new copy takes its place whole.
        let old = wheelhouse::incoming_folder(&parent)?.keep();
        fs::rename(&dir, old.join("old"))
            .with_context(|| format!("cannot replace {}", dir.display()))?;
        let placed = into_place(incoming, &dir);
        let _ = fs::remove_dir_all(&old);
        return placed;
    }
    into_place(incoming, &dir)
}

/// Renames a finished folder to `dir`; another pybuild that got there first wins.
fn into_place(folder: tempfile::TempDir, dir: &Path) -> Result<PathBuf> {
    let path = folder.keep();
    if fs::rename(&path, dir).is_err() {
        let _ = fs::remove_dir_all(&path);
        if !dir.join("index.json").is_file() {
            anyhow::bail!("cannot move the base image into {}", dir.display());
        }
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_registry_on_this_machine_is_pulled_from_without_tls() {
        for reference in [
            "127.0.0.1:5000/base:1",
            "localhost/base",
            "[::1]:5000/base:1",
        ] {
            assert!(is_loopback(reference), "{reference}");
        }
        for reference in [
            "python:3.11",
            "registry.example.com/base:1",
            "127.0.0.2.example.com/base",
            "localhost",
        ] {
            assert!(!is_loopback(reference), "{reference}");
        }
    }

    #[test]
    fn a_json_document_past_the_bound_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        fs::write(&path, b"{}").unwrap();
        assert_eq!(read_bounded(&path).unwrap(), b"{}");
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(MAX_JSON + 1)
            .unwrap();
        let err = read_bounded(&path).unwrap_err();
        assert!(err.to_string().contains("MiB"), "{err}");
    }

    #[test]
    fn the_python_of_a_layer_is_read_from_its_paths() {
        for (path, expected) in [
            ("usr/bin/python3.11", Some(("3.11", false))),
            ("./usr/local/lib/python3.10/os.py", Some(("3.10", false))),
            ("usr/lib/python3.12/", Some(("3.12", false))),
            ("usr/bin/.wh.python3.9", Some(("3.9", true))),
            ("usr/lib/python3/dist-packages/x.py", None),
            ("usr/bin/python3.11-config", None),
            ("usr/share/doc/python3.11/README", None),
            ("usr/bin/python3", None),
        ] {
            assert_eq!(
                python_in_path(path),
                expected.map(|(v, r)| (v.to_string(), r)),
                "{path}"
            );
        }
    }

    #[test]
    fn base_references_parse_as_skopeo_names_them() {
        let oci = |path: &str, tag: Option<&str>| Reference::Oci {
            path: path.into(),
            tag: tag.map(Into::into),
        };
        assert_eq!(Reference::parse("oci:base").unwrap(), oci("base", None));
        assert_eq!(
            Reference::parse("oci:/x/base:3.11").unwrap(),
            oci("/x/base", Some("3.11"))
        );
        assert_eq!(
            Reference::parse("oci-archive:base.tar").unwrap(),
            Reference::Archive {
                path: "base.tar".into()
            }
        );
        assert_eq!(
            Reference::parse("docker://python:3.11-slim").unwrap(),
            Reference::Docker {
                reference: "python:3.11-slim".into()
            }
        );
        for bad in ["python:3.11", "oci:", "docker://", "oci-archive:"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
