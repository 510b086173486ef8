//! What the image, deploy and Spark tests share, made once per machine under the shared
//! cache and reused by every test and run: a Debian base image with Python
//! (`mmdebstrap`, then `umoci`), a venv with the descriptors' validators, one with pyspark;
//! and running an image with `umoci unpack` + `runc run`.
//!
//! Each is made in a folder of its own and renamed into place whole, under a lock of this
//! test process (the tests run on threads), so a killed run leaves nothing half-made; a
//! process that finds another's already in place keeps that one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Run, cache_dir};

/// The base's tag in its layout.
pub const BASE_TAG: &str = "bookworm";

static MAKING: Mutex<()> = Mutex::new(());

/// Runs a program, panicking with its output when it fails.
#[track_caller]
pub fn run(program: &str, args: &[&str], dir: Option<&Path>) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let run = Run::from(
        command
            .output()
            .unwrap_or_else(|err| panic!("cannot start {program}: {err} (.ci/run installs it)")),
    );
    assert_eq!(
        run.code,
        0,
        "{program} {}\n{}",
        args.join(" "),
        run.describe()
    );
    run
}

/// `path` made by `make(temp)` once: made in a temp folder beside it, renamed into place.
fn made_once(path: &Path, make: impl FnOnce(&Path)) -> PathBuf {
    let _guard = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path.to_path_buf();
    }
    let parent = path.parent().unwrap();
    fs::create_dir_all(parent).unwrap();
    let temp = tempfile::Builder::new()
        .prefix(".making-")
        .tempdir_in(parent)
        .unwrap();
    make(temp.path());
    // Another test process (a runner that starts one per test) may have made it first.
    if let Err(err) = fs::rename(temp.path().join("done"), path) {
        assert!(
            path.exists(),
            "cannot put {} in place: {err}",
            path.display()
        );
    }
    path.to_path_buf()
}

/// An OCI layout of Debian bookworm with Python 3.11 from Debian's packages alone, tagged
/// [`BASE_TAG`]; as `oci:PATH:TAG` in `[image] base`.
pub fn base_image() -> PathBuf {
    made_once(&cache_dir().join("images/bookworm-python"), |temp| {
        let rootfs = temp.join("rootfs.tar");
        let status = Command::new("mmdebstrap")
            .args([
                "--quiet",
                "--variant=essential",
                "--include=python3-minimal,libpython3.11-stdlib",
                "--mode=root",
                "bookworm",
            ])
            .arg(&rootfs)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .status()
            .expect("mmdebstrap makes the base image: `apt-get install mmdebstrap` (.ci/run does)");
        assert!(status.success(), "mmdebstrap failed");
        let layout = temp.join("done");
        let image = format!("{}:{BASE_TAG}", layout.display());
        run(
            "umoci",
            &["init", "--layout", layout.to_str().unwrap()],
            None,
        );
        run("umoci", &["new", "--image", &image], None);
        run(
            "umoci",
            &[
                "raw",
                "add-layer",
                "--image",
                &image,
                rootfs.to_str().unwrap(),
            ],
            None,
        );
        run(
            "umoci",
            &[
                "config",
                "--image",
                &image,
                "--config.env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ],
            None,
        );
        run("umoci", &["gc", "--layout", layout.to_str().unwrap()], None);
    })
}

/// `[image] base` for [`base_image`].
pub fn base_reference() -> String {
    format!("oci:{}:{BASE_TAG}", base_image().display())
}

/// A venv under the shared cache with `packages` installed from the index. It is made
/// elsewhere and moved: run its programs through its `bin/python` (`-m`), not through
/// scripts whose shebangs name where it was made.
pub fn tool_venv(name: &str, packages: &[&str]) -> PathBuf {
    made_once(&cache_dir().join("venvs").join(name), |temp| {
        let venv = temp.join("done");
        run("python3", &["-m", "venv", venv.to_str().unwrap()], None);
        let pip = venv.join("bin/pip");
        let status = Command::new(pip)
            .args(["install", "-q"])
            .args(packages)
            .env("PIP_CACHE_DIR", cache_dir().join("pip"))
            .status()
            .unwrap();
        assert!(status.success(), "pip install {packages:?} failed");
    })
}

/// A unique container id for this process.
fn container_id() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "pybuild-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An image unpacked into a runtime bundle, ready for `runc run`.
pub struct Container {
    pub bundle: PathBuf,
}

impl Container {
    /// `umoci unpack` of `image` (`DIR:TAG`) into `dir`, with `volume` mounted on the
    /// image's `PEX_ROOT`, no terminal, and the host's network (to reach its port).
    pub fn unpack(image: &str, dir: &Path, volume: &Path) -> Container {
        let bundle = dir.join("bundle");
        run(
            "umoci",
            &["unpack", "--image", image, bundle.to_str().unwrap()],
            None,
        );
        let path = bundle.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = false.into();
        let env = config["process"]["env"].as_array().unwrap().clone();
        let pex_root = env
            .iter()
            .find_map(|v| v.as_str()?.strip_prefix("PEX_ROOT="))
            .expect("the image sets PEX_ROOT")
            .to_string();
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != pex_root.as_str());
        mounts.push(serde_json::json!({
            "destination": pex_root,
            "type": "bind",
            "source": volume,
            "options": ["rbind", "rw"],
        }));
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|n| n["type"] != "network");
        fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        Container { bundle }
    }

    /// Runs the image's entrypoint to its end.
    pub fn run(&self) -> Run {
        self.run_process(None)
    }

    /// Runs `args` instead of the entrypoint, as the image's user, to its end.
    pub fn run_args(&self, args: &[&str]) -> Run {
        self.run_process(Some(args))
    }

    /// The process the bundle's config.json says as the image's user.
    pub fn user(&self) -> serde_json::Value {
        let config: serde_json::Value =
            serde_json::from_slice(&fs::read(self.bundle.join("config.json")).unwrap()).unwrap();
        config["process"]["user"].clone()
    }

    fn run_process(&self, args: Option<&[&str]>) -> Run {
        let bundle = match args {
            None => self.bundle.clone(),
            Some(args) => {
                // A config of its own beside the bundle's, naming the same rootfs.
                let other = self.bundle.with_extension(container_id());
                fs::create_dir(&other).unwrap();
                let path = self.bundle.join("config.json");
                let mut config: serde_json::Value =
                    serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
                config["process"]["args"] = serde_json::json!(args);
                config["root"]["path"] = self.bundle.join("rootfs").to_str().unwrap().into();
                fs::write(
                    other.join("config.json"),
                    serde_json::to_vec(&config).unwrap(),
                )
                .unwrap();
                other
            }
        };
        let id = container_id();
        let output = Command::new("runc")
            .args(["run", "--bundle", bundle.to_str().unwrap(), &id])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let _ = Command::new("runc")
            .args(["delete", "--force", &id])
            .output();
        Run::from(output)
    }

    /// Starts the image's entrypoint in the background; [`Running`] ends it when dropped.
    pub fn spawn(&self) -> Running {
        let id = container_id();
        let child = Command::new("runc")
            .args(["run", "--bundle", self.bundle.to_str().unwrap(), &id])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Running { id, child }
    }
}

/// A container running in the background.
pub struct Running {
    id: String,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["kill", &self.id, "KILL"])
            .output();
        let _ = self.child.wait();
        let _ = Command::new("runc")
            .args(["delete", "--force", &self.id])
            .output();
    }
}

/// The digest of the manifest `tag` names in the layout at `dir`.
pub fn manifest_digest(dir: &Path, tag: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The manifest `tag` names in the layout at `dir`.
pub fn manifest(dir: &Path, tag: &str) -> serde_json::Value {
    let digest = manifest_digest(dir, tag);
    serde_json::from_slice(&fs::read(blob(dir, &digest)).unwrap()).unwrap()
}

/// The file of blob `digest` in the layout at `dir`.
pub fn blob(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// The layers' digests of the manifest `tag` names.
pub fn layer_digests(dir: &Path, tag: &str) -> Vec<String> {
    manifest(dir, tag)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}
