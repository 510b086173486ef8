//! The push step: the image layout `pybuild image` wrote, sent to `[image] repository`
//! (`HOST[:PORT]/PATH`, or `PYBUILD_IMAGE_REPOSITORY`) under both its tags, through the
//! registry's own API (`push/registry.rs`), no container engine needed.
//!
//! Each blob is asked for first (`HEAD`) and sent only when the registry lacks it: after
//! an edit, the code layer and the config. A blob missing here is mounted from another
//! repository of the same registry when one is known to have it: `[image] mount-from`,
//! else the repository the last push went to, if it differs. The manifest goes last, once
//! per tag, and the digest the registry answers must be the local manifest's. Nothing of
//! the local image is touched; a refusal fails the step with the registry's answer.
//!
//! Then the SBOM (`pybuild sbom`'s `dist/<name>.cdx.json`) goes up as an OCI referrer of
//! the image (`push/referrer.rs`): through the registry's referrers API, else the
//! referrers tag `sha256-<hex>`.
//!
//! The image pushed is recorded in `dist/<name>.pushed` (`HOST/PATH@sha256:…`), shown
//! after the step, and read by `deploy kubernetes` to name the image by digest.
//!
//! Fingerprint: the repository, the tags, the manifest's digest and the SBOM, with the
//! image and SBOM steps' runs: the same image pushed to the same place again sends nothing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::error::UserError;
use crate::base::outputs::Outputs;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::state::produced_outputs;
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::steps::image;
use crate::steps::sbom;

mod auth;
mod referrer;
mod registry;

use registry::{Body, Registry};

pub(crate) struct Push;

const NAME: &str = "push";

/// The variable that overrides `[image] repository`.
const REPOSITORY_VARIABLE: &str = "PYBUILD_IMAGE_REPOSITORY";

/// Where the image goes: `HOST[:PORT]` and the repository's path on it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Repository {
    host: String,
    path: String,
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.path)
    }
}

/// `HOST[:PORT]/PATH`, or why not. The path's components follow the distribution spec:
/// lower-case letters and digits, separated by `.`, `_`, `__` or `-`s.
fn parse_repository(text: &str) -> Result<Repository, String> {
    let (host, path) = text
        .split_once('/')
        .ok_or("it names no path after the host (`HOST[:PORT]/PATH`)")?;
    let host_ok = !host.is_empty()
        && (host.chars()).all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !host_ok {
        return Err(format!("`{host}` is no registry host (`HOST[:PORT]`)"));
    }
    let component_ok = |c: &str| {
        let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
        c.starts_with(alnum)
            && c.ends_with(alnum)
            && c.chars().all(|ch| alnum(ch) || "._-".contains(ch))
    };
    if path.is_empty() || !path.split('/').all(component_ok) {
        return Err(format!(
            "`{path}` is no repository path: lower-case letters and digits, \
             separated by `.`, `_`, `-` or `/`"
        ));
    }
    Ok(Repository {
        host: host.to_string(),
        path: path.to_string(),
    })
}

/// The repository the image is pushed to, and the setting it came from.
fn repository(cx: &Build) -> Result<Repository> {
    let (text, origin) = match std::env::var(REPOSITORY_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => {
            (value.trim().to_string(), format!("`{REPOSITORY_VARIABLE}`"))
        }
        _ => match &cx.project.config.image.repository {
            Some(value) => (value.clone(), "`[image] repository`".to_string()),
            None => {
                return Err(
                    UserError::usage("`pybuild push` needs to know where to push")
                        .hint(format!(
                            "set `repository = \"HOST[:PORT]/PATH\"` in `[image]` \
                         (or {REPOSITORY_VARIABLE})"
                        ))
                        .into(),
                );
            }
        },
    };
    parse_repository(&text).map_err(|why| {
        UserError::usage(format!("{origin} = \"{}\": {why}", text.escape_debug())).into()
    })
}

/// The record of the last push, relative to the root.
fn record_path(cx: &Build) -> String {
    format!("dist/{}.pushed", image::name(&cx.project.config))
}

/// The image the last push sent, `HOST/PATH@sha256:…`, if it is recorded.
pub(crate) fn pushed(root: &Path, config: &crate::base::config::Config) -> Option<String> {
    let path = root.join(format!("dist/{}.pushed", image::name(config)));
    let text = fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.trim();
    line.contains("@sha256:").then(|| line.to_string())
}

/// The image the last push sent, if it is the image the layout holds now: what
/// `deploy kubernetes` names, by digest.
pub(crate) fn pushed_image(root: &Path, config: &crate::base::config::Config) -> Option<String> {
    let reference = pushed(root, config)?;
    let layout = manifest(&root.join(image::layout_path(config))).ok()?;
    reference
        .ends_with(&format!("@{}", layout.digest))
        .then_some(reference)
}

/// The image layout's manifest: its digest, media type and bytes.
struct Manifest {
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
}

/// The manifest `index.json` of the layout at `dir` names (every tag names the same).
fn manifest(dir: &Path) -> Result<Manifest> {
    let index_path = dir.join("index.json");
    let missing = || {
        UserError::failure(format!(
            "{} holds no image: build it with `pybuild image`",
            dir.display()
        ))
    };
    let index = fs::read(&index_path).map_err(|_| missing())?;
    let index: serde_json::Value = serde_json::from_slice(&index)
        .with_context(|| format!("{} is no image index", index_path.display()))?;
    let descriptor = index.pointer("/manifests/0").ok_or_else(missing)?.clone();
    let digest = descriptor["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let media_type = (descriptor["mediaType"].as_str())
        .unwrap_or(image::MANIFEST)
        .to_string();
    let bytes = fs::read(blob_path(dir, &digest)?)
        .with_context(|| format!("the image in {} lacks its manifest", dir.display()))?;
    Ok(Manifest {
        digest,
        media_type,
        bytes,
    })
}

/// A blob's file in the layout at `dir`, its digest checked to be a sha256 one.
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .with_context(|| format!("`{digest}` is no sha256 digest"))?;
    Ok(dir.join("blobs/sha256").join(hex))
}

/// The digests and sizes of the blobs `manifest` names: its layers, then its config.
fn blobs(manifest: &Manifest) -> Result<Vec<(String, u64)>> {
    let json: serde_json::Value =
        serde_json::from_slice(&manifest.bytes).context("the image's manifest is no JSON")?;
    let descriptors = (json["layers"].as_array().into_iter().flatten()).chain([&json["config"]]);
    descriptors
        .map(|d| {
            let digest = d["digest"].as_str().context("a blob without a digest")?;
            Ok((digest.to_string(), d["size"].as_u64().unwrap_or(0)))
        })
        .collect()
}

impl<'a> Step<Build<'a>> for Push {
    fn name(&self) -> &str {
        NAME
    }

    fn deps(&self) -> Vec<String> {
        vec!["image".into(), "sbom".into()]
    }

    /// It writes only its outputs (nothing in the venv).
    fn keeps_derived(&self) -> bool {
        true
    }

    fn preflight(&self, cx: &mut Build) -> Result<()> {
        repository(cx)?;
        let outputs = Outputs::new(cx.project, produced_outputs(&cx.project.state_dir(), NAME));
        outputs.target(&record_path(cx), image::name_origin(&cx.project.config))?;
        Ok(())
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("repository", repository(cx)?.to_string());
        fingerprint.part("tag", image::tag(cx)?);
        let layout = cx.project.root.join(image::layout_path(&cx.project.config));
        let digest = manifest(&layout).map_or_else(|_| "none".to_string(), |m| m.digest);
        fingerprint.part("manifest", digest);
        let sbom = sbom::path(&cx.project.config);
        cx.add_files(&mut fingerprint, &[sbom])?;
        Ok(fingerprint)
    }

    fn summary(&self, cx: &Build) -> String {
        match pushed(&cx.project.root, &cx.project.config) {
            Some(reference) => format!(" → {reference}"),
            None => String::new(),
        }
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        let repository = repository(cx)?;
        let mut tags = vec![image::tag(cx)?];
        if tags[0] != "latest" {
            tags.push("latest".into());
        }
        let config = &cx.project.config;
        let layout = cx.project.root.join(image::layout_path(config));
        let manifest = manifest(&layout)?;
        // The image's blobs, then the SBOM's: each sent only if the registry lacks it.
        let files = (blobs(&manifest)?.into_iter())
            .map(|(digest, size)| Ok((blob_path(&layout, &digest)?, digest, size)))
            .collect::<Result<Vec<_>>>()?;
        let sbom = referrer::Sbom::read(&cx.project.root.join(sbom::path(config)))?;
        let mut blobs: Vec<(String, u64, Body)> = (files.iter())
            .map(|(path, digest, size)| (digest.clone(), *size, Body::File(path)))
            .collect();
        blobs.extend(sbom.blobs());
        // A repository of the same registry that has the blobs: named, or pushed to last.
        let mount_from = config.image.mount_from.clone().or_else(|| {
            let last = pushed(&cx.project.root, config)?;
            let last = parse_repository(last.split('@').next()?).ok()?;
            (last.host == repository.host && last.path != repository.path).then_some(last.path)
        });
        let ca_file = config
            .image
            .ca_file
            .as_ref()
            .map(|f| cx.project.root.join(f));
        let http_allowed = config.image.insecure || registry::is_loopback(&repository.host);
        let name = &repository.path;
        cx.printer
            .phase(&format!("reaching the registry {}", repository.host));
        let mut registry = Registry::connect(
            &repository.host,
            http_allowed,
            ca_file.as_deref(),
            format!("repository:{name}:pull,push"),
        )?;
        let (mut sent, mut mounted) = (0, 0);
        for (digest, size, body) in &blobs {
            if registry.has_blob(name, digest)? {
                continue;
            }
            let location = match &mount_from {
                Some(from) => match registry.mount(name, digest, from)? {
                    None => {
                        mounted += 1;
                        continue;
                    }
                    Some(location) => location,
                },
                None => registry.start_upload(name)?,
            };
            cx.printer.phase(&format!(
                "uploading {} ({} KiB)",
                &digest[..19.min(digest.len())],
                size >> 10
            ));
            registry.upload(&location, digest, body)?;
            sent += 1;
        }
        for tag in &tags {
            cx.printer.phase(&format!("tagging {repository}:{tag}"));
            let stored = registry.put_manifest(name, tag, &manifest.media_type, &manifest.bytes)?;
            if let Some(answered) = stored.digest
                && answered != manifest.digest
            {
                return Err(UserError::failure(format!(
                    "the registry {} stored {repository}:{tag} as {answered}, not as the image's \
                     manifest {}",
                    registry.host(),
                    manifest.digest
                ))
                .into());
            }
        }
        let reference = format!("{repository}@{}", manifest.digest);
        cx.printer.detail(&format!(
            "{reference}: {sent} of {} blobs uploaded, {mounted} mounted",
            blobs.len()
        ));
        cx.printer
            .phase("pushing the SBOM as a referrer of the image");
        let subject = referrer::Subject {
            digest: &manifest.digest,
            media_type: &manifest.media_type,
            size: manifest.bytes.len(),
        };
        let pushed = referrer::push(&mut registry, name, &subject, &sbom)
            .with_context(|| format!("{reference} was pushed, its SBOM was not"))?;
        cx.printer.detail(&format!(
            "SBOM: {repository}@{}, {}",
            pushed.digest, pushed.indexed
        ));
        let key = record_path(cx);
        let outputs = Outputs::new(cx.project, produced_outputs(&cx.project.state_dir(), NAME));
        let target = outputs.target(&key, image::name_origin(&cx.project.config))?;
        outputs.write(&target, format!("{reference}\n").as_bytes(), false)?;
        Ok(vec![key])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_is_a_host_and_a_lower_case_path() {
        let repo = parse_repository("127.0.0.1:5000/team/greeter").unwrap();
        assert_eq!(repo.host, "127.0.0.1:5000");
        assert_eq!(repo.path, "team/greeter");
        assert_eq!(repo.to_string(), "127.0.0.1:5000/team/greeter");
        assert!(parse_repository("greeter").is_err());
        assert!(parse_repository("reg.example/Team/App").is_err());
        assert!(parse_repository("reg.example/").is_err());
        assert!(parse_repository("reg example/app").is_err());
        assert!(parse_repository("reg.example/a//b").is_err());
    }
}
