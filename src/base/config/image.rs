//! `[image]`: the OCI image `pybuild image` makes of the bundle (see `steps/image.rs`).
//!
//! Every key has a default but `base`, which the image step asks for when it runs, so a
//! project that builds no image needs no section.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ImageSection {
    /// What the image starts from, named as skopeo names images: `oci:PATH[:TAG]`,
    /// `oci-archive:PATH` or `docker://REFERENCE`.
    pub(crate) base: Option<String>,
    /// The image's name: `dist/<name>.oci/`. Default: the project's name.
    pub(crate) name: Option<String>,
    /// The tag beside `latest`. Default: the project's version.
    pub(crate) tag: Option<String>,
    /// The base's interpreter the image's venv runs on, looked up on the image's PATH.
    #[serde(default = "default_python")]
    pub(crate) python: String,
    /// Arguments after the app's entrypoint (the image's `Cmd`).
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// The uid (and gid) the container runs as; 0 for root. Default: 65532, distroless's
    /// `nonroot`.
    #[serde(default = "default_user")]
    pub(crate) user: u32,
    /// Where `PEX_ROOT` points: a volume, writable by the user, for a PEX the app runs
    /// itself (the image's own venv needs none).
    #[serde(default = "default_pex_root")]
    pub(crate) pex_root: String,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// The TCP port the app listens on, exposed by the image.
    pub(crate) port: Option<u16>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    /// Also write `dist/<name>.oci.tar`, the layout as an `oci-archive`.
    #[serde(default)]
    pub(crate) archive: bool,
    /// Where `pybuild push` sends the image: `HOST[:PORT]/PATH` (`PYBUILD_IMAGE_REPOSITORY`
    /// overrides it).
    pub(crate) repository: Option<String>,
    /// Plain HTTP to a registry that is not on loopback.
    #[serde(default)]
    pub(crate) insecure: bool,
    /// A repository of the same registry blobs are mounted from instead of uploaded.
    pub(crate) mount_from: Option<String>,
    /// The PEM certificates the registry's is checked against, instead of the built-in roots.
    pub(crate) ca_file: Option<String>,
}

impl Default for ImageSection {
    fn default() -> Self {
        ImageSection {
            base: None,
            name: None,
            tag: None,
            python: default_python(),
            args: Vec::new(),
            user: default_user(),
            pex_root: default_pex_root(),
            env: BTreeMap::new(),
            port: None,
            labels: BTreeMap::new(),
            archive: false,
            repository: None,
            insecure: false,
            mount_from: None,
            ca_file: None,
        }
    }
}

fn default_python() -> String {
    "python3".into()
}

/// distroless's `nonroot`: no user of the base, no root.
pub(crate) const NONROOT: u32 = 65532;

fn default_user() -> u32 {
    NONROOT
}

fn default_pex_root() -> String {
    "/pex_root".into()
}
