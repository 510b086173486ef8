//! After any interruption or damage (a killed step, a venv changed by hand, garbled
//! state), one plain `pybuild bundle` brings the project back: never a wedge that only
//! `pybuild clean` undoes.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::bundle::GREETING;
use crate::support::{Project, SAMPLE_CONFIG, finish};

fn site_packages(project: &Project) -> PathBuf {
    let lib = project.path(".venv/lib");
    let version = fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("python")
        })
        .expect("a python* directory in .venv/lib");
    version.join("site-packages")
}

fn signal_group(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A step, the signal to send while it runs, and how to tell it is running.
type KillPoint<'a> = (&'a str, &'a str, Box<dyn Fn() -> bool + 'a>);

#[track_caller]
fn assert_bundle_is_right(project: &Project) {
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
}

#[test]
fn a_venv_damaged_by_hand_is_repaired_by_a_plain_bundle() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();

    // A dependency uninstalled behind pybuild's back.
    Command::new(project.path(".venv/bin/python"))
        .args(["-m", "pip", "uninstall", "-y", "-q", "six"])
        .status()
        .unwrap();
    let status = project.pybuild(&["status", "setup"]).success();
    assert!(status.stdout.contains("stale"), "{}", status.describe());
    let run = project.pybuild(&["bundle"]).success();
    assert!(run.step_ran("tools"), "{}", run.describe());
    project
        .exec(".venv/bin/python", &["-c", "import six"])
        .success();
    assert_bundle_is_right(&project);

    // The editable install's .pth deleted.
    let sp = site_packages(&project);
    let pth: Vec<PathBuf> = fs::read_dir(&sp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".pth") && name.contains("greeter")
        })
        .collect();
    assert!(!pth.is_empty(), "no .pth of the editable install in {sp:?}");
    for file in &pth {
        fs::remove_file(file).unwrap();
    }
    let run = project.pybuild(&["setup"]).success();
    assert!(run.step_ran("develop"), "{}", run.describe());
    project
        .exec(".venv/bin/python", &["-c", "import greeter.cli"])
        .success();

    // The venv's interpreter deleted: the venv is made again, and `run -- python` runs
    // the venv's, not the system's.
    fs::remove_file(project.path(".venv/bin/python")).unwrap();
    let run = project
        .pybuild(&["run", "--", "python", "-c", "import sys; print(sys.prefix)"])
        .success();
    assert!(
        run.stdout.trim().ends_with(".venv"),
        "ran another python:\n{}",
        run.describe()
    );
    project.pybuild(&["bundle"]).success();
    assert_bundle_is_right(&project);
}

/// The wedge a Ctrl-C during `pip install pex` left: pex's dist-info without `bin/pex`,
/// which pip calls "already satisfied" forever.
#[test]
fn an_install_left_incomplete_is_reinstalled() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    fs::remove_file(project.path(".venv/bin/pex")).unwrap();
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        run.stderr.contains("left incomplete: pex=="),
        "{}",
        run.describe()
    );
    assert!(project.path(".venv/bin/pex").is_file());
    assert_bundle_is_right(&project);
}

/// SIGINT or SIGKILL to the whole process group in each step, one after the other; then
/// one plain bundle succeeds with a correct PEX.
#[test]
fn a_build_killed_in_any_step_recovers_with_one_plain_bundle() {
    let project = Project::sample();
    // The wheel build runs pex on every bundle, which gives the bundle step time to be
    // interrupted in: a layered one may start none.
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nstrategy = \"wheel\"\n"),
    );
    let points: [KillPoint; 4] = [
        (
            "venv",
            "-KILL",
            Box::new(|| project.log_mentions("venv", "venv --clear")),
        ),
        (
            "tools",
            "-INT",
            Box::new(|| project.log_mentions("tools", "install")),
        ),
        (
            "develop",
            "-KILL",
            Box::new(|| project.log_mentions("develop", "greeter")),
        ),
        (
            "bundle",
            "-INT",
            Box::new(|| project.log_mentions("bundle", "pex")),
        ),
    ];
    for (step, signal, reached) in points {
        let mut child = project.spawn_pybuild(&["bundle"]);
        let pid = child.id();
        let start = std::time::Instant::now();
        // Not reaching the step is a failure: a signal sent anywhere else proves nothing.
        while !reached() {
            let ended = child.try_wait().unwrap().is_some();
            if ended && reached() {
                break;
            }
            if ended || start.elapsed().as_secs() >= 240 {
                if !ended {
                    signal_group(pid, "-KILL");
                }
                let run = finish(child);
                panic!(
                    "the build {} before {step} was seen running\n{}",
                    if ended { "ended" } else { "ran 240 s" },
                    run.describe()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        signal_group(pid, signal);
        let run = finish(child);
        assert_ne!(
            run.code,
            0,
            "{step} was not interrupted\n{}",
            run.describe()
        );
    }
    project.pybuild(&["bundle"]).success();
    assert_bundle_is_right(&project);
}

#[test]
fn garbled_state_costs_a_rebuild_never_a_wedge() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    let files = |project: &Project| -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut dirs = vec![project.path(".pybuild")];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found.sort();
        found
    };
    let garble = |path: &PathBuf| fs::write(path, b"\x00garbage\xff").unwrap();

    // Each file but the state itself in turn, each time with an edit the bundle must show.
    let mut word = 0;
    let mut edit = |project: &Project| {
        word += 1;
        project.write(
            "src/greeter/words.py",
            &format!("def word():\n    return \"edit-{word}\"\n"),
        );
        format!("greeting: edit-{word}\n")
    };
    for file in files(&project) {
        if file.ends_with("state.bin") {
            continue;
        }
        garble(&file);
        let expected = edit(&project);
        let run = project.pybuild(&["bundle"]);
        assert_eq!(run.code, 0, "after garbling {file:?}\n{}", run.describe());
        let out = project.exec("dist/greet.pex", &[]).success().stdout;
        assert!(out.starts_with(&expected), "after garbling {file:?}: {out}");
    }

    // Every file at once, the state included.
    for file in files(&project) {
        garble(&file);
    }
    let expected = edit(&project);
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        run.stderr.contains("ignoring unreadable"),
        "{}",
        run.describe()
    );
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.starts_with(&expected), "{out}");

    // Entries of the wrong type: files for directories.
    for dir in ["layers", "logs", "fingerprints", "produced"] {
        let path = project.path(&format!(".pybuild/{dir}"));
        fs::remove_dir_all(&path).unwrap();
        fs::write(&path, "garbage").unwrap();
    }
    fs::create_dir_all(project.path(".pybuild/tmp")).unwrap();
    fs::remove_dir_all(project.path(".pybuild/tmp")).unwrap();
    fs::write(project.path(".pybuild/tmp"), "garbage").unwrap();
    let expected = edit(&project);
    project.pybuild(&["bundle"]).success();
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.starts_with(&expected), "{out}");

    // `.pybuild` itself a file: clean works, and so does the next bundle.
    fs::remove_dir_all(project.path(".pybuild")).unwrap();
    fs::write(project.path(".pybuild"), "garbage").unwrap();
    project.pybuild(&["clean"]).success();
    let expected = edit(&project);
    project.pybuild(&["bundle"]).success();
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.starts_with(&expected), "{out}");
}

/// A checkout copied with its venv: the venv names the original (its editable install,
/// its scripts' `#!`), so what ran in it would be the original's code. The copy's first
/// build makes a venv of its own.
#[test]
fn a_copied_project_gets_a_venv_of_its_own() {
    let original = Project::sample();
    original.pybuild(&["bundle"]).success();
    let copy = original.copy();
    copy.write(
        "src/greeter/words.py",
        "def word():\n    return \"copied\"\n",
    );
    let status = copy.pybuild(&["status"]).success();
    assert!(
        status.stdout.contains("the venv was made at") && status.stdout.contains("moved or copied"),
        "{}",
        status.describe()
    );
    copy.pybuild(&["bundle"]).success();
    let where_from = copy
        .pybuild(&[
            "-q",
            "run",
            "--",
            "python",
            "-c",
            "import greeter.words as w; print(w.__file__); print(w.word())",
        ])
        .success()
        .stdout;
    let root = copy.root.canonicalize().unwrap();
    assert!(
        where_from.starts_with(root.to_str().unwrap()) && where_from.ends_with("copied\n"),
        "{where_from}"
    );
    let out = copy.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.starts_with("greeting: copied\n"), "{out}");
    // The original is untouched.
    assert_eq!(
        original.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
}
