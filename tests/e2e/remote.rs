//! The team's remote cache against a real server: Debian's nginx with WebDAV `PUT`, on a
//! loopback port, started by each test in the foreground and killed at its end. Machine A
//! builds and uploads; machine B is a fresh copy elsewhere, with a fresh `HOME` and empty
//! pybuild, pex and uv caches.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, fetched_uv, finish};

const NGINX: &str = "/usr/sbin/nginx";
const PASSWORD: &str = "S3cretPw-never-shown";

/// A project whose bundle's early key exists: a `uv.lock` and pex pinned.
pub fn pinned_app() -> Project {
    Project::fixture("uv-app").with_file(
        "project.toml",
        "[project]\nname = \"uvapp\"\n\n[env]\ntools = [\"pex==2.105.2\"]\n",
    )
}

pub struct Server {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Server {
    pub fn start() -> Server {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: run `bash scripts/prerequisites.sh /usr/sbin/nginx=nginx`"
        );
        let dir = tempfile::Builder::new()
            .prefix("pybuild-nginx-")
            .tempdir()
            .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Server {
            dir,
            port,
            child: None,
        };
        server.resume();
        server
    }

    /// Starts nginx (again) on the same port and files.
    fn resume(&mut self) {
        let d = self.dir.path().display();
        fs::create_dir_all(self.dir.path().join("data")).unwrap();
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root;"
        } else {
            ""
        };
        let config = format!(
            "daemon off; master_process off; {user} pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log {d}/access.log; client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{}; root {d}/data; client_max_body_size 0;\n\
                 location / {{ dav_methods PUT; create_full_put_path on; }} }} }}\n",
            self.port
        );
        fs::write(self.dir.path().join("nginx.conf"), config).unwrap();
        let child = Command::new(NGINX)
            .args(["-e", &format!("{d}/error.log"), "-p", &d.to_string(), "-c"])
            .arg(self.dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nginx did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self, method: &str) -> usize {
        let log = fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains(&format!("\"{method} ")))
            .count()
    }

    pub fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.path().join("data/cas").join(sha256)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Empty caches and a fresh `HOME` for machine B, under `dir`; pybuild's own uv on PATH
/// (a new machine has one uv or the other; fetching it is no part of these tests).
fn fresh_machine(dir: &Path) -> Vec<(String, String)> {
    let path = format!(
        "{}:{}",
        fetched_uv().parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    vec![
        ("HOME".into(), dir.join("home").display().to_string()),
        (
            "PYBUILD_CACHE_DIR".into(),
            dir.join("pybuild").display().to_string(),
        ),
        ("PEX_ROOT".into(), dir.join("pex").display().to_string()),
        ("PATH".into(), path),
    ]
}

fn env(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Every file under `dir`, read as bytes, contains `text` nowhere.
fn assert_nowhere(dir: &Path, text: &str) {
    for entry in walk(dir) {
        let bytes = fs::read(&entry).unwrap_or_default();
        let found = bytes.windows(text.len()).any(|w| w == text.as_bytes());
        assert!(!found, "{text} found in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.is_dir() && !path.is_symlink() {
            true => files.extend(walk(&path)),
            false => files.push(path),
        }
    }
    files
}

#[test]
fn a_fresh_clone_fetches_the_bundle_and_a_corrupted_blob_is_never_shipped() {
    let server = Server::start();
    let a = pinned_app();
    let url = server.url();
    let built = a
        .pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &url)])
        .success();
    assert!(
        built.stderr.contains("remote cache: "),
        "{}",
        built.describe()
    );
    let bundle = a.path("dist/uvapp.pex");
    assert!(server.requests("PUT") >= 4, "blobs and entries uploaded");

    // Machine B: a fresh copy, fresh HOME and caches, credentials in the URL.
    let b = pinned_app();
    let scratch = tempfile::tempdir().unwrap();
    let machine = fresh_machine(scratch.path());
    let secret_url = format!("http://alice:{PASSWORD}@127.0.0.1:{}/", server.port);
    let mut b_env = env(&machine);
    b_env.push(("PYBUILD_REMOTE_CACHE", &secret_url));
    let start = Instant::now();
    let fetched = b.pybuild_with_env(&["bundle"], &b_env).success();
    let took = start.elapsed();
    assert!(
        fetched.stderr.contains("bundle   fetched"),
        "{}",
        fetched.describe()
    );
    assert!(took < Duration::from_secs(3), "fetched in {took:?}");
    assert!(
        !b.path(".venv").exists(),
        "no venv is made for a fetched bundle"
    );
    assert_eq!(
        fs::read(b.path("dist/uvapp.pex")).unwrap(),
        fs::read(&bundle).unwrap()
    );
    assert_eq!(
        b.exec("dist/uvapp.pex", &[]).success().stdout,
        a.exec("dist/uvapp.pex", &[]).success().stdout
    );
    let status = b.pybuild_with_env(&["status"], &b_env).success();
    assert!(
        status.stdout.contains("bundle   fresh"),
        "{}",
        status.describe()
    );
    let again = b.pybuild_with_env(&["bundle"], &b_env).success();
    assert!(
        again.stderr.contains("bundle   fresh"),
        "{}",
        again.describe()
    );
    for run in [&fetched, &status, &again] {
        assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD));
    }
    assert_nowhere(&b.path(".pybuild"), PASSWORD);

    // Machine C, read-only, with the bundle's blob corrupted on the server: detected, not
    // shipped; the dependencies PEX still comes from the server, the code layer is built
    // here, and the bundle is the same bytes as A's. Its length changed, so its
    // Content-Length gives it away (one of the same length: `hostile_cache`).
    fs::write(server.blob(&sha256(&bundle)), b"not the bundle").unwrap();
    let refused = format!(
        "the blob {} comes with a Content-Length of 14 bytes",
        sha256(&bundle)
    );
    let puts = server.requests("PUT");
    let c = pinned_app();
    let scratch = tempfile::tempdir().unwrap();
    let machine = fresh_machine(scratch.path());
    let mut c_env = env(&machine);
    c_env.extend([
        ("PYBUILD_REMOTE_CACHE", url.as_str()),
        ("PYBUILD_REMOTE_CACHE_READ_ONLY", "1"),
    ]);
    let built_here = c.pybuild_with_env(&["-v", "bundle"], &c_env).success();
    assert!(
        built_here.stderr.contains(&refused),
        "{}",
        built_here.describe()
    );
    // Under the early key, then under the late one (the same bytes, whatever the checkout).
    assert_eq!(
        built_here.stderr.matches(&refused).count(),
        2,
        "{}",
        built_here.describe()
    );
    assert!(built_here.step_ran("venv") && built_here.step_ran("bundle"));
    assert!(
        built_here.stderr.contains("fetched from the remote cache"),
        "the dependencies PEX is fetched\n{}",
        built_here.describe()
    );
    assert_eq!(
        fs::read(c.path("dist/uvapp.pex")).unwrap(),
        fs::read(&bundle).unwrap()
    );
    assert_eq!(
        server.requests("PUT"),
        puts,
        "a read-only client never uploads"
    );
}

#[test]
fn a_server_down_before_or_during_a_build_costs_a_warning() {
    let mut server = Server::start();
    let url = server.url();
    server.stop();
    let project = pinned_app();
    let down = project
        .pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &url)])
        .success();
    assert!(
        down.stderr.contains("remote cache unusable"),
        "{}",
        down.describe()
    );
    assert_eq!(
        down.stderr.matches("warning:").count(),
        1,
        "{}",
        down.describe()
    );

    // Up when the build starts, gone while the bundle builds.
    server.resume();
    project.write("src/uvapp/cli.py", "def main():\n    print('edited')\n");
    let child = project.spawn_pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &url)]);
    project.wait_until("the bundle step runs", || {
        fs::read_dir(project.path(".pybuild/tmp")).is_ok_and(|mut d| d.next().is_some())
    });
    server.stop();
    let run = finish(child).success();
    assert!(
        run.stderr.contains("warning: remote cache"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/uvapp.pex", &[]).success().stdout,
        "edited\n"
    );
}
