//! The remote cache against servers that lie or stall. A small Python `http.server` of the
//! tests' own (written into a temp dir, run with python3 on a loopback port) stores what
//! is `PUT` and answers `GET`/`HEAD` on `/ac/` and `/cas/` as a Bazel cache does, except
//! for the paths a test names in its `rules.json`: those get a hostile answer, and the
//! server logs how much of it it got to send before the client hung up. Machine A
//! uploads once (shared by the tests); each test puts those uploads on a server of its
//! own, makes one answer hostile, and builds a fresh checkout against it.
//!
//! Then a damaged blob on a real server (nginx, as in `remote`), the same length as the
//! honest one, so only its sha256 can tell.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cache_server::{self, pinned_app};
use crate::support::{Project, Run, finish};

/// The server (see its doc), written into each server's temp dir and run with python3.
const SERVER: &str = include_str!("hostile_cache_server.py");

/// A server of the tests' own (see the module doc), killed when dropped.
struct Hostile {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Hostile {
    /// A server holding the files of `data` (none if `None`).
    fn start(data: Option<&Path>) -> Hostile {
        let dir = tempfile::Builder::new()
            .prefix("pybuild-hostile-")
            .tempdir()
            .unwrap();
        let script = dir.path().join("server.py");
        fs::write(&script, SERVER).unwrap();
        fs::create_dir_all(dir.path().join("data")).unwrap();
        if let Some(data) = data {
            let status = Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", data.display()))
                .arg(dir.path().join("data"))
                .status()
                .unwrap();
            assert!(status.success());
        }
        // Its own errors (a traceback when pybuild hangs up) go to `server.log`.
        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let port_file = dir.path().join("port");
        let start = Instant::now();
        while !port_file.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the test server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let port = fs::read_to_string(port_file).unwrap().parse().unwrap();
        Hostile { dir, port, child }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers `GET path` the way `rule` says (see `SERVER`'s `hostile`).
    fn make_hostile(&self, rules: &[(&str, &str)]) {
        let rules: serde_json::Map<String, serde_json::Value> = rules
            .iter()
            .map(|(path, rule)| (path.to_string(), (*rule).into()))
            .collect();
        fs::write(
            self.dir.path().join("rules.json"),
            serde_json::Value::Object(rules).to_string(),
        )
        .unwrap();
    }

    /// The entries (`/ac/KEY`) that name `blob`.
    fn entries_naming(&self, blob: &str) -> Vec<String> {
        let mut keys: Vec<String> = fs::read_dir(self.dir.path().join("data/ac"))
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| {
                let bytes = fs::read(entry.path()).unwrap();
                bytes.windows(blob.len()).any(|w| w == blob.as_bytes())
            })
            .map(|entry| entry.file_name().into_string().unwrap())
            .collect();
        keys.sort();
        keys
    }

    /// Keeps one entry naming `blob` (a bundle has two, its early and late keys), so that
    /// one refusal is one warning; returns its key.
    fn keep_one_entry_naming(&self, blob: &str) -> String {
        let keys = self.entries_naming(blob);
        assert_eq!(keys.len(), 2, "the bundle's early and late entries");
        fs::remove_file(self.dir.path().join("data/ac").join(&keys[1])).unwrap();
        keys[0].clone()
    }

    /// The hostile answers given: each path, how many bytes of its body were sent, and
    /// whether the client hung up before the end.
    fn answers(&self) -> Vec<(String, u64, bool)> {
        fs::read_to_string(self.dir.path().join("answers.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                (
                    v["path"].as_str().unwrap().to_string(),
                    v["sent"].as_u64().unwrap(),
                    v["hung_up"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    /// The one hostile answer given, to `path`: how many bytes of its body were sent
    /// before the client hung up.
    #[track_caller]
    fn sent_before_hang_up(&self, path: &str) -> u64 {
        // The server logs an answer once a write fails: after pybuild hung up, a write or
        // two may still land in the socket's buffer first (a slow answer writes a byte a
        // second), so the line can come seconds after pybuild exited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut answers = self.answers();
        while answers.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            answers = self.answers();
        }
        assert_eq!(answers.len(), 1, "{answers:?}");
        let (answered, sent, hung_up) = &answers[0];
        assert_eq!(answered, path);
        assert!(hung_up, "pybuild read the whole answer: {answers:?}");
        *sent
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What machine A uploaded to an honest server, kept for every test of this file.
struct Uploaded {
    data: PathBuf,
    bundle: String,
    bundle_size: u64,
    output: String,
    /// A's public key, which B trusts.
    trusted: String,
}

fn uploaded() -> &'static Uploaded {
    static UPLOADED: OnceLock<Uploaded> = OnceLock::new();
    UPLOADED.get_or_init(|| {
        let server = Hostile::start(None);
        let a = pinned_app();
        // A signs and B trusts its key, so B asks for both of the bundle's entries, the
        // early one too (with no trusted key a checkout with no venv asks only the late).
        let own = own_folder();
        let keys = own.join("keys");
        fs::create_dir_all(&keys).unwrap();
        let (key_file, trusted) = cache_server::keygen(&a, &keys, "hostile-tests");
        let built = a
            .pybuild_with_env(
                &["bundle"],
                &[
                    ("PYBUILD_REMOTE_CACHE", &server.url()),
                    ("PYBUILD_CACHE_SIGNING_KEY_FILE", key_file.to_str().unwrap()),
                ],
            )
            .success();
        assert!(
            !built.stderr.contains("warning"),
            "uploaded\n{}",
            built.describe()
        );
        let bundle = a.path("dist/uvapp.pex");
        // The servers copy it.
        let data = own.join("uploads");
        let status = Command::new("cp")
            .arg("-a")
            .arg(server.dir.path().join("data"))
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success());
        Uploaded {
            data,
            bundle: cache_server::sha256(&bundle),
            bundle_size: fs::metadata(&bundle).unwrap().len(),
            output: a.exec("dist/uvapp.pex", &[]).success().stdout,
            trusted,
        }
    })
}

/// This test process's folder for the uploads, under the target dir: one per process,
/// since a runner that starts a process per test (nextest: scripts/mutants.sh) would otherwise
/// have one process replace the uploads another's servers are copying. The folders of
/// processes that have ended are removed first.
fn own_folder() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for entry in fs::read_dir(tmp).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The fixed folders of earlier versions too (no pid in their names).
        if let Some(suffix) = name.strip_prefix("hostile-cache-")
            && suffix
                .parse::<u32>()
                .ok()
                .is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let own = tmp.join(format!("hostile-cache-{}", std::process::id()));
    let _ = fs::remove_dir_all(&own);
    fs::create_dir_all(&own).unwrap();
    own
}

/// `pybuild bundle` in a fresh checkout against `server`; the run and pybuild's own peak
/// resident memory (its `VmHWM`, in KiB), read while it runs.
fn build_against(server: &Hostile) -> (Project, Run, u64) {
    let b = pinned_app();
    let mut child = b.spawn_pybuild_with_env(
        &["bundle"],
        &[
            ("PYBUILD_REMOTE_CACHE", &server.url()),
            ("PYBUILD_CACHE_TRUSTED_KEYS", &uploaded().trusted),
        ],
    );
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let start = Instant::now();
    // VmHWM only grows: the last reading before the exit is the peak.
    while child.try_wait().unwrap().is_none() {
        let hwm = fs::read_to_string(&status)
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse().ok());
        peak = peak.max(hwm.unwrap_or(0));
        // A hang guard only, far above any deadline.
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("pybuild hangs");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let run = finish(child).success();
    (b, run, peak)
}

/// Built here, the honest bundle, and one warning, which says `what`.
#[track_caller]
fn assert_built_here(b: &Project, run: &Run, what: &[&str]) {
    assert!(run.step_ran("bundle"), "built here\n{}", run.describe());
    assert_eq!(
        b.exec("dist/uvapp.pex", &[]).success().stdout,
        uploaded().output
    );
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning\n{}", run.describe());
    for text in what {
        assert!(warnings[0].contains(text), "{text}\n{}", run.describe());
    }
}

/// pybuild's own memory stays in tens of MB, whatever the answer's size.
const PEAK_RSS_KIB: u64 = 64 << 10;

#[test]
fn a_10_gb_answer_is_refused_by_its_length_without_reading_it() {
    let up = uploaded();
    let server = Hostile::start(Some(&up.data));
    let key = server.keep_one_entry_naming(&up.bundle);
    let blob = format!("/cas/{}", up.bundle);
    server.make_hostile(&[(&blob, "huge-length")]);
    let (b, run, peak) = build_against(&server);
    assert!(peak < PEAK_RSS_KIB, "pybuild peaked at {peak} KiB");
    // What the socket buffers took before pybuild hung up: not the body.
    assert!(server.sent_before_hang_up(&blob) < 64 << 20);
    assert_built_here(
        &b,
        &run,
        &[&key, &up.bundle, "Content-Length of 10000000000"],
    );
}

#[test]
fn a_content_length_above_the_declared_size_is_refused_before_the_body() {
    let up = uploaded();
    let server = Hostile::start(Some(&up.data));
    let key = server.keep_one_entry_naming(&up.bundle);
    let blob = format!("/cas/{}", up.bundle);
    server.make_hostile(&[(&blob, "longer-length")]);
    let (b, run, _) = build_against(&server);
    // 256 MiB past the blob were offered; pybuild read none of them.
    assert!(server.sent_before_hang_up(&blob) < up.bundle_size + (64 << 20));
    let declared = format!("not the {} its entry declares", up.bundle_size);
    assert_built_here(&b, &run, &[&key, &up.bundle, &declared]);
}

#[test]
fn a_chunked_body_longer_than_declared_is_refused_at_its_first_byte_too_many() {
    let up = uploaded();
    let server = Hostile::start(Some(&up.data));
    let key = server.keep_one_entry_naming(&up.bundle);
    let blob = format!("/cas/{}", up.bundle);
    server.make_hostile(&[(&blob, "longer-chunked")]);
    let (b, run, peak) = build_against(&server);
    assert!(peak < PEAK_RSS_KIB, "pybuild peaked at {peak} KiB");
    assert!(server.sent_before_hang_up(&blob) < up.bundle_size + (64 << 20));
    let declared = format!("is longer than the {} bytes", up.bundle_size);
    assert_built_here(&b, &run, &[&key, &up.bundle, &declared]);
}

#[test]
fn a_body_at_a_byte_a_second_is_given_up_at_its_deadline() {
    let up = uploaded();
    let server = Hostile::start(Some(&up.data));
    server.keep_one_entry_naming(&up.bundle);
    let blob = format!("/cas/{}", up.bundle);
    server.make_hostile(&[(&blob, "slow")]);
    let (b, run, _) = build_against(&server);
    // A byte a second: the seconds pybuild waited. Its deadline for a blob this size is
    // some 10 s; 60 only guards against waiting minutes.
    assert!(server.sent_before_hang_up(&blob) < 60);
    // A slow server is a fault: the rest of the invocation goes without it.
    assert_built_here(
        &b,
        &run,
        &["remote cache unusable", &up.bundle, "did not arrive"],
    );
}

#[test]
fn an_oversized_entry_is_refused_with_or_without_a_length() {
    let up = uploaded();
    let server = Hostile::start(Some(&up.data));
    // Both of the bundle's entries: one well-formed but padded to 1 MiB, with its
    // Content-Length; the other chunked, without a length, and endless.
    let keys = server.entries_naming(&up.bundle);
    let (padded, endless) = (format!("/ac/{}", keys[0]), format!("/ac/{}", keys[1]));
    server.make_hostile(&[(&padded, "padded-entry"), (&endless, "endless-entry")]);
    let (b, run, peak) = build_against(&server);
    assert!(peak < PEAK_RSS_KIB, "pybuild peaked at {peak} KiB");
    let answers = server.answers();
    assert_eq!(answers.len(), 2, "both entries asked for: {answers:?}");
    assert!(
        answers
            .iter()
            .any(|(path, sent, hung_up)| *path == endless && *hung_up && *sent < 64 << 20),
        "{answers:?}"
    );
    assert!(run.step_ran("bundle"), "built here\n{}", run.describe());
    assert_eq!(b.exec("dist/uvapp.pex", &[]).success().stdout, up.output);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 2, "one per entry\n{}", run.describe());
    for key in &keys {
        let warning = warnings.iter().find(|w| w.contains(key.as_str()));
        assert!(
            warning.is_some_and(|w| w.contains("larger than 64 KiB")),
            "{key}\n{}",
            run.describe()
        );
    }
}

#[test]
fn a_blob_damaged_on_the_servers_disk_at_the_same_length_is_never_shipped() {
    let server = cache_server::Server::start();
    let a = pinned_app();
    a.pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &server.url())])
        .success();
    let bundle = a.path("dist/uvapp.pex");
    let sha256 = cache_server::sha256(&bundle);
    // Flip bytes in the middle: the length, and so the Content-Length, stay the same.
    let stored = server.blob(&sha256);
    let mut bytes = fs::read(&stored).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 16] {
        *byte ^= 0xff;
    }
    fs::write(&stored, &bytes).unwrap();
    assert_eq!(
        fs::metadata(&stored).unwrap().len(),
        fs::metadata(&bundle).unwrap().len()
    );

    let b = pinned_app();
    let run = b
        .pybuild_with_env(
            &["bundle"],
            &[
                ("PYBUILD_REMOTE_CACHE", &server.url()),
                ("PYBUILD_REMOTE_CACHE_READ_ONLY", "1"),
            ],
        )
        .success();
    assert!(run.step_ran("bundle"), "built here\n{}", run.describe());
    let refusal = format!("the blob {sha256} does not match its digest");
    assert!(run.stderr.contains(&refusal), "{}", run.describe());
    assert_eq!(
        fs::read(b.path("dist/uvapp.pex")).unwrap(),
        fs::read(&bundle).unwrap()
    );
    assert_eq!(
        b.exec("dist/uvapp.pex", &[]).success().stdout,
        a.exec("dist/uvapp.pex", &[]).success().stdout
    );
}
