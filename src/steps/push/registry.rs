//! A client of one registry's OCI distribution API, enough to push an image and its
//! referrers: is a blob there (`HEAD`), mount it from another repository, upload it
//! (`POST` then `PUT` with the bytes streamed from the file), put a manifest (and hear
//! whether the registry indexed its `subject`: `OCI-Subject`), get one (a referrers
//! index).
//!
//! - **Scheme:** HTTPS, its certificate checked against `[image] ca-file`, else
//!   `SSL_CERT_FILE`, else the built-in Mozilla roots. Plain HTTP only for a loopback host
//!   or with `[image] insecure = true`, and then only when HTTPS fails (as Docker and
//!   skopeo do for an insecure registry): which one answers is decided once, by `GET /v2/`.
//! - **Auth:** a `401` is answered once per request: `Basic` with the auth file's
//!   credentials; `Bearer realm=…,service=…,scope=…` with a token fetched from the realm
//!   (Basic credentials sent to it, if any). The header is kept for the next requests.
//! - **No redirects** (one would carry the credentials elsewhere) and an upload's
//!   `Location` is followed only on the registry itself.
//! - Every refusal is one message naming the registry, what it refused and its answer.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use ureq::http::{Method, Request, Response};
use ureq::tls::Certificate;

use super::auth::{self, Credentials};
use crate::base::error::UserError;
use crate::base::http_agent::{self, Limits};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to an answer's first byte: a registry checks a manifest's blobs before answering.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// A blob's upload: a dependencies layer of hundreds of MB over a slow link.
const SEND_TIMEOUT: Duration = Duration::from_secs(1800);
/// The most read of an error's or a token's answer.
const ANSWER_LIMIT: u64 = 64 << 10;

/// The most read of a manifest: the distribution spec lets a registry refuse one past 4 MiB.
const MANIFEST_LIMIT: u64 = 4 << 20;

/// What the registry answered to a manifest put.
pub(super) struct Stored {
    /// `Docker-Content-Digest`: the digest it stored the manifest as.
    pub(super) digest: Option<String>,
    /// `OCI-Subject`: the subject it indexed the manifest's referrer under, when it has the
    /// referrers API (OCI distribution 1.1).
    pub(super) subject: Option<String>,
}

/// What a request carries.
pub(super) enum Body<'b> {
    Empty,
    /// Nothing, asking for an answer of these media types (`Accept`).
    Accepting(&'b str),
    /// A manifest, with its media type.
    Bytes(&'b [u8], &'b str),
    /// A blob, streamed from its file.
    File(&'b Path),
}

/// One registry, as reached: its base URL and the header that authenticates to it.
pub(super) struct Registry {
    agent: ureq::Agent,
    /// `HOST[:PORT]`, as the repository names it: in every message.
    host: String,
    /// `https://HOST[:PORT]` or `http://…`.
    base: String,
    credentials: Option<Credentials>,
    /// The `Authorization` header sent with every request, once a challenge asked for one.
    authorization: Option<String>,
    /// The scope a token is asked for when a challenge names none.
    scope: String,
}

/// Whether `host` (`name[:port]`) is this machine: plain HTTP to it crosses no network.
pub(super) fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The roots a registry's certificate is checked against: `ca_file`, else
/// `SSL_CERT_FILE`, else none (the built-in ones).
fn roots(ca_file: Option<&Path>) -> Result<Option<Vec<Certificate<'static>>>> {
    let from_env = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
    let Some(file) = ca_file.map(Path::to_path_buf).or(from_env.map(Into::into)) else {
        return Ok(None);
    };
    let pem = std::fs::read(&file)
        .with_context(|| format!("cannot read the certificates in {}", file.display()))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(
            UserError::failure(format!("{} holds no PEM certificate", file.display())).into(),
        );
    }
    Ok(Some(certs))
}

fn agent(roots: Option<Vec<Certificate<'static>>>) -> ureq::Agent {
    let limits = Limits {
        connect: CONNECT_TIMEOUT,
        response: RESPONSE_TIMEOUT,
        send: SEND_TIMEOUT,
    };
    http_agent::agent(&limits, roots)
}

/// Whether a failed request never reached a server (so another scheme will not either).
fn unreachable(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::HostNotFound | ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::TimedOut
        ),
        _ => false,
    }
}

impl Registry {
    /// The registry at `host`, reached and answering `GET /v2/` (after authenticating,
    /// if it asks): HTTPS, or plain HTTP where `http_allowed` and HTTPS fails.
    pub(super) fn connect(
        host: &str,
        http_allowed: bool,
        ca_file: Option<&Path>,
        scope: String,
    ) -> Result<Registry> {
        let credentials = auth::find(host)?;
        let mut registry = Registry {
            agent: agent(roots(ca_file)?),
            host: host.to_string(),
            base: format!("https://{host}"),
            credentials,
            authorization: None,
            scope,
        };
        let schemes: &[&str] = match http_allowed {
            true => &["https", "http"],
            false => &["https"],
        };
        // The first failure is the one to tell: HTTPS's, when plain HTTP was tried after.
        let mut first_failure: Option<(String, bool)> = None;
        for scheme in schemes {
            registry.base = format!("{scheme}://{host}");
            let url = format!("{}/v2/", registry.base);
            match registry.send(Method::GET, &url, &Body::Empty) {
                Ok(response) if response.status().is_success() => return Ok(registry),
                // An HTTPS server asked in plain HTTP.
                Ok(response) if response.status() == 400 && first_failure.is_some() => break,
                Ok(response) => return Err(registry.refused("answer the API", response)),
                Err(Fault::Transport(err)) => {
                    let unreachable = unreachable(&err);
                    first_failure.get_or_insert((err.to_string(), unreachable));
                    if unreachable {
                        break;
                    }
                }
                Err(Fault::Refused(err)) => return Err(err),
            }
        }
        let (why, unreachable) = first_failure.unwrap_or_default();
        let hint = match unreachable {
            true => "is the registry running, at this host and port?".to_string(),
            false => format!(
                "does {host} speak HTTPS with a certificate checked here? Name its CA in \
                 `[image] ca-file` (or SSL_CERT_FILE){}",
                match http_allowed {
                    true => "",
                    false => ", or set `[image] insecure = true` for plain HTTP",
                }
            ),
        };
        Err(
            UserError::failure(format!("cannot reach the registry {host}: {why}"))
                .hint(hint)
                .into(),
        )
    }

    /// The registry's `HOST[:PORT]`.
    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// Whether the repository `name` holds the blob `digest`.
    pub(super) fn has_blob(&mut self, name: &str, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{name}/blobs/{digest}", self.base);
        let what = format!("say whether {name} has {digest}");
        let response = self.request(Method::HEAD, &url, &Body::Empty, &what)?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.refused(&what, response)),
        }
    }

    /// Mounts `digest` from the repository `from` into `name`: `None` when mounted, else
    /// the upload the registry started instead (it has no such blob there to lend).
    pub(super) fn mount(&mut self, name: &str, digest: &str, from: &str) -> Result<Option<String>> {
        let url = format!(
            "{}/v2/{name}/blobs/uploads/?mount={digest}&from={from}",
            self.base
        );
        let what = format!("mount {digest} from {from} into {name}");
        let response = self.request(Method::POST, &url, &Body::Empty, &what)?;
        match response.status().as_u16() {
            201 => Ok(None),
            202 => self.location(&what, &response).map(Some),
            _ => Err(self.refused(&what, response)),
        }
    }

    /// Starts an upload to `name`: its location.
    pub(super) fn start_upload(&mut self, name: &str) -> Result<String> {
        let url = format!("{}/v2/{name}/blobs/uploads/", self.base);
        let what = format!("start an upload to {name}");
        let response = self.request(Method::POST, &url, &Body::Empty, &what)?;
        match response.status().as_u16() {
            202 => self.location(&what, &response),
            _ => Err(self.refused(&what, response)),
        }
    }

    /// Sends `blob` (a file, or bytes), the blob `digest`, to the upload at `location`, in
    /// one `PUT`.
    pub(super) fn upload(&mut self, location: &str, digest: &str, blob: &Body) -> Result<()> {
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={digest}");
        let what = format!("take the blob {digest}");
        let response = self.request(Method::PUT, &url, blob, &what)?;
        match response.status().as_u16() {
            201 => Ok(()),
            _ => Err(self.refused(&what, response)),
        }
    }

    /// Puts `manifest` (of `media_type`) as `name:reference` (a tag or its digest): what
    /// the registry answers.
    pub(super) fn put_manifest(
        &mut self,
        name: &str,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> Result<Stored> {
        let url = format!("{}/v2/{name}/manifests/{reference}", self.base);
        let what = format!("take the manifest {name}:{reference}");
        let body = Body::Bytes(manifest, media_type);
        let response = self.request(Method::PUT, &url, &body, &what)?;
        let header = |key: &str| {
            (response.headers().get(key))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        match response.status().as_u16() {
            201 => Ok(Stored {
                digest: header("Docker-Content-Digest"),
                subject: header("OCI-Subject"),
            }),
            _ => Err(self.refused(&what, response)),
        }
    }

    /// The manifest or index `name:reference` holds, of one of the `accept`ed media types:
    /// `None` when the registry has none there.
    pub(super) fn get_manifest(
        &mut self,
        name: &str,
        reference: &str,
        accept: &str,
    ) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/v2/{name}/manifests/{reference}", self.base);
        let what = format!("give the manifest {name}:{reference}");
        let mut response = self.request(Method::GET, &url, &Body::Accepting(accept), &what)?;
        match response.status().as_u16() {
            200 => {
                let mut bytes = Vec::new();
                (response.body_mut().as_reader())
                    .take(MANIFEST_LIMIT)
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("cannot read {name}:{reference}"))?;
                Ok(Some(bytes))
            }
            404 => Ok(None),
            _ => Err(self.refused(&what, response)),
        }
    }

    /// An upload's `Location`, made absolute, if it is on this registry.
    fn location(&self, what: &str, response: &Response<ureq::Body>) -> Result<String> {
        let location = (response.headers().get("Location"))
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                UserError::failure(format!(
                    "the registry {} answered no upload location when asked to {what}",
                    self.host
                ))
            })?;
        if location.starts_with('/') {
            return Ok(format!("{}{location}", self.base));
        }
        let origin = format!("{}/", self.base);
        match location.starts_with(&origin) {
            true => Ok(location.to_string()),
            false => Err(UserError::failure(format!(
                "the registry {} sent the upload elsewhere ({}) when asked to {what}: \
                 not followed, it would carry the credentials there",
                self.host,
                location.split('?').next().unwrap_or(location)
            ))
            .into()),
        }
    }

    /// `request`, failing with a message when no answer came.
    fn request(
        &mut self,
        method: Method,
        url: &str,
        body: &Body,
        what: &str,
    ) -> Result<Response<ureq::Body>> {
        match self.send(method, url, body) {
            Ok(response) => Ok(response),
            Err(Fault::Refused(err)) => Err(err),
            Err(Fault::Transport(err)) => Err(UserError::failure(format!(
                "the registry {} did not answer when asked to {what}: {err}",
                self.host
            ))
            .into()),
        }
    }

    /// Sends a request, answering a `401` once (see the module's doc).
    fn send(
        &mut self,
        method: Method,
        url: &str,
        body: &Body,
    ) -> Result<Response<ureq::Body>, Fault> {
        let mut answered_challenge = false;
        loop {
            let response = self.send_once(method.clone(), url, body)?;
            if response.status() != 401 || answered_challenge {
                return Ok(response);
            }
            answered_challenge = true;
            let header = (response.headers().get("WWW-Authenticate"))
                .and_then(|v| v.to_str().ok())
                .and_then(auth::challenge);
            let authorization = match header {
                Some(challenge) if challenge.scheme == "bearer" => {
                    self.token(&challenge).map_err(Fault::Refused)?
                }
                Some(challenge) if challenge.scheme == "basic" => match &self.credentials {
                    Some(credentials) => credentials.basic(),
                    None => return Ok(response),
                },
                _ => return Ok(response),
            };
            // Sent already and refused: the same again would be refused too.
            if self.authorization.as_deref() == Some(&authorization) {
                return Ok(response);
            }
            self.authorization = Some(authorization);
        }
    }

    fn send_once(
        &self,
        method: Method,
        url: &str,
        body: &Body,
    ) -> Result<Response<ureq::Body>, Fault> {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let sent = match body {
            Body::Empty => self.agent.run(built(request.body(()))?),
            Body::Accepting(media_types) => {
                let request = request.header("Accept", *media_types);
                self.agent.run(built(request.body(()))?)
            }
            Body::Bytes(bytes, media_type) => {
                let request = request.header("Content-Type", *media_type);
                self.agent.run(built(request.body(*bytes))?)
            }
            Body::File(path) => {
                let file = File::open(path)
                    .with_context(|| format!("cannot read {}", path.display()))
                    .map_err(Fault::Refused)?;
                let request = request.header("Content-Type", "application/octet-stream");
                self.agent.run(built(request.body(file))?)
            }
        };
        sent.map_err(Fault::Transport)
    }

    /// A token from the realm `challenge` names, as an `Authorization` header's value.
    fn token(&self, challenge: &auth::Challenge) -> Result<String> {
        let realm = challenge.param("realm").unwrap_or_default();
        let realm_host = (realm.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or_default();
        let http_allowed = self.base.starts_with("http://") || is_loopback(realm_host);
        if !(realm.starts_with("https://") || realm.starts_with("http://") && http_allowed) {
            return Err(UserError::failure(format!(
                "the registry {} asks for a token from `{realm}`, which is no HTTPS URL",
                self.host
            ))
            .into());
        }
        let mut query: Vec<String> = Vec::new();
        if let Some(service) = challenge.param("service") {
            query.push(format!("service={}", encoded(service)));
        }
        let scope = challenge.param("scope").unwrap_or(&self.scope);
        query.push(format!("scope={}", encoded(scope)));
        let separator = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{separator}{}", query.join("&"));
        let mut request = self.agent.get(&url);
        if let Some(credentials) = &self.credentials {
            request = request.header("Authorization", credentials.basic());
        }
        let mut response = request.call().map_err(|err| {
            UserError::failure(format!(
                "the token service of the registry {} ({realm}) did not answer: {err}",
                self.host
            ))
        })?;
        if !response.status().is_success() {
            let asked = format!("give a token for `{scope}` (its token service {realm})");
            return Err(self.refused(&asked, response));
        }
        let mut text = String::new();
        response
            .body_mut()
            .as_reader()
            .take(ANSWER_LIMIT)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read the token from {realm}"))?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let token = (json.get("token").or_else(|| json.get("access_token")))
            .and_then(|t| t.as_str())
            .ok_or_else(|| {
                UserError::failure(format!(
                    "the token service of the registry {} ({realm}) answered no token",
                    self.host
                ))
            })?;
        Ok(format!("Bearer {token}"))
    }

    /// The error for an answer refusing `what`: its status, the registry's own words (the
    /// distribution API's `errors[].message`), and where credentials would come from.
    fn refused(&self, what: &str, mut response: Response<ureq::Body>) -> anyhow::Error {
        let status = response.status();
        let mut text = String::new();
        let _ = (response.body_mut().as_reader())
            .take(ANSWER_LIMIT)
            .read_to_string(&mut text);
        let said: Vec<String> = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|json| json.get("errors")?.as_array().cloned())
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let code = e.get("code")?.as_str()?.to_string();
                let message = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
                Some(format!("{code}: {message}"))
            })
            .collect();
        let mut message = format!(
            "the registry {} refused to {what}: {} {}",
            self.host,
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if !said.is_empty() {
            message.push_str(&format!(" ({})", said.join("; ")));
        }
        let mut error = UserError::failure(message.trim_end().to_string());
        if matches!(status.as_u16(), 401 | 403) {
            error = error.hint(match &self.credentials {
                Some(credentials) => format!(
                    "the credentials for {} in {} were refused, or allow no push there",
                    self.host,
                    credentials.file.display()
                ),
                None => format!(
                    "no credentials for {} were found: log in with `skopeo login {}` (or put \
                     them in $REGISTRY_AUTH_FILE or ~/.docker/config.json)",
                    self.host, self.host
                ),
            });
        }
        error.into()
    }
}

/// Why a request failed: no answer came, or it could not be made or authenticated.
enum Fault {
    Transport(ureq::Error),
    Refused(anyhow::Error),
}

fn built<T>(request: Result<Request<T>, ureq::http::Error>) -> Result<Request<T>, Fault> {
    request.map_err(|err| Fault::Refused(anyhow::anyhow!("cannot make a request: {err}")))
}

/// `text` percent-encoded for a query's value.
fn encoded(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn a_scope_is_encoded_for_the_query() {
        assert_eq!(
            encoded("repository:team/app:pull,push"),
            "repository%3Ateam%2Fapp%3Apull%2Cpush"
        );
    }
}
