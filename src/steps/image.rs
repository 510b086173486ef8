//! The image step: an OCI image layout of the bundle, `dist/<name>.oci/`, tagged with the
//! project's version (or `[image] tag`) and `latest`, made without a container engine.
//!
//! The image is the base's layers, then two of its own: the bundle laid out as the venv a
//! `--venv` PEX unpacks on its first start, byte-compiled, at `/app/venv` (see
//! `image/venv.rs`), split into its dependencies and the project's code. So an edit
//! rewrites only the code layer: the dependencies layer is kept in the project's
//! store (`engine::store`, `.pybuild/layers/oci-deps-<hash>.*`), keyed by the PEX's dependencies, the base's
//! interpreter and the user, and keeps its digest. The entrypoint is pex's
//! (`/app/venv/bin/python3.X -I /app/venv/pex`): nothing is unpacked or compiled at a
//! start, so the first is as fast as the second and `PEX_ROOT` (a declared volume, for a
//! PEX the app runs itself) is not written to. The container runs as `[image] user`
//! (65532 by default) with a `HOME` of its own and `/tmp`; `[image] env`, `port` and
//! `labels` go into the config; the manifest names the base and its digest. Same bundle,
//! base and settings, same bytes (see `image/layout.rs`); timestamps are
//! `SOURCE_DATE_EPOCH`, else 0.
//!
//! The image carries the very files of the bundle the bundle step checked against the venv:
//! it builds on that step and is made from its output. The layout is written beside the
//! old one and swapped in with one rename (`base::outputs`), so a failure leaves the
//! previous image whole, and a folder in its place that pybuild did not make is refused.
//!
//! Fingerprint: `[image]`, the epoch, the tag, the base (see `image/base.rs`: a pulled base
//! by its digest), the bundle.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::base::config::Config;
use crate::base::config::ImageSection;
use crate::base::error::UserError;
use crate::base::outputs::{Outputs, Target};
use crate::base::paths;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::state::produced_outputs;
use crate::engine::step::Step;
use crate::engine::store::{Lookup, Store};
use crate::python::build::Build;
use crate::steps::bundle::Bundle;

mod base;
mod interpreter;
mod kept_blobs;
mod layout;
mod pex_zip;
mod venv;

pub(crate) use layout::MANIFEST;
pub(crate) use pex_zip::pex_info;

use layout::{Descriptor, Layer, Layout};

pub(crate) struct Image;

/// The step's name, in its log, state and messages.
const NAME: &str = "image";

/// Where the image's files go in it.
const APP_DIR: &str = "app";

/// The image user's home, writable by it.
const HOME: &str = "/home/app";

/// Pulls the `docker://` base again, for `pybuild image --refresh-base`.
pub(crate) fn refresh_base(cx: &Build) -> Result<()> {
    base::pull(cx, true)
}

/// The image's name: `[image] name`, else the project's, lower-cased.
pub(crate) fn name(config: &Config) -> String {
    match &config.image.name {
        Some(name) => name.clone(),
        None => config.project.name.to_lowercase().replace('_', "-"),
    }
}

/// The image layout, relative to the root.
pub(crate) fn layout_path(config: &Config) -> String {
    format!("dist/{}.oci", name(config))
}

/// The setting [`name`] comes from, for messages.
pub(crate) fn name_origin(config: &Config) -> &'static str {
    match config.image.name {
        Some(_) => "`[image] name`",
        None => "`[project] name`",
    }
}

/// Where `step`'s output `key`, a file name made of the image's name, is written: the
/// name must make a file name, and the path an output (see `base::outputs`).
pub(crate) fn named_output(cx: &Build, step: &str, key: &str) -> Result<(Outputs, Target)> {
    let config = &cx.project.config;
    let origin = name_origin(config);
    if let Some(flaw) = paths::file_name_flaw(&name(config)) {
        return Err(UserError::usage(format!(
            "{origin} = \"{}\" cannot name a file in `dist/`: {flaw}",
            name(config).escape_debug()
        ))
        .hint("set `name` in `[image]`: lower-case letters, digits and `.`, `_`, `-` inside")
        .into());
    }
    let outputs = Outputs::new(cx.project, produced_outputs(&cx.project.state_dir(), step));
    let target = outputs.target(key, origin)?;
    Ok((outputs, target))
}

/// The image's tag beside `latest`: `[image] tag`, else the project's version (a `+` made
/// a `-`: tags allow no `+`).
pub(crate) fn tag(cx: &mut Build) -> Result<String> {
    if let Some(tag) = &cx.project.config.image.tag {
        return Ok(tag.clone());
    }
    let name = cx.project.config.project.name.clone();
    let env = cx.env()?;
    let version = env.version(&name).ok_or_else(|| {
        UserError::usage(format!(
            "the image is tagged with {name}'s version, and the venv holds no {name} to read it from"
        ))
        .hint("set `tag` in `[image]`")
    })?;
    Ok(version.replace('+', "-"))
}

/// The seconds since the epoch every timestamp in the image says.
pub(crate) fn epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn is_valid_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    name.starts_with(ok)
        && name.ends_with(ok)
        && name.chars().all(|c| ok(c) || matches!(c, '.' | '_' | '-'))
}

fn is_valid_tag(tag: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128 && tag.starts_with(ok) && tag.chars().all(|c| ok(c) || matches!(c, '.' | '-'))
}

impl<'a> Step<Build<'a>> for Image {
    fn name(&self) -> &str {
        NAME
    }

    fn deps(&self) -> Vec<String> {
        vec!["bundle".into()]
    }

    /// It writes only its outputs (nothing in the venv).
    fn keeps_derived(&self) -> bool {
        true
    }

    fn preflight(&self, cx: &mut Build) -> Result<()> {
        let config = &cx.project.config;
        if config.bundle.kind.as_str() != "pex" {
            return Err(UserError::usage(format!(
                "`pybuild image` ships a PEX, and `[bundle] kind` is `{}`",
                config.bundle.kind
            ))
            .hint("set `kind = \"pex\"` in `[bundle]` (or remove it: a PEX is the default)")
            .into());
        }
        let name = name(config);
        if !is_valid_name(&name) {
            return Err(UserError::usage(format!("`{name}` cannot name an image"))
                .hint(
                    "set `name` in `[image]`: lower-case letters, digits and `.`, `_`, `-` inside",
                )
                .into());
        }
        named_output(cx, NAME, &layout_path(config))?;
        let config = &cx.project.config;
        if !config.image.pex_root.starts_with('/') || config.image.pex_root.contains("..") {
            return Err(UserError::usage(format!(
                "`[image] pex-root = \"{}\"` is no absolute path in the image",
                config.image.pex_root
            ))
            .into());
        }
        base::reference(cx)?;
        // Before the fingerprint, which names a `docker://` base by the digest pulled.
        base::pull(cx, false)
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        let config = &cx.project.config;
        fingerprint.part("image", serde_json::to_string(&config.image)?);
        fingerprint.part("epoch", epoch().to_string());
        fingerprint.part("tag", tag(cx)?);
        base::describe(cx, &mut fingerprint)?;
        let bundle = Bundle::output(cx)?;
        cx.add_files(&mut fingerprint, &[bundle])?;
        Ok(fingerprint)
    }

    fn summary(&self, cx: &Build) -> String {
        format!(" → {}", layout_path(&cx.project.config))
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        let tag = tag(cx)?;
        if !is_valid_tag(&tag) {
            return Err(UserError::usage(format!("`{tag}` cannot tag an image"))
                .hint("set `tag` in `[image]`: letters, digits, `_`, `.`, `-`, up to 128")
                .into());
        }
        let bundle = cx.project.root.join(Bundle::output(cx)?);
        let base = base::open(cx)?;
        let output_key = layout_path(&cx.project.config);
        let (writer, target) = named_output(cx, NAME, &output_key)?;
        let new = writer.temp_beside(&target)?;
        let layout = Layout::create(&new)?;
        let state_dir = cx.project.state_dir();
        let kept = kept_blobs::Kept::load(&state_dir, target.path());
        let result = write_image(cx, &layout, &kept, &base, &bundle, &tag);
        if let Err(err) = result {
            let _ = fs::remove_dir_all(&new);
            return Err(err);
        }
        writer.place_dir(&target, &new)?;
        // Best effort: without the record, the next build copies and checks every blob.
        let _ = kept_blobs::remember(&state_dir, target.path());
        let mut outputs = outputs_of(cx, &output_key)?;
        if cx.project.config.image.archive {
            let archive_key = format!("{output_key}.tar");
            let (writer, archive) = named_output(cx, NAME, &archive_key)?;
            let temp = writer.temp_beside(&archive)?;
            let written = layout::write_archive(target.path(), epoch(), &temp)
                .and_then(|()| writer.place_file(&archive, &temp));
            if written.is_err() {
                let _ = fs::remove_file(&temp);
            }
            written?;
            outputs.push(archive_key);
        }
        Ok(outputs)
    }
}

/// The layout's files, relative to the root: recorded, so a deleted or damaged blob
/// makes the image stale.
fn outputs_of(cx: &Build, output_key: &str) -> Result<Vec<String>> {
    let dir = cx.project.root.join(output_key);
    let mut outputs = vec![
        format!("{output_key}/oci-layout"),
        format!("{output_key}/index.json"),
    ];
    let blobs = dir.join("blobs/sha256");
    let mut names: Vec<String> = fs::read_dir(&blobs)
        .with_context(|| format!("cannot list {}", blobs.display()))?
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    outputs.extend(
        names
            .iter()
            .map(|n| format!("{output_key}/blobs/sha256/{n}")),
    );
    Ok(outputs)
}

fn write_image(
    cx: &mut Build,
    layout: &Layout,
    kept: &kept_blobs::Kept,
    base: &base::Base,
    bundle: &Path,
    tag: &str,
) -> Result<()> {
    let config = &cx.project.config;
    cx.printer.phase("copying the base's layers");
    let mut layers: Vec<Descriptor> = Vec::new();
    for layer in &base.layers {
        if kept.link_into(layout, &layer.digest) {
            layers.push(layer.clone());
            continue;
        }
        let from = Layout::blob_path(&base.dir, &layer.digest)?;
        layout.copy_in(&from, &layer.digest).with_context(|| {
            format!(
                "the base image (`[image] base = \"{}\"`) is damaged",
                config.image.base.as_deref().unwrap_or_default()
            )
        })?;
        layers.push(layer.clone());
    }
    let mut diff_ids: Vec<serde_json::Value> = base
        .config
        .pointer("/rootfs/diff_ids")
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default();
    // In `.pybuild/tmp/`, which the bundle step empties: a killed build leaves nothing.
    let tmp = cx.project.state_dir().join("tmp");
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let work = tempfile::Builder::new()
        .prefix("image-")
        .tempdir_in(&tmp)
        .with_context(|| format!("cannot make a work folder in {}", tmp.display()))?;
    let mut pex = pex_zip::Pex::open(bundle)?;
    let deps = dependencies_layer(cx, layout, kept, base, bundle, &mut pex, work.path())?;
    cx.printer.phase("writing the code layer");
    let mut code = venv::code(cx, &mut pex, &base.python, work.path())?;
    layout::add_parents(&mut code.entries);
    let code_file = layout.dir.join("code.tar.gz");
    let code = layout::write_layer(&mut code.entries, &mut code.files, epoch(), &code_file)?;
    fs::rename(&code_file, Layout::blob_path(&layout.dir, &code.digest)?)?;
    for layer in [&deps, &code] {
        layers.push(layer.descriptor());
        diff_ids.push(layer.diff_id.clone().into());
    }
    let image_config = image_config(cx, base, diff_ids, tag)?;
    let config_blob = layout.add(layout::CONFIG, &serde_json::to_vec(&image_config)?)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": layout::MANIFEST,
        "config": config_blob,
        "layers": layers,
        "annotations": {
            BASE_NAME: base.name,
            BASE_DIGEST: base.digest,
        },
    });
    let manifest = layout.add(layout::MANIFEST, &serde_json::to_vec(&manifest)?)?;
    let mut tags = vec![tag.to_string()];
    if tag != "latest" {
        tags.push("latest".into());
    }
    layout.write_index(&manifest, &tags)
}

/// The annotations naming the base by the reference it was given and by its manifest's
/// digest (OCI image-spec, annotations.md).
const BASE_NAME: &str = "org.opencontainers.image.base.name";
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Where the image's user may write: its `HOME` and `PEX_ROOT`, owned by it, and `/tmp`,
/// open to all as on any system. In the dependencies layer.
fn writable_dirs(image: &ImageSection) -> Vec<layout::Entry> {
    let owned = |path: &str| layout::Entry {
        owner: image.user,
        ..layout::Entry::dir(path.trim_start_matches('/'))
    };
    vec![
        owned(HOME),
        owned(&image.pex_root),
        layout::Entry {
            mode: 0o1777,
            ..layout::Entry::dir("tmp")
        },
    ]
}

/// The dependencies layer: taken from the project's store when the same dependencies, base
/// interpreter and user made it before (checked there, and its digest as it is linked or
/// copied in), else laid out by pex from the bundle (see `image/venv.rs`), written, and
/// kept there for the next build.
fn dependencies_layer(
    cx: &Build,
    layout: &Layout,
    kept: &kept_blobs::Kept,
    base: &base::Base,
    bundle: &Path,
    pex: &mut pex_zip::Pex,
    work: &Path,
) -> Result<Layer> {
    let image = &cx.project.config.image;
    let mut key = blake3::Hasher::new();
    key.update(format!("oci-venv 1 {}\n", epoch()).as_bytes());
    key.update(format!("{} {}\n", base.python.path, base.python.version).as_bytes());
    key.update(format!("user {} pex-root {}\n", image.user, image.pex_root).as_bytes());
    key.update(pex.dependencies_key()?.as_bytes());
    let key = key.finalize().to_hex()[..32].to_string();
    // Two entries of the project's store: the blob and its descriptor, each checked.
    let store = Store::at(cx.project.store_dir());
    let blob_name = format!("oci-deps-{key}.tar.gz");
    let record_name = format!("oci-deps-{key}.json");
    if let (Lookup::Intact(blob), Lookup::Intact(record)) =
        (store.get(&blob_name), store.get(&record_name))
        && let Some(layer) = fs::read(&record)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Layer>(&bytes).ok())
        && (kept.link_into(layout, &layer.digest) || layout.copy_in(&blob, &layer.digest).is_ok())
    {
        cx.printer.phase("dependencies layer unchanged");
        return Ok(layer);
    }
    let shipped = crate::steps::bundle::shipped_distributions(bundle)?;
    let venv_dir = venv::lay_out(cx, bundle, &shipped, work)?;
    let code = pex.code_names()?;
    let mut deps = venv::dependencies(cx, &venv_dir, &base.python, &code)?;
    deps.entries.extend(writable_dirs(image));
    layout::add_parents(&mut deps.entries);
    cx.printer.phase("writing the dependencies layer");
    let temp = store.temp()?;
    let layer = layout::write_layer(&mut deps.entries, &mut deps.files, epoch(), &temp)
        .and_then(|layer| store.put(&blob_name, &temp).map(|blob| (layer, blob)));
    let (layer, blob) = layer.inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    store.put_bytes(&record_name, &serde_json::to_vec(&layer)?)?;
    // One dependencies layer is kept: the others are of images no longer made.
    store.keep_only("oci-deps-", &[&blob_name, &record_name]);
    layout.copy_in(&blob, &layer.digest)?;
    Ok(layer)
}

/// The image's config: the base's, with the entrypoint running the bundle, `PEX_ROOT` on
/// a volume, `[image] env`, the port and labels, and the layers' diff ids.
fn image_config(
    cx: &Build,
    base: &base::Base,
    diff_ids: Vec<serde_json::Value>,
    tag: &str,
) -> Result<serde_json::Value> {
    let image = &cx.project.config.image;
    let created = rfc3339(epoch());
    let mut config = base
        .config
        .get("config")
        .and_then(|c| c.as_object())
        .cloned()
        .unwrap_or_default();
    let mut env: Vec<(String, String)> = config
        .get("Env")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.as_str()?
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut set =
        |key: &str, value: &str, replace: bool| match env.iter_mut().find(|(k, _)| k == key) {
            Some(found) if replace => found.1 = value.to_string(),
            Some(_) => {}
            None => env.push((key.to_string(), value.to_string())),
        };
    set("PATH", base::DEFAULT_PATH, false);
    set("PEX_ROOT", &image.pex_root, true);
    set("HOME", HOME, true);
    for (key, value) in &image.env {
        set(key, value, true);
    }
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    config.insert("Env".into(), env.into());
    // As pex starts the venv it unpacks: its `pex` script, `-I`, with the venv's Python.
    let python = format!("/{}/bin/python{}", venv::VENV, base.python.version);
    let main = format!("/{}/pex", venv::VENV);
    config.insert("Entrypoint".into(), serde_json::json!([python, "-I", main]));
    config.insert("Cmd".into(), serde_json::json!(image.args));
    config.insert("WorkingDir".into(), format!("/{APP_DIR}").into());
    config.insert("User".into(), format!("{0}:{0}", image.user).into());
    let mut volumes = config
        .get("Volumes")
        .and_then(|v| v.as_object())
        .cloned()
        .unwrap_or_default();
    volumes.insert(image.pex_root.clone(), serde_json::json!({}));
    config.insert("Volumes".into(), volumes.into());
    if let Some(port) = image.port {
        let mut ports = serde_json::Map::new();
        ports.insert(format!("{port}/tcp"), serde_json::json!({}));
        config.insert("ExposedPorts".into(), ports.into());
    }
    let mut labels = config
        .get("Labels")
        .and_then(|v| v.as_object())
        .cloned()
        .unwrap_or_default();
    labels.insert(
        "org.opencontainers.image.title".into(),
        name(&cx.project.config).into(),
    );
    labels.insert("org.opencontainers.image.version".into(), tag.into());
    for (key, value) in &image.labels {
        labels.insert(key.clone(), value.clone().into());
    }
    config.insert("Labels".into(), labels.into());
    let field = |key: &str, default: &str| {
        base.config
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_string()
    };
    Ok(serde_json::json!({
        "created": created,
        "architecture": field("architecture", "amd64"),
        "os": field("os", "linux"),
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
}

/// `seconds` since the epoch as RFC 3339, in UTC.
pub(crate) fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn names_and_tags_follow_the_registries_rules() {
        assert!(is_valid_name("greeter"));
        assert!(is_valid_name("my-app.v2"));
        assert!(!is_valid_name("My-App"));
        assert!(!is_valid_name("../x"));
        assert!(is_valid_tag("1.2.3"));
        assert!(is_valid_tag("1.0.0-local"));
        assert!(!is_valid_tag("1.0+local"));
        assert!(!is_valid_tag(".hidden"));
    }
}
