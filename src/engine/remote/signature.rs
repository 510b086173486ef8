//! Signed entries, as Nix signs its binary caches: a writer holding a secret ed25519 key
//! signs every entry it uploads; a reader that trusts some public keys takes only entries
//! signed by one of them, and treats any other (unsigned, signed by another key, or with a
//! signature that does not verify) as absent. Whoever may write to the server can then no
//! longer choose what the readers run.
//!
//! The signature covers the entry's cache key and every file it names (path, sha256, size,
//! executable bit), in the entry's order: a blob is bound to its digest (checked on fetch),
//! so the signature covers the bytes too. It travels in the entry itself, as the `worker`
//! of the `ActionResult`'s `execution_metadata` (`pybuild-sig:NAME:BASE64`), which Bazel
//! servers store as they store any entry.
//!
//! Keys are written `NAME:BASE64`: the public key's 32 bytes, and the secret key file's 64
//! (the secret then the public half, as Nix writes them).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::entry::OutputFile;
use crate::base::config::{self, PublicKey};

/// The environment's twins of `[cache] signing-key-file` and `[cache] trusted-keys`
/// (space-separated), which they override.
pub(crate) const SIGNING_KEY_VARIABLE: &str = "PYBUILD_CACHE_SIGNING_KEY_FILE";
pub(crate) const TRUSTED_KEYS_VARIABLE: &str = "PYBUILD_CACHE_TRUSTED_KEYS";

/// What starts a signature in the entry's `worker` field.
const PREFIX: &str = "pybuild-sig:";

/// A secret key, and the name its signatures carry.
pub(crate) struct SecretKey {
    name: String,
    key: SigningKey,
}

impl SecretKey {
    /// A new key from the OS's randomness.
    pub(crate) fn generate(name: &str) -> SecretKey {
        SecretKey {
            name: name.to_string(),
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// The secret key file's text (`NAME:BASE64` of 64 bytes, and a newline).
    pub(crate) fn to_file_text(&self) -> String {
        let bytes = self.key.to_keypair_bytes();
        format!("{}:{}\n", self.name, encode(&bytes))
    }

    /// The public key, as `trusted-keys` holds it.
    pub(crate) fn public(&self) -> String {
        format!(
            "{}:{}",
            self.name,
            encode(self.key.verifying_key().as_bytes())
        )
    }

    /// Reads the secret key file `path` (named by `setting`, for the messages): it must be
    /// readable by its owner alone, and hold one key as `keygen` writes it.
    pub(crate) fn load(path: &Path, setting: &str) -> Result<SecretKey> {
        let context = || format!("the signing key {} ({setting})", path.display());
        let meta = fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))
            .with_context(context)?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "{}: {} is readable by others (mode {:o}); `chmod 600 {}`",
                context(),
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
        let text = fs::read_to_string(path).with_context(context)?;
        let parsed = text.trim().rsplit_once(':').and_then(|(name, encoded)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            let bytes: [u8; 64] = bytes.try_into().ok()?;
            let key = SigningKey::from_keypair_bytes(&bytes).ok()?;
            config::is_key_name(name).then(|| (name.to_string(), key))
        });
        let Some((name, key)) = parsed else {
            bail!(
                "{}: not a secret key written by `pybuild cache keygen` (NAME:BASE64)",
                context()
            );
        };
        Ok(SecretKey { name, key })
    }

    /// The signature of the entry naming `files` under `key`, as the entry carries it.
    pub(crate) fn sign(&self, key: &str, files: &[OutputFile]) -> String {
        let signature = self.key.sign(&message(key, files));
        format!("{PREFIX}{}:{}", self.name, encode(&signature.to_bytes()))
    }
}

/// What an entry's signature says, to a reader trusting some keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Signed by this trusted key.
    Trusted(String),
    Unsigned,
    /// Signed by a key of this name that is not trusted here.
    Foreign(String),
    /// Signed in the name of a trusted key, but the signature does not verify.
    Bad(String),
}

impl Verdict {
    /// Why an entry is ignored, when it is.
    pub(crate) fn refusal(&self) -> Option<String> {
        match self {
            Verdict::Trusted(_) => None,
            Verdict::Unsigned => Some("it is unsigned".into()),
            Verdict::Foreign(name) => {
                Some(format!("it is signed by `{name}`, a key not trusted here"))
            }
            Verdict::Bad(name) => Some(format!("its signature by `{name}` does not verify")),
        }
    }
}

/// The public keys an entry may be signed by.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trust {
    keys: Vec<PublicKey>,
}

impl Trust {
    /// The keys of `PYBUILD_CACHE_TRUSTED_KEYS`, else of `[cache] trusted-keys` (checked
    /// when project.toml was loaded).
    pub(crate) fn configured(trusted: &[String]) -> Result<Trust> {
        let from_env = std::env::var(TRUSTED_KEYS_VARIABLE)
            .ok()
            .filter(|keys| !keys.trim().is_empty());
        let texts: Vec<String> = match &from_env {
            Some(keys) => keys.split_whitespace().map(str::to_string).collect(),
            None => trusted.to_vec(),
        };
        let mut keys = Vec::new();
        for text in texts {
            let key = config::public_key(&text)
                .map_err(|why| anyhow::anyhow!("bad key in {TRUSTED_KEYS_VARIABLE}: {why}"))?;
            keys.push(key);
        }
        Ok(Trust { keys })
    }

    /// Whether any key is trusted: then only entries signed by one are used.
    pub(crate) fn any(&self) -> bool {
        !self.keys.is_empty()
    }

    /// What `signature` (the entry's, if any) says of the entry naming `files` under `key`.
    pub(crate) fn verdict(
        &self,
        key: &str,
        files: &[OutputFile],
        signature: Option<&str>,
    ) -> Verdict {
        let Some((name, encoded)) = signature
            .and_then(|text| text.strip_prefix(PREFIX))
            .and_then(|rest| rest.rsplit_once(':'))
        else {
            return Verdict::Unsigned;
        };
        let Some(trusted) = self.keys.iter().find(|k| k.name == name) else {
            return Verdict::Foreign(name.to_string());
        };
        let bad = || Verdict::Bad(name.to_string());
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return bad();
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
            return bad();
        };
        let Ok(public) = VerifyingKey::from_bytes(&trusted.bytes) else {
            return bad();
        };
        match public.verify_strict(&message(key, files), &Signature::from_bytes(&bytes)) {
            Ok(()) => Verdict::Trusted(name.to_string()),
            Err(_) => bad(),
        }
    }
}

/// Where the signing key comes from: `PYBUILD_CACHE_SIGNING_KEY_FILE`, else `[cache]
/// signing-key-file` (relative to the project's root), with the name of the setting.
pub(crate) fn signing_key_file(configured: Option<&str>, root: &Path) -> Option<(PathBuf, String)> {
    if let Some(file) = std::env::var_os(SIGNING_KEY_VARIABLE).filter(|f| !f.is_empty()) {
        return Some((PathBuf::from(file), SIGNING_KEY_VARIABLE.to_string()));
    }
    configured.map(|file| {
        (
            root.join(file),
            "`cache.signing-key-file` in project.toml".into(),
        )
    })
}

/// What is signed: a domain tag, the key, each file's path, digest, size and mode.
fn message(key: &str, files: &[OutputFile]) -> Vec<u8> {
    let mut text = format!("pybuild cache entry 1\n{key}\n");
    for file in files {
        text.push_str(&format!(
            "{}\0{}\0{}\0{}\n",
            file.path,
            file.sha256,
            file.size,
            u8::from(file.executable)
        ));
    }
    text.into_bytes()
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<OutputFile> {
        vec![OutputFile {
            path: "dist/app.pex".into(),
            sha256: "ab".repeat(32),
            size: 10,
            executable: true,
        }]
    }

    #[test]
    fn only_a_trusted_key_signing_these_very_files_under_this_key_is_trusted() {
        let team = SecretKey::generate("team");
        let other = SecretKey::generate("other");
        let trust = Trust {
            keys: vec![config::public_key(&team.public()).unwrap()],
        };
        let signed = team.sign("k1", &files());
        assert_eq!(
            trust.verdict("k1", &files(), Some(&signed)),
            Verdict::Trusted("team".into())
        );
        assert_eq!(
            trust.verdict("k2", &files(), Some(&signed)),
            Verdict::Bad("team".into())
        );
        let mut changed = files();
        changed[0].executable = false;
        assert_eq!(
            trust.verdict("k1", &changed, Some(&signed)),
            Verdict::Bad("team".into())
        );
        assert_eq!(trust.verdict("k1", &files(), None), Verdict::Unsigned);
        let foreign = other.sign("k1", &files());
        assert_eq!(
            trust.verdict("k1", &files(), Some(&foreign)),
            Verdict::Foreign("other".into())
        );
        // Another key under the trusted name.
        let impostor = SecretKey::generate("team").sign("k1", &files());
        assert_eq!(
            trust.verdict("k1", &files(), Some(&impostor)),
            Verdict::Bad("team".into())
        );
    }

    #[test]
    fn a_key_file_reads_back_and_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = SecretKey::generate("ci");
        fs::write(&path, key.to_file_text()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", SecretKey::load(&path, "VAR").err().unwrap());
        assert!(
            err.contains("readable by others") && err.contains("VAR"),
            "{err}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            SecretKey::load(&path, "VAR").unwrap().public(),
            key.public()
        );
        fs::write(&path, key.public()).unwrap();
        assert!(SecretKey::load(&path, "VAR").is_err());
    }
}
