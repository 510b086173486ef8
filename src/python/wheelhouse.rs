//! The wheelhouse: a folder of wheels that lets a bundle be built with no network.
//!
//! Every resolve the bundle step does (a full PEX build from the project's wheel and its
//! build requirements such as setuptools and wheel; the layered PEX's dependencies come
//! from the venv itself) reads only from the wheelhouse
//! (`--no-pypi -f DIR`). When its requirements change, and only then, pybuild fills it first
//! with `pip wheel` from the package index. Wheels are named by distribution, version and
//! tags and never change under one name, so one folder serves every project of the user:
//! `$PYBUILD_CACHE_DIR/wheels`, else `$XDG_CACHE_HOME/pybuild/wheels`, else
//! `~/.cache/pybuild/wheels`. A fill writes into a folder of its own there,
//! `.incoming-<its pybuild>-<random>`, removed when the fill ends; a later fill removes those
//! that killed pybuilds left.
//!
//! Offline: with `--offline`, or when the index cannot be reached (a TCP connect to its
//! host, tried before filling), filling is skipped with a warning and the build uses what
//! the wheelhouse holds. When that is not enough, the error says so and names the index
//! (its credentials masked, see `redact`).

use std::ffi::OsString;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::args;
use crate::base::error::UserError;
use crate::base::process::{self, Identity, Liveness};
use crate::base::redact::redact;
use crate::python::build::Build;

const DEFAULT_INDEX: &str = "https://pypi.org/simple";
/// How the folders fills write into begin.
const INCOMING: &str = ".incoming-";
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Before a step uses the index: unless already offline, checks once that the index can be
/// reached, and goes offline with a warning when it cannot. Returns whether offline.
pub(crate) fn offline(cx: &Build) -> bool {
    let network = &cx.network;
    if network.is_offline() || !network.first_probe() {
        return network.is_offline();
    }
    let index = index_url(cx);
    if let Err(why) = probe(&index) {
        cx.printer.warn(&format!(
            "the package index {} cannot be reached ({why}): building offline from {}",
            redact(&index),
            dir().display()
        ));
        network.go_offline();
    }
    network.is_offline()
}

/// The user's wheelhouse folder.
pub(crate) fn dir() -> PathBuf {
    pybuild_cache_dir().join("wheels")
}

/// pybuild's cache, shared by the user's projects: `$PYBUILD_CACHE_DIR`, else `pybuild`
/// in the user's cache folder.
pub(crate) fn pybuild_cache_dir() -> PathBuf {
    std::env::var_os("PYBUILD_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| user_cache_dir().join("pybuild"))
}

/// The user's cache folder as pip and pex find it: `$XDG_CACHE_HOME`, else `~/.cache`.
pub(crate) fn user_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

/// pip's options for an install: when offline (see [`offline`]), the wheelhouse instead of
/// the index; nothing when online.
pub(crate) fn pip_args(cx: &Build) -> Vec<OsString> {
    if offline(cx) {
        args!["--no-index", "--find-links", dir()].to_vec()
    } else {
        Vec::new()
    }
}

/// pex's options that make it resolve from the wheelhouse alone.
pub(crate) fn pex_args() -> Vec<OsString> {
    args!["--no-pypi", "-f", dir()].to_vec()
}

/// Puts wheels of each group of requirements (and all they depend on) into the wheelhouse
/// with the venv's pip, unless offline; one `pip wheel` per group, as groups meant for
/// different environments may pin the same project differently. Going offline (the
/// index is unreachable) is not an error: the build then finds out whether the
/// wheelhouse is enough.
pub(crate) fn fill(cx: &Build, groups: &[Vec<String>]) -> Result<()> {
    if offline(cx) {
        cx.printer
            .detail("offline: using the wheelhouse as it is, without the package index");
        return Ok(());
    }
    let wheels = dir();
    std::fs::create_dir_all(&wheels)
        .with_context(|| format!("cannot create {}", wheels.display()))?;
    // pip writes wheels in place; another pybuild may be reading the wheelhouse, so they
    // land in a folder of this fill's own and are renamed in, each whole.
    let folder = incoming_folder(&wheels)?;
    let incoming = folder.path();
    let pip_wheel = |requirements: &Vec<String>| {
        let mut argv = args![
            "-m",
            "pip",
            "wheel",
            "--wheel-dir",
            &incoming,
            "-f",
            &wheels
        ]
        .to_vec();
        argv.extend(requirements.iter().map(Into::into));
        cx.runner.run(cx.project.venv_python(), &argv)
    };
    // `folder` is removed after, whatever happened.
    groups
        .iter()
        .filter(|group| !group.is_empty())
        .try_for_each(pip_wheel)
        .context("cannot fill the wheelhouse from the package index")
        .and_then(|()| move_wheels(incoming, &wheels))
}

/// A new folder in the shared `dir` for work that is renamed into place once whole (a
/// fill's wheels, a fetched uv), removed when dropped. Its name is new (a killed
/// pybuild's folder, holding half-written files, is never taken over) and says whose it
/// is, for [`sweep_incoming`], which first removes what killed pybuilds left in `dir`.
pub(crate) fn incoming_folder(dir: &Path) -> Result<tempfile::TempDir> {
    sweep_incoming(dir);
    let owner = Identity::current().map_or_else(String::new, |owner| format!("{owner}-"));
    tempfile::Builder::new()
        .prefix(&format!("{INCOMING}{owner}"))
        .tempdir_in(dir)
        .with_context(|| format!("cannot create a folder in {}", dir.display()))
}

/// Removes the folders of fills that will never finish: their pybuild is gone or, made on
/// another boot or machine sharing the cache (or by an older pybuild, which named them
/// `.incoming-PID`), untouched for a day. Another fill's live folder is left.
fn sweep_incoming(wheels: &Path) {
    let Ok(entries) = std::fs::read_dir(wheels) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|name| name.strip_prefix(INCOMING)) else {
            continue;
        };
        let owner = rest
            .rsplit_once('-')
            .and_then(|(owner, _random)| Identity::parse(owner));
        let stale = match owner.map(|owner| owner.liveness()) {
            Some(Liveness::Alive) => false,
            Some(Liveness::Gone) => true,
            Some(Liveness::Unknown) | None => process::untouched_for_long(&entry.path()),
        };
        if stale {
            // Another pybuild may be sweeping it too.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn move_wheels(from: &Path, to: &Path) -> Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
        let target = to.join(entry.file_name());
        std::fs::rename(entry.path(), &target)
            .with_context(|| format!("cannot move a wheel to {}", target.display()))?;
    }
    Ok(())
}

/// The hint for a build that failed while offline.
pub(crate) fn offline_failure(err: anyhow::Error, cx: &Build) -> anyhow::Error {
    if !cx.network.is_offline() {
        return err;
    }
    let hint = UserError::failure(format!(
        "building offline, and the wheelhouse {} may lack what this build needs",
        dir().display()
    ))
    .hint(format!(
        "run pybuild once with access to the package index ({}); after that, only a \
         requirement change or a new venv needs it again",
        redact(&index_url(cx))
    ));
    err.context(hint)
}

/// The index the installer would use: uv's when uv installs (see [`uv_index_url`]), else
/// pip's: `PIP_INDEX_URL`, else `index-url` in pip's configuration files (read here:
/// running `pip config` would cost a Python start-up), else PyPI.
fn index_url(cx: &Build) -> String {
    if cx.project.config.env.installer != crate::base::config::Installer::Pip
        && let Some(url) = uv_index_url(&cx.project.root)
    {
        return url;
    }
    if let Ok(url) = std::env::var("PIP_INDEX_URL") {
        return url;
    }
    pip_config_files(&cx.project.venv())
        .iter()
        .rev()
        .find_map(|file| {
            let text = std::fs::read_to_string(file).ok()?;
            configured_index(&text)
        })
        .unwrap_or_else(|| DEFAULT_INDEX.to_string())
}

/// The default index uv would use, when anything sets one: `UV_DEFAULT_INDEX` or
/// `UV_INDEX_URL`, else the project's `uv.toml` or `pyproject.toml` (`[tool.uv]`), else the
/// user's and the system's `uv.toml`; in each, `index-url` or the `[[index]]` marked
/// `default = true`. (pip's settings, which uv ignores, come after.)
fn uv_index_url(root: &Path) -> Option<String> {
    for name in ["UV_DEFAULT_INDEX", "UV_INDEX_URL"] {
        if let Some(url) = std::env::var(name).ok().filter(|url| !url.is_empty()) {
            return Some(url);
        }
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")));
    let mut files = vec![
        (root.join("uv.toml"), false),
        (root.join("pyproject.toml"), true),
    ];
    files.extend(config.map(|dir| (dir.join("uv/uv.toml"), false)));
    files.push((PathBuf::from("/etc/uv/uv.toml"), false));
    files.into_iter().find_map(|(file, in_pyproject)| {
        let text = std::fs::read_to_string(file).ok()?;
        let mut table: toml::Table = toml::from_str(&text).ok()?;
        if in_pyproject {
            let tool = table.remove("tool")?;
            table = tool.get("uv")?.as_table()?.clone();
        }
        uv_configured_index(&table)
    })
}

/// `index-url`, or the url of the `[[index]]` with `default = true`, in uv's settings.
fn uv_configured_index(settings: &toml::Table) -> Option<String> {
    if let Some(url) = settings.get("index-url").and_then(|v| v.as_str()) {
        return Some(url.to_string());
    }
    settings
        .get("index")?
        .as_array()?
        .iter()
        .find(|index| index.get("default").and_then(|d| d.as_bool()) == Some(true))?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

/// pip's configuration files, lowest priority first (pip's `config` documentation).
fn pip_config_files(venv: &Path) -> Vec<PathBuf> {
    if let Some(file) = std::env::var_os("PIP_CONFIG_FILE") {
        return vec![PathBuf::from(file)];
    }
    let mut files = vec![
        PathBuf::from("/etc/xdg/pip/pip.conf"),
        "/etc/pip.conf".into(),
    ];
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        files.push(home.join(".pip/pip.conf"));
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        files.push(config.join("pip/pip.conf"));
    }
    files.push(venv.join("pip.conf"));
    files
}

/// `index-url` of the `[global]` or `[install]` section of a pip configuration file.
fn configured_index(text: &str) -> Option<String> {
    let mut section = String::new();
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
        } else if let Some((key, value)) = line.split_once(['=', ':'])
            && key.trim().replace('_', "-") == "index-url"
            && (section == "global" || section == "install")
        {
            found = Some(value.trim().to_string());
        }
    }
    found
}

/// Whether a TCP connection to the index's host can be opened.
fn probe(url: &str) -> Result<(), String> {
    let (host, port) =
        host_port(url).ok_or_else(|| format!("cannot read the URL {}", redact(url)))?;
    let addrs = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {host}: {err}"))?;
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(err) => last = format!("{addr}: {err}"),
        }
    }
    Err(last)
}

/// `scheme://[user@]host[:port]/...` → (host, port).
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, rest) = bracketed.split_once(']')?;
        let port = rest
            .strip_prefix(':')
            .map_or(Some(default_port), |p| p.parse().ok())?;
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((authority.to_string(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_index_urls() {
        assert_eq!(
            host_port("https://pypi.org/simple"),
            Some(("pypi.org".into(), 443))
        );
        assert_eq!(
            host_port("http://user:pw@127.0.0.1:9/simple/"),
            Some(("127.0.0.1".into(), 9))
        );
        assert_eq!(host_port("http://[::1]:8080"), Some(("::1".into(), 8080)));
        assert_eq!(host_port("file:///srv/wheels"), None);
    }

    #[test]
    fn index_from_uv_settings() {
        let settings = |text: &str| uv_configured_index(&toml::from_str(text).unwrap());
        assert_eq!(
            settings("index-url = \"https://a.example/simple\"\n").as_deref(),
            Some("https://a.example/simple")
        );
        assert_eq!(
            settings(
                "[[index]]\nname = \"extra\"\nurl = \"https://x.example/simple\"\n\n\
                 [[index]]\nurl = \"https://b.example/simple\"\ndefault = true\n"
            )
            .as_deref(),
            Some("https://b.example/simple")
        );
        assert_eq!(settings("[[index]]\nurl = \"https://x.example\"\n"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"a\"\n[tool.uv]\nindex-url = \"https://c.example/simple\"\n",
        )
        .unwrap();
        if std::env::var_os("UV_DEFAULT_INDEX").is_none()
            && std::env::var_os("UV_INDEX_URL").is_none()
        {
            assert_eq!(
                uv_index_url(dir.path()).as_deref(),
                Some("https://c.example/simple")
            );
        }
    }

    #[test]
    fn index_from_pip_config() {
        let conf = "[global]\ntimeout = 60\nindex-url = https://mirror.example/simple\n";
        assert_eq!(
            configured_index(conf).as_deref(),
            Some("https://mirror.example/simple")
        );
        assert_eq!(configured_index("[freeze]\nindex-url = x\n"), None);
        assert_eq!(configured_index("[global]\ntimeout = 60\n"), None);
    }

    #[test]
    fn only_abandoned_fills_are_swept() {
        let wheels = tempfile::tempdir().unwrap();
        let me = Identity::current().unwrap().to_string();
        // This process's pid with another start: a pybuild that is gone.
        let (pid, start) = me.rsplit_once('-').unwrap();
        let gone = format!("{pid}-{}", start.parse::<u64>().unwrap() + 1);
        let day_ago = filetime::FileTime::from_unix_time(
            filetime::FileTime::now().unix_seconds() - 25 * 60 * 60,
            0,
        );
        let folders = [
            (format!(".incoming-{me}-a1B2c3"), false, true),
            (format!(".incoming-{gone}-a1B2c3"), false, false),
            (".incoming-00000000-1-1-a1B2c3".to_string(), true, false),
            (".incoming-00000000-1-1-d4E5f6".to_string(), false, true),
            (".incoming-4242".to_string(), true, false),
            (".incoming-4243".to_string(), false, true),
            ("six-1.17.0-py2.py3-none-any.whl".to_string(), true, true),
        ];
        for (name, old, _) in &folders {
            let path = wheels.path().join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::write(path.join("half.whl"), "x").unwrap();
            if *old {
                filetime::set_file_mtime(&path, day_ago).unwrap();
            }
        }
        sweep_incoming(wheels.path());
        for (name, _, kept) in &folders {
            assert_eq!(wheels.path().join(name).exists(), *kept, "{name}");
        }
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        // Port 9 (discard) is closed on a test machine; the connection is refused at once.
        assert!(probe("http://127.0.0.1:9/simple").is_err());
    }
}
