//! `[cache]`: the team's remote cache (see docs/remote-cache.md). The environment
//! overrides it (`PYBUILD_REMOTE_CACHE`, `PYBUILD_REMOTE_CACHE_READ_ONLY=1`): the engine's
//! `remote` module reads both.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CacheSection {
    /// The base URL of a server speaking Bazel's HTTP remote-cache protocol
    /// (`/ac/<sha256>`, `/cas/<sha256>`); unset means no remote cache.
    pub(crate) remote: Option<String>,
    /// Fetch from the remote cache but never upload to it.
    #[serde(default)]
    pub(crate) read_only: bool,
}
