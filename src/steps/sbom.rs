//! The SBOM step: `dist/<image name>.cdx.json`, a CycloneDX 1.6 JSON document of what the
//! image carries, pushed with it by `pybuild push` (an OCI referrer of the image).
//!
//! Made from what was proven, not from a new resolution: the Python distributions are
//! those the bundle's manifest lists (the bundle step read them back from the bundle and
//! checked them against the venv), each found in the bundle at that version, with its
//! licence from its `METADATA` and the hash of its `RECORD` once the files it lists are
//! checked against the bundle (`sbom/distributions.rs` says exactly what the hash covers);
//! the Debian packages are those of the package database in the image's layers
//! (`sbom/dpkg.rs`). `sbom/cyclonedx.rs` writes the document, the same bytes for the same
//! contents.
//!
//! It runs after `image` and builds on it. Fingerprint: the image's manifest digest, the
//! bundle and its manifest, `SOURCE_DATE_EPOCH`, the document's format. Written whole
//! through `base::outputs`.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::base::error::UserError;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::steps::bundle::{self, Bundle};
use crate::steps::image;

mod cyclonedx;
mod distributions;
mod dpkg;

pub(crate) struct Sbom;

const NAME: &str = "sbom";

/// Bumped when the document changes for the same contents.
const FORMAT: &str = "1";

/// The SBOM, relative to the root.
pub(crate) fn path(config: &crate::base::config::Config) -> String {
    format!("dist/{}.cdx.json", image::name(config))
}

/// A layer of the image layout at `dir`: digest and media type.
struct LayerOf {
    digest: String,
    media_type: String,
}

/// The image layout's manifest digest and its layers, bottom first.
fn image_layers(dir: &Path) -> Result<(String, Vec<LayerOf>)> {
    let missing = || {
        UserError::failure(format!(
            "{} holds no image: build it with `pybuild image`",
            dir.display()
        ))
    };
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).map_err(|_| missing())?)
            .with_context(|| format!("{}/index.json is no image index", dir.display()))?;
    let digest = (index
        .pointer("/manifests/0/digest")
        .and_then(|d| d.as_str()))
    .ok_or_else(missing)?
    .to_string();
    let manifest = blob_path(dir, &digest)?;
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?,
    )
    .with_context(|| format!("{} is no image manifest", manifest.display()))?;
    let layers = (manifest["layers"].as_array().into_iter().flatten())
        .map(|layer| LayerOf {
            digest: layer["digest"].as_str().unwrap_or_default().to_string(),
            media_type: layer["mediaType"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    Ok((digest, layers))
}

/// A blob's file in the layout at `dir`, its digest checked to be a sha256 one.
fn blob_path(dir: &Path, digest: &str) -> Result<std::path::PathBuf> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .with_context(|| format!("`{digest}` is no sha256 digest"))?;
    Ok(dir.join("blobs/sha256").join(hex))
}

/// The distributions the bundle's manifest at `path` lists, which it must say were read
/// back from the bundle (`verified`: `dependencies`).
fn manifest_distributions(
    path: &Path,
    shown: &str,
) -> Result<std::collections::BTreeMap<String, String>> {
    let text = fs::read(path).with_context(|| {
        format!("cannot read {shown}'s manifest: build it again with `pybuild bundle`")
    })?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is no bundle manifest", path.display()))?;
    let verified = (json["verified"].as_array().into_iter().flatten())
        .any(|v| v.as_str() == Some("dependencies"));
    if !verified {
        return Err(UserError::failure(format!(
            "the manifest of {shown} does not say its distributions were read back from it"
        ))
        .into());
    }
    serde_json::from_value(json["distributions"].clone())
        .with_context(|| format!("{} lists no distributions", path.display()))
}

impl<'a> Step<Build<'a>> for Sbom {
    fn name(&self) -> &str {
        NAME
    }

    fn deps(&self) -> Vec<String> {
        vec!["image".into()]
    }

    /// It writes only its output (nothing in the venv).
    fn keeps_derived(&self) -> bool {
        true
    }

    fn preflight(&self, cx: &mut Build) -> Result<()> {
        image::named_output(cx, NAME, &path(&cx.project.config)).map(drop)
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("format", FORMAT);
        fingerprint.part("epoch", image::epoch().to_string());
        let layout = cx.project.root.join(image::layout_path(&cx.project.config));
        let digest = image_layers(&layout).map_or_else(|_| "none".to_string(), |(d, _)| d);
        fingerprint.part("image", digest);
        let bundle = Bundle::output(cx)?;
        let manifest = bundle::manifest_path(Path::new(&bundle));
        let manifest = manifest.to_string_lossy().into_owned();
        cx.add_files(&mut fingerprint, &[bundle, manifest])?;
        Ok(fingerprint)
    }

    fn summary(&self, cx: &Build) -> String {
        format!(" → {}", path(&cx.project.config))
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        let config = &cx.project.config;
        let layout = cx.project.root.join(image::layout_path(config));
        let (_, layers) = image_layers(&layout)?;
        let bundle = Bundle::output(cx)?;
        let manifest = cx
            .project
            .root
            .join(bundle::manifest_path(Path::new(&bundle)));
        cx.printer.phase("reading the bundle's distributions");
        let shipped = manifest_distributions(&manifest, &bundle)?;
        let distributions = distributions::read(&cx.project.root.join(&bundle), &bundle, &shipped)?;
        cx.printer.phase("reading the image's Debian packages");
        let paths: Vec<_> = (layers.iter())
            .map(|l| blob_path(&layout, &l.digest))
            .collect::<Result<_>>()?;
        let refs: Vec<dpkg::LayerRef> = (layers.iter().zip(&paths))
            .map(|(layer, path)| dpkg::LayerRef {
                digest: &layer.digest,
                media_type: &layer.media_type,
                path,
            })
            .collect();
        let packages = dpkg::installed(&refs, &cx.project.state_dir().join("layers"))?;
        let config = &cx.project.config;
        let name = image::name(config);
        let project = crate::base::distribution_name::normalize(&config.project.name);
        let version = image::tag(cx)?;
        let timestamp = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|_| image::rfc3339(image::epoch()));
        let subject = cyclonedx::Subject {
            name: &name,
            version: &version,
            project: &project,
            bundle: &bundle,
            timestamp,
        };
        let document = cyclonedx::document(&subject, &distributions, &packages);
        let key = path(&cx.project.config);
        let (outputs, target) = image::named_output(cx, NAME, &key)?;
        outputs.write(&target, &document, false)?;
        cx.printer.detail(&format!(
            "{key}: {} Python distributions, {} Debian packages",
            distributions.len(),
            packages.len()
        ));
        Ok(vec![key])
    }
}
