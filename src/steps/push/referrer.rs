//! The SBOM pushed as an OCI 1.1 referrer of the image it describes (OCI image spec 1.1,
//! distribution spec 1.1, "Pushing Manifests with Subject"):
//!
//! 1. its blobs: the empty config `{}` (`application/vnd.oci.empty.v1+json`) and the SBOM
//!    itself (`application/vnd.cyclonedx+json`), each only if the repository lacks it;
//! 2. an image manifest with `artifactType: application/vnd.cyclonedx+json`, the SBOM as
//!    its one layer and `subject` the image's manifest, put by its digest (no tag);
//! 3. a registry with the referrers API answers that put with `OCI-Subject` and indexes it
//!    itself. One without it (CNCF distribution 2.8, Docker Hub's older registries) gets
//!    the **referrers tag**: `sha256-<hex of the image's digest>` names an image index of
//!    the image's referrers; the index there is read, the SBOM's manifest added to it if
//!    it is not listed yet (what other tools referred to the image is kept), and put back.
//!
//! The same image and SBOM make the same artifact manifest (no timestamp in it), so pushing
//! them again adds nothing to the index.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::registry::{Body, Registry};

/// The SBOM's media type, and the artifact's type.
pub(super) const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_BYTES: &[u8] = b"{}";

/// The manifest a referrer points at.
pub(super) struct Subject<'s> {
    pub(super) digest: &'s str,
    pub(super) media_type: &'s str,
    pub(super) size: usize,
}

/// How the referrer was made known.
pub(super) enum Indexed {
    /// The registry's referrers API indexed it.
    ByRegistry,
    /// Added to the image index under this referrers tag.
    ByTag(String),
    /// Already listed under this referrers tag.
    AlreadyTagged(String),
}

impl std::fmt::Display for Indexed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Indexed::ByRegistry => write!(f, "indexed by the registry's referrers API"),
            Indexed::ByTag(tag) => write!(f, "listed under the referrers tag {tag}"),
            Indexed::AlreadyTagged(tag) => {
                write!(f, "already listed under the referrers tag {tag}")
            }
        }
    }
}

/// What was pushed: the artifact manifest's digest and how it can be found.
pub(super) struct Pushed {
    pub(super) digest: String,
    pub(super) indexed: Indexed,
}

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The artifact manifest of the SBOM `sbom` (its bytes), named `title`, referring to
/// `subject`.
fn artifact_manifest(subject: &Subject, sbom: &[u8], title: &str) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": CYCLONEDX,
        "config": {
            "mediaType": EMPTY,
            "digest": sha256(EMPTY_BYTES),
            "size": EMPTY_BYTES.len(),
            "data": "e30=",
        },
        "layers": [{
            "mediaType": CYCLONEDX,
            "digest": sha256(sbom),
            "size": sbom.len(),
            "annotations": {"org.opencontainers.image.title": title},
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
    });
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// The referrers tag of `digest`: `<algorithm>-<hex>`.
pub(super) fn referrers_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// The SBOM to push: its bytes and file name.
pub(super) struct Sbom {
    bytes: Vec<u8>,
    title: String,
}

impl Sbom {
    pub(super) fn read(path: &Path) -> Result<Sbom> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the SBOM {}", path.display()))?;
        let title = (path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Sbom { bytes, title })
    }

    /// The blobs its artifact manifest names, sent before it: digest, size, content.
    pub(super) fn blobs(&self) -> Vec<(String, u64, Body<'_>)> {
        let octets = "application/octet-stream";
        vec![
            (sha256(EMPTY_BYTES), 2, Body::Bytes(EMPTY_BYTES, octets)),
            (
                sha256(&self.bytes),
                self.bytes.len() as u64,
                Body::Bytes(&self.bytes, octets),
            ),
        ]
    }
}

/// The referrers index `existing` (the bytes under the referrers tag, if any) with
/// `descriptor` added: `None` when it lists that manifest already. What it lists besides
/// (other tools' referrers) is kept; bytes that are no image index are an error.
fn with_descriptor(existing: Option<&[u8]>, descriptor: Value) -> Result<Option<Value>> {
    let Some(bytes) = existing else {
        return Ok(Some(json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [descriptor],
        })));
    };
    let mut index: Value = serde_json::from_slice(bytes).context("not JSON")?;
    let manifests = (index["manifests"].as_array_mut()).context("no `manifests` list")?;
    if manifests
        .iter()
        .any(|m| m["digest"] == descriptor["digest"])
    {
        return Ok(None);
    }
    manifests.push(descriptor);
    Ok(Some(index))
}

/// Puts the artifact manifest of `sbom`, whose [`Sbom::blobs`] the repository `name`
/// holds, as a referrer of `subject`, and makes it known (see the module's doc).
pub(super) fn push(
    registry: &mut Registry,
    name: &str,
    subject: &Subject,
    sbom: &Sbom,
) -> Result<Pushed> {
    let (bytes, title) = (&sbom.bytes, &sbom.title);
    let manifest = artifact_manifest(subject, bytes, title);
    let digest = sha256(&manifest);
    let stored = registry.put_manifest(name, &digest, MANIFEST, &manifest)?;
    if stored.subject.as_deref() == Some(subject.digest) {
        return Ok(Pushed {
            digest,
            indexed: Indexed::ByRegistry,
        });
    }
    let tag = referrers_tag(subject.digest);
    let descriptor = json!({
        "mediaType": MANIFEST,
        "digest": digest,
        "size": manifest.len(),
        "artifactType": CYCLONEDX,
    });
    let existing = registry.get_manifest(name, &tag, INDEX)?;
    let Some(index) = with_descriptor(existing.as_deref(), descriptor).with_context(|| {
        format!(
            "{}/{name}:{tag}, the referrers tag of the image, holds no image index",
            registry.host()
        )
    })?
    else {
        return Ok(Pushed {
            digest,
            indexed: Indexed::AlreadyTagged(tag),
        });
    };
    let index = serde_json::to_vec(&index).context("cannot write the referrers index")?;
    registry.put_manifest(name, &tag, INDEX, &index)?;
    Ok(Pushed {
        digest,
        indexed: Indexed::ByTag(tag),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifact_refers_to_its_subject_and_carries_the_sbom() {
        let subject = Subject {
            digest: "sha256:aaaa",
            media_type: MANIFEST,
            size: 1234,
        };
        let bytes = artifact_manifest(&subject, b"{\"bomFormat\":\"CycloneDX\"}", "app.cdx.json");
        assert_eq!(
            bytes,
            artifact_manifest(&subject, b"{\"bomFormat\":\"CycloneDX\"}", "app.cdx.json")
        );
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["artifactType"], CYCLONEDX);
        assert_eq!(json["subject"]["digest"], "sha256:aaaa");
        assert_eq!(json["subject"]["size"], 1234);
        assert_eq!(
            json["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(json["layers"][0]["mediaType"], CYCLONEDX);
        assert_eq!(referrers_tag("sha256:abc"), "sha256-abc");
    }

    #[test]
    fn the_referrers_index_gains_the_sbom_once_and_keeps_what_others_listed() {
        let ours = json!({"mediaType": MANIFEST, "digest": "sha256:ours", "size": 1});
        let new = with_descriptor(None, ours.clone()).unwrap().unwrap();
        assert_eq!(new["mediaType"], INDEX);
        assert_eq!(new["manifests"], json!([ours]));
        let theirs = json!({"mediaType": MANIFEST, "digest": "sha256:signature", "size": 2});
        let existing = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": INDEX, "manifests": [theirs],
        }))
        .unwrap();
        let merged = with_descriptor(Some(&existing), ours.clone())
            .unwrap()
            .unwrap();
        assert_eq!(merged["manifests"], json!([theirs, ours]));
        let merged = serde_json::to_vec(&merged).unwrap();
        assert!(
            with_descriptor(Some(&merged), ours.clone())
                .unwrap()
                .is_none()
        );
        assert!(with_descriptor(Some(b"{\"layers\": []}"), ours).is_err());
    }
}
