//! The remote cache's HTTP: `GET`, `HEAD` and `PUT` on the server, each with time limits,
//! and every answer read with a bound fixed before its first byte arrives.
//!
//! - An action-cache entry is read whole, at most [`ENTRY_LIMIT`] bytes within
//!   [`ENTRY_DEADLINE`].
//! - A blob is streamed into a temp file beside its target while it is hashed, never held
//!   in memory: its entry declares its size, so a `Content-Length` that says otherwise is
//!   refused before the body is read, and a body (chunked, without a length) that runs
//!   past that size is refused at the first byte too many. It has [`blob_deadline`] to
//!   arrive. A server answering 10 GB costs a few reads, not 10 GB of memory or disk.
//!
//! What goes wrong is one of two kinds, because the caller does different things with them:
//! an answer whose *content* is wrong ([`Answer::Refused`]: a size or digest that is not
//! the entry's, an entry too large) condemns that entry only; a *server* that fails
//! ([`Answer::Fault`]: unreachable, too slow, 5xx, 401/403, a connection cut mid-body) is
//! left alone for the rest of the invocation (see `Remote`).

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;

use super::credentials::Endpoint;
use super::entry::OutputFile;
use crate::base::http_agent::{self, Limits};
use crate::base::outputs::file_mode;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time to the first byte of an answer; then its body has its own deadline.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// For an upload's body: uploads run on a thread the invocation waits for only
/// `UPLOAD_WAIT`, so this only bounds how long that thread can linger.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest entry read. An entry names each output by its path, sha256 and size, some
/// 150 bytes, and a step makes a few outputs: an honest entry is under 1 KiB, and 64 KiB
/// leaves room for hundreds of outputs while a lying server costs nothing.
const ENTRY_LIMIT: u64 = 64 << 10;
/// An entry is a few KiB at most: even a slow link carries it in well under a second.
const ENTRY_DEADLINE: Duration = Duration::from_secs(5);
/// The largest blob an entry may name: no bundle or dependencies PEX comes near it, and
/// it bounds the disk a lying entry can make pybuild fill (the temp file goes on failure).
const MAX_BLOB: u64 = 4 << 30;
/// The slowest rate a blob may arrive at, and the least time it is given. Below 1 MB/s
/// (8 Mbit/s) a large blob takes longer to fetch than most results take to build here
/// (a 100 MB dependencies PEX: 100 s), so a slower server is worth less than none; the
/// floor covers a small blob's round trips and TCP's slow start on a long link.
const BLOB_RATE: u64 = 1_000_000;
const BLOB_DEADLINE_FLOOR: Duration = Duration::from_secs(10);

/// What the server answered. A refusal of a blob names it; of an entry, does not (the
/// caller names the entry it asked for).
pub(super) enum Answer<T> {
    Found(T),
    /// A 404: nothing under that name (an entry never stored, a blob evicted).
    Missing,
    /// The answer is not what was asked for, or cannot be kept here: this entry is a
    /// miss, the server stays in use. Says why.
    Refused(String),
    /// The server failed: says how, naming the URL.
    Fault(String),
}

/// The agent every request goes through: no redirects (one would carry the credentials
/// elsewhere), statuses as answers, and the time limits above.
pub(super) fn agent() -> ureq::Agent {
    let limits = Limits {
        connect: CONNECT_TIMEOUT,
        response: RESPONSE_TIMEOUT,
        send: SEND_TIMEOUT,
    };
    http_agent::agent(&limits, None)
}

/// Whether an entry of `length` bytes is more than pybuild reads ([`ENTRY_LIMIT`]).
fn over_entry_limit(length: u64) -> bool {
    length > ENTRY_LIMIT
}

/// Whether a blob declared `size` bytes long is more than an entry may name ([`MAX_BLOB`]).
fn over_blob_limit(size: u64) -> bool {
    size > MAX_BLOB
}

/// How long a blob of `size` bytes may take to arrive, once its answer has begun.
fn blob_deadline(size: u64) -> Duration {
    BLOB_DEADLINE_FLOOR + Duration::from_secs(size / BLOB_RATE)
}

/// The bytes of the entry `key`, at most [`ENTRY_LIMIT`] of them.
pub(super) fn entry(agent: &ureq::Agent, endpoint: &Endpoint, key: &str) -> Answer<Vec<u8>> {
    let url = url(endpoint, &format!("ac/{key}"));
    let mut response = match get(agent, endpoint, &url, ENTRY_DEADLINE) {
        Ok(Some(response)) => response,
        Ok(None) => return Answer::Missing,
        Err(why) => return Answer::Fault(why),
    };
    let too_large = || Answer::Refused(format!("it is larger than {} KiB", ENTRY_LIMIT >> 10));
    if response
        .body()
        .content_length()
        .is_some_and(over_entry_limit)
    {
        return too_large();
    }
    let mut bytes = Vec::new();
    let read = response
        .body_mut()
        .as_reader()
        .take(ENTRY_LIMIT + 1)
        .read_to_end(&mut bytes);
    match read {
        Err(err) => Answer::Fault(read_fault(&url, err, ENTRY_DEADLINE)),
        Ok(_) if over_entry_limit(bytes.len() as u64) => too_large(),
        Ok(_) => Answer::Found(bytes),
    }
}

/// The blob `file` names, in a temp file beside `target` with the mode a tool's output
/// gets, once its size and sha256 are the entry's.
pub(super) fn blob(
    agent: &ureq::Agent,
    endpoint: &Endpoint,
    file: &OutputFile,
    target: &Path,
) -> Answer<NamedTempFile> {
    let blob = &file.sha256;
    let declared = file.size;
    if over_blob_limit(declared) {
        return Answer::Refused(format!(
            "the blob {blob} is declared {declared} bytes long, more than the {MAX_BLOB} \
             fetched at most"
        ));
    }
    let url = url(endpoint, &format!("cas/{blob}"));
    let deadline = blob_deadline(declared);
    let mut response = match get(agent, endpoint, &url, deadline) {
        Ok(Some(response)) => response,
        Ok(None) => return Answer::Missing,
        Err(why) => return Answer::Fault(why),
    };
    if let Some(length) = response.body().content_length()
        && length != declared
    {
        return Answer::Refused(format!(
            "the blob {blob} comes with a Content-Length of {length} bytes, not the \
             {declared} its entry declares"
        ));
    }
    let mut temp = match temp_file(target, file.executable) {
        Ok(temp) => temp,
        Err(err) => return Answer::Refused(format!("{err:#}")),
    };
    // One byte past the declared size is enough to know the body is too long.
    let mut body = response.body_mut().as_reader().take(declared + 1);
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut buffer = vec![0; 64 << 10];
    loop {
        let n = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Answer::Fault(read_fault(&url, err, deadline)),
        };
        received += n as u64;
        if received > declared {
            return Answer::Refused(format!(
                "the blob {blob} is longer than the {declared} bytes its entry declares"
            ));
        }
        hasher.update(&buffer[..n]);
        if let Err(err) = temp.write_all(&buffer[..n]) {
            return Answer::Refused(format!("cannot write {}: {err}", temp.path().display()));
        }
    }
    if received != declared {
        return Answer::Refused(format!(
            "the blob {blob} ends after {received} bytes, not the {declared} its entry \
             declares"
        ));
    }
    if hex(&hasher.finalize()) != *blob {
        return Answer::Refused(format!("the blob {blob} does not match its digest"));
    }
    Answer::Found(temp)
}

/// Whether the server has `path`.
pub(super) fn head(agent: &ureq::Agent, endpoint: &Endpoint, path: &str) -> Result<bool> {
    let url = url(endpoint, path);
    let mut request = agent.head(&url);
    if let Some((name, value)) = &endpoint.auth {
        request = request.header(name, value);
    }
    let response = request.call().with_context(|| url.clone())?;
    match response.status().as_u16() {
        200..=299 => Ok(true),
        404 => Ok(false),
        status => bail!("{url} answered {status}"),
    }
}

pub(super) fn put(
    agent: &ureq::Agent,
    endpoint: &Endpoint,
    path: &str,
    bytes: &[u8],
) -> Result<()> {
    let url = url(endpoint, path);
    let mut request = agent.put(&url);
    if let Some((name, value)) = &endpoint.auth {
        request = request.header(name, value);
    }
    let response = request.send(bytes).with_context(|| url.clone())?;
    match response.status().as_u16() {
        200..=299 => Ok(()),
        status => bail!("{url} answered {status}"),
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn url(endpoint: &Endpoint, path: &str) -> String {
    format!("{}/{path}", endpoint.url)
}

/// `GET url`, its body given `deadline` to arrive once the answer has begun: the answer,
/// `None` for a 404, or what failed.
fn get(
    agent: &ureq::Agent,
    endpoint: &Endpoint,
    url: &str,
    deadline: Duration,
) -> Result<Option<ureq::http::Response<ureq::Body>>, String> {
    let mut request = agent.get(url);
    if let Some((name, value)) = &endpoint.auth {
        request = request.header(name, value);
    }
    let request = request.config().timeout_recv_body(Some(deadline)).build();
    let response = request.call().map_err(|err| format!("{url}: {err}"))?;
    match response.status().as_u16() {
        200..=299 => Ok(Some(response)),
        404 => Ok(None),
        status => Err(format!("{url} answered {status}")),
    }
}

/// What a failed read of `url`'s body says, its deadline named when that is what ran out.
fn read_fault(url: &str, err: std::io::Error, deadline: Duration) -> String {
    match ureq::Error::from(err) {
        ureq::Error::Timeout(_) => format!(
            "{url}: its body did not arrive within {} s",
            deadline.as_secs()
        ),
        err => format!("{url}: {err}"),
    }
}

/// An empty temp file beside `target`, with the mode a tool's output gets.
fn temp_file(target: &Path, executable: bool) -> Result<NamedTempFile> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Named for the sweep: a download cut short by a kill leaves nothing for good.
    let temp = tempfile::Builder::new()
        .prefix(&crate::base::process::temp_name())
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(file_mode(executable)))
        .with_context(|| format!("cannot set the mode of a file in {}", dir.display()))?;
    Ok(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits are the most taken: an entry of exactly 64 KiB is read, a blob of exactly
    /// 4 GiB fetched; a byte more is refused.
    #[test]
    fn the_limits_are_inclusive() {
        assert!(!over_entry_limit(64 << 10));
        assert!(over_entry_limit((64 << 10) + 1));
        assert!(!over_entry_limit(0));
        assert!(!over_blob_limit(4 << 30));
        assert!(over_blob_limit((4 << 30) + 1));
        assert!(over_blob_limit(10_000_000_000));
    }

    #[test]
    fn a_blob_is_given_time_in_proportion_to_its_size_with_a_floor() {
        assert_eq!(blob_deadline(0), BLOB_DEADLINE_FLOOR);
        assert_eq!(blob_deadline(1_000), BLOB_DEADLINE_FLOOR);
        assert_eq!(
            blob_deadline(100_000_000),
            BLOB_DEADLINE_FLOOR + Duration::from_secs(100)
        );
    }
}
