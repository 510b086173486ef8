//! The bundle holds exactly the current sources, and is rebuilt only when they changed.

use std::fs;
use std::time::{Duration, SystemTime};

use filetime::FileTime;

use crate::support::Project;

pub const GREETING: &str = "greeting: hello\nversion: 1.2.3\ndata: data-file-ok\nsix: ok\n";

#[test]
fn first_bundle_runs_then_noops_start_no_process_and_touches_rebuild_nothing() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
    let built = fs::read(project.path("dist/greet.pex")).unwrap();

    let (run, execs) = project.pybuild_traced(&["bundle"]);
    run.success();
    assert_eq!(
        execs.len(),
        1,
        "a no-op started processes besides pybuild:\n{execs:#?}"
    );

    // A touch changes stat data, not content: hashes are checked again, nothing rebuilds.
    let later = FileTime::from_system_time(SystemTime::now() + Duration::from_secs(5));
    for file in [
        "src/greeter/cli.py",
        "src/greeter/words.py",
        "src/greeter/__init__.py",
        "pyproject.toml",
        "requirements.txt",
    ] {
        filetime::set_file_mtime(project.path(file), later).unwrap();
    }
    let (run, execs) = project.pybuild_traced(&["bundle"]);
    let run = run.success();
    assert_eq!(
        execs.len(),
        1,
        "touching sources started processes:\n{execs:#?}"
    );
    for step in ["check", "venv", "tools", "develop", "bundle"] {
        assert!(
            !run.step_ran(step),
            "{step} ran after a touch\n{}",
            run.describe()
        );
    }
    assert_eq!(fs::read(project.path("dist/greet.pex")).unwrap(), built);
}

#[test]
fn edits_deletions_and_older_mtimes_reach_the_bundle() {
    let project = Project::sample().with_file("src/greeter/extra.py", "VALUE = 1\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project
            .exec("dist/greet.pex", &["--has", "greeter.extra"])
            .success()
            .stdout,
        "present\n"
    );

    // An edit, and a module deleted from inside a package: no new editable install needed.
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    fs::remove_file(project.path("src/greeter/extra.py")).unwrap();
    let run = project.pybuild(&["bundle", "--explain"]).success();
    assert!(
        run.stderr.contains("src/greeter/extra.py removed"),
        "{}",
        run.describe()
    );
    assert!(run.step_ran("bundle"));
    assert!(!run.step_ran("develop"), "{}", run.describe());
    assert!(
        project
            .exec("dist/greet.pex", &[])
            .success()
            .stdout
            .starts_with("greeting: howdy\n")
    );
    assert_eq!(
        project
            .exec("dist/greet.pex", &["--has", "greeter.extra"])
            .success()
            .stdout,
        "missing\n"
    );

    // A content change whose mtime is older than anything recorded (a checkout, rsync -t).
    let words = project.path("src/greeter/words.py");
    let old = FileTime::from_unix_time(978_307_200, 0);
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"older\"\n",
    );
    filetime::set_file_mtime(&words, old).unwrap();
    project.pybuild(&["bundle"]).success();
    assert!(
        project
            .exec("dist/greet.pex", &[])
            .success()
            .stdout
            .starts_with("greeting: older\n")
    );
}

#[test]
fn a_deleted_or_modified_bundle_is_rebuilt() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    fs::write(project.path("dist/greet.pex"), "#!/bin/sh\necho tampered\n").unwrap();
    let run = project.pybuild(&["bundle", "--explain"]).success();
    assert!(
        run.stderr.contains("output dist/greet.pex modified"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );

    fs::remove_file(project.path("dist/greet.pex")).unwrap();
    let run = project.pybuild(&["bundle", "--explain"]).success();
    assert!(
        run.stderr.contains("output dist/greet.pex missing"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
}

#[test]
fn requirements_change_reruns_tools_and_develop_only() {
    let project = Project::sample();
    project.pybuild(&["setup"]).success();
    let requirements = project.read("requirements.txt");
    project.write("requirements.txt", &format!("{requirements}tabulate\n"));
    let run = project.pybuild(&["setup"]).success();
    assert!(!run.step_ran("venv"));
    assert!(run.step_ran("tools"));
    assert!(run.step_ran("develop"));
    let check = project
        .pybuild(&[
            "-q",
            "run",
            "--",
            "python",
            "-c",
            "import sys, tabulate; print(sys.prefix)",
        ])
        .success();
    assert_eq!(check.stdout.trim(), project.path(".venv").to_str().unwrap());
}

/// A hash-pinned requirements file (`pip-compile --generate-hashes`, `uv export`) puts pip
/// in `--require-hashes` mode: the bundler, unpinned, must not share its install.
#[test]
fn a_hash_pinned_requirements_file_sets_up_and_bundles() {
    let project = Project::sample().with_file(
        "requirements.txt",
        "six==1.16.0 \\\n    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254 \\\n    --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926\n",
    );
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
    project
        .exec(
            ".venv/bin/python",
            &[
                "-c",
                "import six; assert six.__version__ == '1.16.0', six.__version__",
            ],
        )
        .success();
}

/// On a terminal, each step's spinner says what it is doing, and a first run says so.
#[test]
fn on_a_terminal_the_spinner_tells_the_phase() {
    let project = Project::sample();
    // pybuild's cache of its own: nothing fetched or built by other tests to reuse.
    let cache = tempfile::tempdir().unwrap();
    // `script` gives pybuild a pseudo-terminal and copies what it draws to stdout.
    let command = format!(
        "PYBUILD_CACHE_DIR={} {} bundle",
        cache.path().display(),
        env!("CARGO_BIN_EXE_pybuild")
    );
    let run = project
        .run_program(
            std::path::Path::new("script"),
            &["-qefc", &command, "/dev/null"],
        )
        .success();
    let drawn = run.stdout;
    for phase in [
        "first run",
        "fetching uv",
        "creating the venv with uv",
        "installing pex",
        "building the dependencies PEX from the venv",
        "files on the dependencies PEX",
    ] {
        assert!(drawn.contains(phase), "no {phase:?} in:\n{drawn}");
    }
    assert!(!drawn.contains("no successful run recorded"), "{drawn}");
}

/// The default PEX (`--venv --sh-boot`) unpacks itself once; from its second run on it
/// starts from that venv, extracting nothing.
#[test]
fn the_default_pex_extracts_once_and_starts_from_its_venv_after() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    let pex = fs::read(project.path("dist/greet.pex")).unwrap();
    assert!(pex.starts_with(b"#!/bin/sh"), "no /bin/sh boot header");

    let root = tempfile::tempdir().unwrap();
    let pex_root = root.path().join("pex");
    let env = [("PEX_ROOT", pex_root.to_str().unwrap())];
    // What is in PEX_ROOT (pex touches `.last-access` files on each run: paths only;
    // Python's bytecode cache is no extraction).
    let files = || -> Vec<String> {
        let mut found = Vec::new();
        let mut dirs = vec![pex_root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    dirs.push(entry.path());
                }
                found.push(entry.path().display().to_string());
            }
        }
        found.sort();
        found
    };
    let run = |project: &Project| {
        let out = std::process::Command::new(project.path("dist/greet.pex"))
            .envs(env)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(&project), GREETING);
    let after_first = files();
    assert!(
        // pex's venv, or the layered PEX's venv of the dependencies (`pex/boot.rs`).
        after_first
            .iter()
            .any(|path| path.contains("/venvs/") || path.contains("/pybuild/deps/")),
        "the first run unpacked no venv: {after_first:#?}"
    );
    assert_eq!(run(&project), GREETING);
    let new: Vec<String> = files()
        .into_iter()
        .filter(|path| !after_first.contains(path) && !path.contains("/__pycache__"))
        .collect();
    assert!(new.is_empty(), "the second run extracted: {new:#?}");
}
