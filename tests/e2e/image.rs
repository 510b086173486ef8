//! `pybuild image`: an OCI image of the bundle that skopeo accepts and runc runs, from a
//! Debian base made once (see `containers.rs`). On the sample: the app's output in the
//! container, the second start reusing the venv on the `PEX_ROOT` volume, an edit
//! changing only the code layer, the same bytes from a rebuild, a damaged blob refused by
//! skopeo and repaired by the next build; the user's mistakes named. On a falcon +
//! gunicorn app: its image serves HTTP on the port `[image]` gives.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bundle::GREETING;
use crate::containers::{self, Container, base_reference, layer_digests};
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
    let archive = project.path("dist/greeter.oci.tar");
    skopeo_inspect(
        &project,
        &format!("oci-archive:{}:latest", archive.display()),
    )
    .success();

    // It runs the app; the second start reuses the venv the first made on the volume.
    let work = tempfile::tempdir().unwrap();
    let volume = work.path().join("pex-root");
    fs::create_dir(&volume).unwrap();
    let image = format!("{}:1.2.3", layout.display());
    let container = Container::unpack(&image, work.path(), &volume);
    let start = Instant::now();
    let first = container.run();
    let first_time = start.elapsed();
    assert_eq!(first.stdout, GREETING, "{}", first.describe());
    assert!(volume.join("venvs").is_dir(), "no venv in PEX_ROOT");
    let before = snapshot(&volume);
    let start = Instant::now();
    let second = container.run();
    let second_time = start.elapsed();
    assert_eq!(second.stdout, GREETING, "{}", second.describe());
    let after = snapshot(&volume);
    let new: Vec<&String> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        new.is_empty(),
        "the second start unpacked again into PEX_ROOT: {new:?}"
    );
    eprintln!("start-up in the container: first {first_time:?}, second {second_time:?}");

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

    // A damaged blob: skopeo refuses the image, and the next build repairs it.
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
