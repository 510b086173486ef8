//! A registry's credentials and challenges: the user and password the containers' tools
//! keep for a host (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `~/.docker/config.json`, first holding the host wins: `"auths": {"HOST": {"auth":
//! base64("user:password")}}`), and the `WWW-Authenticate` challenge a `401` carries.
//!
//! Credentials are never shown: [`Credentials`] has no `Debug`, and messages name the
//! file they came from, not what it holds.

use std::path::{Path, PathBuf};

use anyhow::Result;
use base64::Engine as _;

use crate::base::error::UserError;

/// A user and password for a registry, and the file they came from.
pub(super) struct Credentials {
    pub(super) user: String,
    pub(super) password: String,
    pub(super) file: PathBuf,
}

impl Credentials {
    /// The `Authorization` header's value for Basic authentication.
    pub(super) fn basic(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.user, self.password));
        format!("Basic {token}")
    }
}

/// The files credentials are looked up in, in order.
fn auth_files() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let mut files = Vec::new();
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(file));
    }
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        files.push(Path::new(&dir).join("containers/auth.json"));
    }
    if let Some(home) = var("HOME") {
        files.push(Path::new(&home).join(".docker/config.json"));
    }
    files
}

/// The credentials kept for `host` (`name[:port]`), if any file holds them. A file that is
/// there but cannot be read as an auth file is refused with its name.
pub(super) fn find(host: &str) -> Result<Option<Credentials>> {
    for file in auth_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let found = entry(&text, host).map_err(|why| {
            UserError::failure(format!(
                "{} is no registry auth file: {why}",
                file.display()
            ))
        })?;
        if let Some((user, password)) = found {
            return Ok(Some(Credentials {
                user,
                password,
                file,
            }));
        }
    }
    Ok(None)
}

/// The user and password `text`, an auth file, holds for `host`. A key may be written
/// with a scheme or a path (`https://host/v1/`), as Docker writes Docker Hub's.
fn entry(text: &str, host: &str) -> Result<Option<(String, String)>, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let key_host = |key: &str| {
        let key = key.split_once("://").map_or(key, |(_, rest)| rest);
        key.split('/').next().unwrap_or(key).to_string()
    };
    let Some((key, value)) = auths.iter().find(|(key, _)| key_host(key) == host) else {
        return Ok(None);
    };
    let Some(auth) = value.get("auth").and_then(|a| a.as_str()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| format!("`auths.\"{key}\".auth` is not base64 of `user:password`"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| format!("`auths.\"{key}\".auth` is not base64 of `user:password`"))?;
    Ok(Some((user.to_string(), password.to_string())))
}

/// A `WWW-Authenticate` challenge: its scheme (lower-cased) and parameters.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Challenge {
    pub(super) scheme: String,
    pub(super) params: Vec<(String, String)>,
}

impl Challenge {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        (self.params.iter())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull,push"`:
/// parameters are `key=value` or `key="value"` (a quoted value may hold commas).
pub(super) fn challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        params.push((key.trim().to_string(), value.to_string()));
        rest = after;
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_keeps_commas_inside_quotes() {
        let c = challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example/token"));
        assert_eq!(c.param("service"), Some("registry.example"));
        assert_eq!(c.param("scope"), Some("repository:team/app:pull,push"));
        let basic = challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(basic.scheme, "basic");
        assert_eq!(basic.param("realm"), Some("Registry Realm"));
    }

    #[test]
    fn an_auth_file_entry_is_found_by_host_with_or_without_scheme() {
        // base64("alice:s3:cret")
        let text = r#"{"auths": {"https://reg.example:5000/v1/": {"auth": "YWxpY2U6czM6Y3JldA=="},
                       "other.example": {"auth": "eDp5"}}}"#;
        assert_eq!(
            entry(text, "reg.example:5000").unwrap(),
            Some(("alice".into(), "s3:cret".into()))
        );
        assert_eq!(entry(text, "reg.example").unwrap(), None);
        assert_eq!(
            entry(text, "other.example").unwrap(),
            Some(("x".into(), "y".into()))
        );
        assert!(entry(r#"{"auths": {"h": {"auth": "!!"}}}"#, "h").is_err());
        assert!(entry("not json", "h").is_err());
    }
}
