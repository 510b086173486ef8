//! `[cache]`: the team's remote cache (see docs/remote-cache.md). The environment
//! overrides it (`PYBUILD_REMOTE_CACHE`, `PYBUILD_REMOTE_CACHE_READ_ONLY=1`,
//! `PYBUILD_CACHE_SIGNING_KEY_FILE`, `PYBUILD_CACHE_TRUSTED_KEYS`): the engine's `remote`
//! module reads them.
//!
//! Keys are written as Nix writes them: `NAME:BASE64`, the name saying whose key it is
//! (`ci-2026`), the base64 (standard, padded) holding the 32 bytes of an ed25519 public key.

use base64::Engine as _;
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
    /// The secret key (`pybuild cache keygen`) every uploaded entry is signed with.
    pub(crate) signing_key_file: Option<String>,
    /// The public keys (`NAME:BASE64`) whose signature an entry needs to be used: with
    /// any, an unsigned or otherwise signed entry is a miss.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) trusted_keys: Vec<String>,
}

/// A public key as written in `trusted-keys`: its name and its 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey {
    pub(crate) name: String,
    pub(crate) bytes: [u8; 32],
}

/// Reads `NAME:BASE64`; the error says what is wrong with it.
pub(crate) fn public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    let Some((name, encoded)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` is not `NAME:BASE64`"));
    };
    if !is_key_name(name) {
        return Err(format!(
            "`{name}` is not a key name (letters, digits, `.`, `_`, `-`)"
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|err| format!("the key `{name}` is not base64: {err}"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
        format!(
            "the key `{name}` holds {} bytes, not the 32 of an ed25519 public key",
            bytes.len()
        )
    })?;
    Ok(PublicKey {
        name: name.to_string(),
        bytes,
    })
}

/// A key's name: what `pybuild cache keygen` accepts and a signature carries.
pub(crate) fn is_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The first of `[cache] trusted-keys` that does not read as a key (a typo would distrust
/// every entry): its index and what is wrong with it.
pub(super) fn bad_trusted_key(section: &CacheSection) -> Option<(usize, String)> {
    section
        .trusted_keys
        .iter()
        .enumerate()
        .find_map(|(index, key)| public_key(key).err().map(|why| (index, why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_as_nix_writes_it() {
        let encoded = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let key = public_key(&format!("ci-1:{encoded}")).unwrap();
        assert_eq!(key.name, "ci-1");
        assert_eq!(key.bytes, [7u8; 32]);
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
        for bad in [
            encoded.clone(),
            format!(":{encoded}"),
            format!("a b:{encoded}"),
            format!("ci:{short}"),
            "ci:not base64!".into(),
        ] {
            assert!(public_key(&bad).is_err(), "{bad}");
        }
    }
}
