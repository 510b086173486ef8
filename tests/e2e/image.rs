//! `pybuild image`: an OCI image of the bundle that skopeo accepts and runc runs, from a
//! Debian base made once (see `containers.rs`). On the sample: the app's output in the
//! container, run as the non-root user from the venv in the image (no start writes to
//! the `PEX_ROOT` volume), the base named by digest in the manifest, an edit changing
//! only the code layer, the same bytes from a rebuild, a damaged blob refused by
//! skopeo and repaired by the next build; the user's mistakes named. On a falcon +
//! gunicorn app: its image serves HTTP on the port `[image]` gives.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::Digest as _;

use crate::bundle::GREETING;
use crate::containers::{self, BASE_TAG, Container, base_image, base_reference, layer_digests};
use crate::support::{Project, SAMPLE_CONFIG, free_port};

fn skopeo_inspect(project: &Project, image: &str) -> crate::support::Run {
    project.run_program(Path::new("/usr/bin/skopeo"), &["inspect", image])
}

/// Every path under `dir`: what a run left in a volume.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
            files.push(entry.path().display().to_string());
        }
    }
    files.sort();
    files
}

#[test]
fn the_sample_ships_as_an_image_that_runs_and_rebuilds_only_its_code() {
    let config = format!(
        "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\nport = 8000\narchive = true\n\
         env = {{ GREETING_STYLE = \"plain\" }}\nlabels = {{ team = \"web\" }}\n",
        base_reference()
    );
    let project = Project::sample().with_file("project.toml", &config);
    let run = project.pybuild(&["image"]).success();
    assert!(
        run.stderr.contains("→ dist/greeter.oci"),
        "{}",
        run.describe()
    );
    let layout = project.path("dist/greeter.oci");

    // skopeo reads it, under both tags, with the config project.toml asked for.
    let inspect = skopeo_inspect(&project, &format!("oci:{}:1.2.3", layout.display())).success();
    let inspected: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(
        inspected["Layers"].as_array().unwrap().len(),
        3,
        "{inspected}"
    );
    assert_eq!(inspected["Labels"]["team"], "web");
    assert_eq!(
        inspected["Labels"]["org.opencontainers.image.version"],
        "1.2.3"
    );
    let env: Vec<&str> = (inspected["Env"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"PEX_ROOT=/pex_root"), "{env:?}");
    assert!(env.contains(&"GREETING_STYLE=plain"), "{env:?}");
    let latest = skopeo_inspect(&project, &format!("oci:{}:latest", layout.display())).success();
    let latest: serde_json::Value = serde_json::from_str(&latest.stdout).unwrap();
    assert_eq!(latest["Digest"], inspected["Digest"]);
    // The base by the reference given and by its manifest's digest.
    let annotations = &containers::manifest(&layout, "latest")["annotations"];
    assert_eq!(
        annotations["org.opencontainers.image.base.name"],
        base_reference().as_str(),
        "{annotations}"
    );
    assert_eq!(
        annotations["org.opencontainers.image.base.digest"],
        containers::manifest_digest(&base_image(), BASE_TAG).as_str(),
        "{annotations}"
    );
    let archive = project.path("dist/greeter.oci.tar");
    skopeo_inspect(
        &project,
        &format!("oci-archive:{}:latest", archive.display()),
    )
    .success();

    // It runs the app, as uid 65532, from the venv in the image: neither the first start
    // nor the second writes to the PEX_ROOT volume (a PEX would unpack its venv there).
    let work = tempfile::tempdir().unwrap();
    let volume = work.path().join("pex-root");
    fs::create_dir(&volume).unwrap();
    let image = format!("{}:1.2.3", layout.display());
    let container = Container::unpack(&image, work.path(), &volume);
    assert_eq!(
        container.user(),
        serde_json::json!({"uid": 65532, "gid": 65532})
    );
    let start = Instant::now();
    let first = container.run();
    let first_time = start.elapsed();
    assert_eq!(first.stdout, GREETING, "{}", first.describe());
    assert_eq!(
        snapshot(&volume),
        Vec::<String>::new(),
        "the first start wrote into PEX_ROOT: the venv is not in the image"
    );
    let start = Instant::now();
    let second = container.run();
    let second_time = start.elapsed();
    assert_eq!(second.stdout, GREETING, "{}", second.describe());
    assert_eq!(snapshot(&volume), Vec::<String>::new());
    // The venv's modules, the project's and its dependencies', come from the pycs in the
    // image: Python compiles none at a start (as uid 65532, it could write none).
    let imports = container.run_args(&[
        "/app/venv/bin/python3.11",
        "-v",
        "-c",
        "import greeter.cli, six",
    ]);
    assert_eq!(imports.code, 0, "{}", imports.describe());
    for module in ["greeter/__pycache__/cli", "__pycache__/six"] {
        let cached = format!(
            "code object from '/app/venv/lib/python3.11/site-packages/{module}.cpython-311.pyc'"
        );
        assert!(imports.stderr.contains(&cached), "{}", imports.describe());
    }
    eprintln!("start-up in the container: first {first_time:?}, second {second_time:?}");
    // The user, and where it may write: its HOME and the temp folder.
    let id = container.run_args(&[
        "/bin/sh",
        "-c",
        "id -u && touch \"$HOME/x\" /tmp/x && echo writable",
    ]);
    assert_eq!(id.stdout, "65532\nwritable\n", "{}", id.describe());

    // Nothing changed: nothing runs.
    let run = project.pybuild(&["image"]).success();
    assert!(!run.step_ran("image"), "{}", run.describe());

    // An edit: only the code layer changes, and the dependencies layer kept under
    // `.pybuild/layers/` is reused, not written again (a rewrite is a new file, renamed in).
    let layers = layer_digests(&layout, "latest");
    let kept_layer = || -> Vec<(String, u64)> {
        let mut kept: Vec<(String, u64)> = fs::read_dir(project.path(".pybuild/layers"))
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("oci-deps-"))
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, entry.metadata().unwrap().ino())
            })
            .collect();
        kept.sort();
        kept
    };
    let before_edit = kept_layer();
    assert_eq!(before_edit.len(), 4, "{before_edit:?}"); // the blob, its record, their hashes
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    let run = project.pybuild(&["image"]).success();
    assert!(run.step_ran("image"), "{}", run.describe());
    assert_eq!(
        kept_layer(),
        before_edit,
        "the dependencies layer was written again\n{}",
        run.describe()
    );
    let edited = layer_digests(&layout, "latest");
    assert_eq!(
        edited[..2],
        layers[..2],
        "the base or dependencies layer changed"
    );
    assert_ne!(edited[2], layers[2], "the code layer did not change");

    // The same inputs, built again from nothing, in a later second and with other file
    // times: the same bytes. (A build that let the clock or a file's mtime into the image
    // would differ; two builds in the same second would hide the clock.)
    let index = fs::read_to_string(layout.join("index.json")).unwrap();
    let elsewhen = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    for dir in ["src", "dist"] {
        for file in snapshot(&project.path(dir)) {
            if Path::new(&file).is_file() {
                filetime::set_file_mtime(&file, elsewhen).unwrap();
            }
        }
    }
    let since_second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(since_second.subsec_nanos()) + 10_000_000,
    ));
    fs::remove_dir_all(&layout).unwrap();
    for entry in fs::read_dir(project.path(".pybuild/layers")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with("oci-deps-") {
            fs::remove_file(entry.path()).unwrap();
        }
    }
    let run = project.pybuild(&["image"]).success();
    assert!(run.step_ran("image"), "{}", run.describe());
    assert_eq!(
        fs::read_to_string(layout.join("index.json")).unwrap(),
        index,
        "the same inputs built another image"
    );

    // A damaged blob: skopeo refuses the image, and the next build repairs it. A damaged
    // layer, which skopeo does not read, is not taken from the image made last either.
    let deps_blob = containers::blob(&layout, &layer_digests(&layout, "latest")[1]);
    let mut bytes = fs::read(&deps_blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&deps_blob, bytes).unwrap();
    let config_digest = containers::manifest(&layout, "latest")["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let config_blob = containers::blob(&layout, &config_digest);
    let mut bytes = fs::read(&config_blob).unwrap();
    bytes[10] ^= 1;
    fs::write(&config_blob, bytes).unwrap();
    let refused = skopeo_inspect(&project, &format!("oci:{}:latest", layout.display()));
    assert_ne!(refused.code, 0, "{}", refused.describe());
    assert!(refused.stderr.contains("digest"), "{}", refused.describe());
    let run = project.pybuild(&["image"]).success();
    assert!(run.step_ran("image"), "{}", run.describe());
    skopeo_inspect(&project, &format!("oci:{}:latest", layout.display())).success();
    for digest in layer_digests(&layout, "latest") {
        let bytes = fs::read(containers::blob(&layout, &digest)).unwrap();
        let found: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            format!("sha256:{found}"),
            digest,
            "a damaged layer was kept"
        );
    }

    // The base named wrongly, or out of reach: said, naming the key, and the image kept.
    let with_base = |base: &str| format!("{SAMPLE_CONFIG}\n[image]\nbase = \"{base}\"\n");
    project.write("project.toml", &with_base("oci:no/such/layout:v1"));
    let run = project.pybuild(&["image"]).failure(2);
    assert!(
        run.stderr
            .contains("`[image] base = \"oci:no/such/layout:v1\"`"),
        "{}",
        run.describe()
    );
    project.write("project.toml", &with_base("docker://127.0.0.1:9/nothing:1"));
    let run = project.pybuild(&["image"]).failure(1);
    assert!(
        run.stderr
            .contains("cannot pull the base docker://127.0.0.1:9/nothing:1"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("skopeo copy"), "{}", run.describe());
    // Without skopeo on PATH (python3 kept: the interpreter is looked up there).
    let bin = work.path().join("bin");
    fs::create_dir(&bin).unwrap();
    for program in ["python3", "python3.11", "git"] {
        let target = Path::new("/usr/bin").join(program);
        if target.exists() {
            std::os::unix::fs::symlink(target, bin.join(program)).unwrap();
        }
    }
    let path = bin.to_str().unwrap();
    let run = project
        .pybuild_with_env(&["image"], &[("PATH", path)])
        .failure(2);
    assert!(
        run.stderr
            .contains("pulled with skopeo, which is not installed"),
        "{}",
        run.describe()
    );
    skopeo_inspect(&project, &format!("oci:{}:latest", layout.display())).success();
}

#[test]
fn mistakes_in_the_image_configuration_are_named_before_anything_runs() {
    let cases = [
        ("[image]\n", "does not say what the image starts from"),
        (
            "[image]\nbase = \"python:3.11\"\n",
            "`[image] base = \"python:3.11\"` in project.toml names no image",
        ),
        (
            "[image]\nbase = \"oci:x\"\n[bundle]\nkind = \"shiv\"\n",
            "`pybuild image` ships a PEX, and `[bundle] kind` is `shiv`",
        ),
        (
            "[image]\nbase = \"oci:x\"\nname = \"Not/Valid\"\n",
            "`Not/Valid` cannot name an image",
        ),
    ];
    let cases = cases.into_iter().chain([(
        "[image]\nbase = \"oci:x\"\nuser = 4294967295\n",
        "`image.user` must be a uid from 0 to 4294967294",
    )]);
    for (section, message) in cases {
        let project =
            Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}\n{section}"));
        let run = project.pybuild(&["image"]).failure(2);
        assert!(run.stderr.contains(message), "{}", run.describe());
        assert!(
            !project.path(".venv").exists(),
            "a step ran before the mistake was found"
        );
    }
}

#[test]
fn a_falcon_app_on_gunicorn_serves_http_from_its_image() {
    let port = free_port();
    let project = Project::fixture("falcon-app");
    let config = project
        .read("project.toml")
        .replace("8000", &port.to_string());
    let config = format!("{config}base = \"{}\"\n", base_reference());
    project.write("project.toml", &config);
    project.pybuild(&["image"]).success();
    let work = tempfile::tempdir().unwrap();
    let volume = work.path().join("pex-root");
    fs::create_dir(&volume).unwrap();
    let image = format!("{}:latest", project.path("dist/hello-falcon.oci").display());
    let container = Container::unpack(&image, work.path(), &volume);
    let _running = container.spawn();
    let url = format!("http://127.0.0.1:{port}/hello");
    let start = Instant::now();
    let body = loop {
        let curl = project.run_program(Path::new("/usr/bin/curl"), &["-sf", &url]);
        if curl.code == 0 {
            break curl.stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing served on {url}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(body, "{\"message\": \"hello from falcon\"}");
}

/// The manifest digest a registry serves for `reference` (`HOST/PATH:TAG`).
fn registry_digest(project: &Project, reference: &str) -> String {
    let inspect = project
        .run_program(
            Path::new("/usr/bin/skopeo"),
            &[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{reference}"),
            ],
        )
        .success();
    let inspected: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    inspected["Digest"].as_str().unwrap().to_string()
}

/// Copies the layout `oci:DIR:TAG` to `reference` in a registry on loopback.
fn copy_to_registry(project: &Project, image: &str, reference: &str) {
    project
        .run_program(
            Path::new("/usr/bin/skopeo"),
            &[
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                image,
                &format!("docker://{reference}"),
            ],
        )
        .success();
}

#[test]
fn a_registry_base_is_pulled_once_and_again_only_with_refresh_base() {
    let registry = crate::push::Registry::start(None);
    let project = Project::sample();
    let reference = format!("{}/bases/bookworm:1", registry.host());
    copy_to_registry(&project, &base_reference(), &reference);
    let first = registry_digest(&project, &reference);
    let config = format!("{SAMPLE_CONFIG}\n[image]\nbase = \"docker://{reference}\"\n");
    project.write("project.toml", &config);
    let run = project.pybuild(&["image"]).success();
    assert!(run.step_ran("image"), "{}", run.describe());
    let layout = project.path("dist/greeter.oci");
    let base_digest = || {
        containers::manifest(&layout, "latest")["annotations"]
            ["org.opencontainers.image.base.digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(base_digest(), first);

    // The registry's tag moves to another image (the same one, labelled).
    let work = tempfile::tempdir().unwrap();
    let other = work.path().join("other");
    containers::run(
        "cp",
        &[
            "-r",
            base_image().to_str().unwrap(),
            other.to_str().unwrap(),
        ],
        None,
    );
    let other_image = format!("{}:{BASE_TAG}", other.display());
    containers::run(
        "umoci",
        &[
            "config",
            "--image",
            &other_image,
            "--config.label",
            "moved=yes",
        ],
        None,
    );
    copy_to_registry(&project, &format!("oci:{other_image}"), &reference);
    let moved = registry_digest(&project, &reference);
    assert_ne!(moved, first);

    // The copy pulled once is kept: nothing runs, the image still names the first.
    let run = project.pybuild(&["image"]).success();
    assert!(!run.step_ran("image"), "{}", run.describe());
    assert_eq!(base_digest(), first);

    // `--refresh-base` pulls the tag again: the image is made on the base it names now.
    let run = project.pybuild(&["image", "--refresh-base"]).success();
    assert!(run.step_ran("image"), "{}", run.describe());
    assert_eq!(base_digest(), moved);
    let inspect = skopeo_inspect(&project, &format!("oci:{}:latest", layout.display())).success();
    let inspected: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(inspected["Labels"]["moved"], "yes", "{inspected}");
}
