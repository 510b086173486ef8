//! Hardening: every value checked where it is loaded, every file read bounded, and
//! read-only commands that never need to write.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::support::{Project, Run, SAMPLE_CONFIG};

#[test]
fn values_that_cannot_be_used_are_refused_at_their_place_when_loaded() {
    let cases = [
        (
            "[tasks.t]\nrun = \"echo\"\ncwd = \"a\\u0000b\"\n",
            "9:7",
            "NUL",
        ),
        (
            "[tasks.t]\nrun = \"echo\"\nenv = { A = \"x\\ny\" }\n",
            "9:13",
            "one line",
        ),
        ("[deploy.marathon]\ncpus = nan\n", "8:8", "above 0"),
        ("[image]\nport = 0\n", "8:8", "not 0"),
        ("[image]\npython = \"\"\n", "8:10", "image.python"),
        (
            "[tasks.t]\nrun = \"echo\"\nenv = { \"A=B\" = \"x\" }\n",
            "9:9",
            "A=B",
        ),
        ("[tasks.t]\nrun = \"\"\n", "8:7", "empty"),
        (
            "[image]\nname = \"../../evil\"\n",
            "8:8",
            "cannot name an image",
        ),
        (
            "[deploy.kubernetes]\nname = \"Greeter_App\"\n",
            "8:8",
            "DNS label",
        ),
        (
            "[deploy.kubernetes.labels]\ntier = \"web\\u2028x\"\n",
            "8:8",
            "label value",
        ),
        (
            "[deploy.marathon]\nid = \"/team/app\\u0085\"\n",
            "8:6",
            "Marathon id",
        ),
        (
            "[deploy.marathon.labels]\nx = \"a\\u007fb\"\n",
            "8:5",
            "control character",
        ),
        (
            "[deploy.spark.conf]\n\"spark.app.name=x\" = \"y\"\n",
            "8:1",
            "Spark property",
        ),
    ];
    for (section, place, what) in cases {
        let project =
            Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}\n{section}"));
        let run = project.pybuild(&["bundle"]).failure(2);
        assert!(
            run.stderr.contains(&format!("project.toml:{place}: ")) && run.stderr.contains(what),
            "{section}: {}",
            run.describe()
        );
        assert!(
            !project.path(".venv").exists(),
            "{section}: a step ran before the mistake was found"
        );
    }
}

/// Runs `pybuild ARGS` unable to write what file modes forbid, as root too: root's
/// capabilities that override file modes are dropped.
fn pybuild_bound_by_modes(project: &Project, args: &[&str]) -> Run {
    let as_root = fs::metadata("/proc/self").unwrap().uid() == 0;
    let wrapper: &[&str] = if as_root {
        &[
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search,-fowner",
            "--",
        ]
    } else {
        &["env"]
    };
    project.pybuild_wrapped(wrapper, args)
}

/// Makes `path` and everything under it read-only.
fn make_read_only(path: &Path) {
    let status = Command::new("chmod")
        .arg("-R")
        .arg("a-w")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn status_answers_from_a_read_only_state_with_the_right_exit_code() {
    let project = Project::sample();
    project.pybuild(&["setup"]).success();
    // A new input: the stat cache learns its hash, which status used to save.
    project.write("src/greeter/extra.py", "X = 1\n");
    make_read_only(&project.path(".pybuild"));
    let before = snapshot(&project.path(".pybuild"));

    let run = pybuild_bound_by_modes(&project, &["status", "--exit-code", "setup"]).success();
    assert!(run.stdout.contains("develop  fresh"), "{}", run.describe());
    assert!(!run.stderr.contains("error"), "{}", run.describe());
    let run = pybuild_bound_by_modes(&project, &["status", "--exit-code"]).failure(1);
    assert!(run.stdout.contains("bundle   stale"), "{}", run.describe());
    assert!(!run.stderr.contains("error"), "{}", run.describe());
    let run = pybuild_bound_by_modes(&project, &["status", "--json"]).success();
    assert!(
        run.stdout.contains("\"fresh\": false"),
        "{}",
        run.describe()
    );
    assert_eq!(snapshot(&project.path(".pybuild")), before, "status wrote");
    make_writable(&project.path(".pybuild"));
}

fn make_writable(path: &Path) {
    let status = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every path under `dir` with its size and mtime.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        out.push(format!(
            "{} {} {:?}",
            path.display(),
            meta.len(),
            meta.modified().unwrap()
        ));
        if meta.is_dir() {
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_venv_interpreter_replaced_by_another_file_is_damage() {
    let project = Project::sample();
    project.pybuild(&["setup"]).success();
    let python = project.path(".venv/bin/python");
    fs::remove_file(&python).unwrap();
    fs::write(&python, "not an interpreter\n").unwrap();
    fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();

    let run = project
        .pybuild(&["status", "--exit-code", "setup"])
        .failure(1);
    assert!(
        run.stdout.contains("venv     stale")
            && run.stdout.contains("not the one the venv was made with"),
        "{}",
        run.describe()
    );
    let run = project.pybuild(&["setup"]).success();
    assert!(run.step_ran("venv"), "{}", run.describe());
    project
        .exec(".venv/bin/python", &["-c", "import greeter"])
        .success();
    // Made again, it is fresh: no rebuild on every run.
    let run = project
        .pybuild(&["status", "--exit-code", "setup"])
        .success();
    assert!(run.stdout.contains("venv     fresh"), "{}", run.describe());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn an_oci_archive_whose_blob_is_a_link_is_refused_not_followed() {
    let project = Project::sample();
    // A base of no layers whose config blob is a link to a file outside the archive (with
    // the right content: read through the link, it would pass every digest check).
    let config = br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let outside = project.root.with_extension("outside.json");
    fs::write(&outside, config).unwrap();
    let config_hex = sha256_hex(config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{config_hex}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    let manifest_hex = sha256_hex(manifest.as_bytes());
    let base = project.root.with_extension("base");
    fs::create_dir_all(base.join("blobs/sha256")).unwrap();
    fs::write(base.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(
        base.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{manifest_hex}","size":{}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    fs::write(base.join("blobs/sha256").join(&manifest_hex), &manifest).unwrap();
    std::os::unix::fs::symlink(&outside, base.join("blobs/sha256").join(&config_hex)).unwrap();
    let status = Command::new("tar")
        .arg("-cf")
        .arg(project.path("base.tar"))
        .arg("-C")
        .arg(&base)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[image]\nbase = \"oci-archive:base.tar\"\n"),
    );

    let run = project.pybuild(&["image"]).failure(2);
    assert!(
        run.stderr.contains(&format!(
            "holds `./blobs/sha256/{config_hex}`, which is no file or folder"
        )),
        "{}",
        run.describe()
    );
    assert!(!project.path("dist/greeter.oci").exists());
}

#[test]
fn a_ten_thousand_deep_directory_costs_a_warning_not_every_command() {
    use rustix::fs::{CWD, Mode, OFlags, mkdirat, openat};
    let project = Project::sample();
    // Made relative to each folder's handle: its full path is past what the system takes.
    let mut dir = openat(CWD, &project.root, OFlags::DIRECTORY, Mode::empty()).unwrap();
    for name in std::iter::once("deep").chain(std::iter::repeat_n("d", 10_000)) {
        mkdirat(&dir, name, Mode::from_bits_truncate(0o755)).unwrap();
        dir = openat(&dir, name, OFlags::DIRECTORY, Mode::empty()).unwrap();
    }
    drop(dir);

    let run = project.pybuild(&["setup"]).success();
    let warning = format!(
        "warning: deep{} is left out of the inputs: it is 257 folders deep",
        "/d".repeat(256)
    );
    assert!(run.stderr.contains(&warning), "{}", run.describe());
    let run = project
        .pybuild(&["status", "--exit-code", "setup"])
        .success();
    assert!(run.stderr.contains(&warning), "{}", run.describe());
    project.pybuild(&["clean", "--dry-run"]).success();
    // `rm` walks it relative to each folder, as the tempdir's removal may not.
    let status = Command::new("rm")
        .arg("-rf")
        .arg(project.path("deep"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_large_input_file_is_bundled_and_imaged_in_bounded_memory() {
    let project = Project::sample();
    project.write(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\n",
            crate::containers::base_reference()
        ),
    );
    // Sparse: half a GiB that costs no disk.
    let data = fs::File::create(project.path("src/greeter/big.dat")).unwrap();
    data.set_len(512 << 20).unwrap();
    drop(data);
    // GNU time reports the peak resident set of pybuild, or of the largest program it ran
    // (a Python process: tens of MB).
    let run = project
        .pybuild_wrapped(&["/usr/bin/time", "-f", "peak-rss-kb %M", "--"], &["image"])
        .success();
    let peak_kb: u64 = run
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("peak-rss-kb "))
        .and_then(|kb| kb.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak reported\n{}", run.describe()));
    assert!(
        peak_kb < 200 * 1024,
        "pybuild's peak RSS was {peak_kb} KiB with a 512 MiB input\n{}",
        run.describe()
    );
    assert!(run.step_ran("image"), "{}", run.describe());
}
