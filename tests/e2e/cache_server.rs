//! What the remote cache's tests share: Debian's nginx with WebDAV `PUT` on a loopback
//! port, started by each test in the foreground and killed at its end; a fresh machine's
//! environment; a project whose bundle has an early key.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, fetched_uv, free_port, settled_log};

const NGINX: &str = "/usr/sbin/nginx";
pub const PASSWORD: &str = "S3cretPw-never-shown";

/// A project whose bundle's early key exists: a `uv.lock` and pex pinned.
pub fn pinned_app() -> Project {
    Project::fixture("uv-app").with_file(
        "project.toml",
        "[project]\nname = \"uvapp\"\n\n[env]\ntools = [\"pex==2.105.2\"]\n",
    )
}

pub struct Server {
    dir: tempfile::TempDir,
    pub port: u16,
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
        let port = free_port();
        let mut server = Server {
            dir,
            port,
            child: None,
        };
        server.resume();
        server
    }

    /// Starts nginx (again) on the same port and files.
    pub fn resume(&mut self) {
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

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self, method: &str) -> usize {
        // nginx logs a request once it has answered it (see `settled_log`).
        let log = settled_log(&self.dir.path().join("access.log"));
        log.lines()
            .filter(|l| l.contains(&format!("\"{method} ")))
            .count()
    }

    /// The requests of `method` to paths under `prefix` (`/cas/`, `/ac/`).
    pub fn requests_to(&self, method: &str, prefix: &str) -> usize {
        let log = settled_log(&self.dir.path().join("access.log"));
        log.lines()
            .filter(|l| l.contains(&format!("\"{method} {prefix}")))
            .count()
    }

    pub fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.path().join("data/cas").join(sha256)
    }

    /// The action-cache entries on the server.
    pub fn entries(&self) -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = fs::read_dir(self.dir.path().join("data/ac"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        entries.sort();
        entries
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Empty caches and a fresh `HOME` for machine B, under `dir`; pybuild's own uv on PATH
/// (a new machine has one uv or the other; fetching it is no part of these tests).
pub fn fresh_machine(dir: &Path) -> Vec<(String, String)> {
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

pub fn env(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
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
pub fn assert_nowhere(dir: &Path, text: &str) {
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

/// `pybuild cache keygen NAME` into `dir/NAME.key`: the key file and the public key printed.
pub fn keygen(project: &Project, dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{name}.key"));
    let run = project
        .pybuild(&["cache", "keygen", name, "--out", file.to_str().unwrap()])
        .success();
    (file, run.stdout.trim().to_string())
}
