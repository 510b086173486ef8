//! The freshness engine under abuse: racy edits, edits during a build, kills at any
//! moment, corrupt state, concurrent builds, and changes that must make exactly the
//! dependent steps stale.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;

use filetime::FileTime;

use crate::support::{Project, Run, SAMPLE_CONFIG, finish, kill};

/// The sample with a `setup.py` that, when the bundle is built from pybuild's staged
/// copy, edits the *original* `words.py`: an edit made while the build runs.
const EDITING_SETUP_PY: &str = r#"import os
from setuptools import setup

root = os.environ.get("EDIT_PROJECT_DURING_BUILD")
here = os.path.dirname(os.path.abspath(__file__))
if root and os.path.realpath(here) != os.path.realpath(root):
    words = os.path.join(root, "src", "greeter", "words.py")
    with open(words) as f:
        text = f.read()
    if "during" not in text:
        with open(words, "w") as f:
            f.write('def word():\n    return "during"\n')
setup()
"#;

fn greeting(project: &Project) -> String {
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn edits_during_a_build_and_same_size_same_mtime_edits_are_seen() {
    // The wheel strategy runs setup.py from the stage during the bundle step.
    let project = Project::sample()
        .with_file("setup.py", EDITING_SETUP_PY)
        .with_file(
            "project.toml",
            &format!("{SAMPLE_CONFIG}\n[bundle]\nstrategy = \"wheel\"\n"),
        );
    let root = project.root.to_str().unwrap().to_string();
    let run = project.pybuild_with_env(&["bundle"], &[("EDIT_PROJECT_DURING_BUILD", &root)]);
    run.success();
    // The bundle holds the sources as they were when the build started...
    assert_eq!(greeting(&project), "greeting: hello");
    assert!(project.read("src/greeter/words.py").contains("during"));
    // ...and the edit made meanwhile is not mistaken for built.
    let run = project.pybuild(&["bundle", "--explain"]).success();
    assert!(
        run.stderr.contains("src/greeter/words.py changed"),
        "{}",
        run.describe()
    );
    assert_eq!(greeting(&project), "greeting: during");

    // Same size, mtime put back: only ctime and the racy rule can tell.
    let words = project.path("src/greeter/words.py");
    let mtime = FileTime::from_last_modification_time(&fs::metadata(&words).unwrap());
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"dumbed\"\n",
    );
    filetime::set_file_mtime(&words, mtime).unwrap();
    project.pybuild(&["bundle"]).success();
    assert_eq!(greeting(&project), "greeting: dumbed");
}

#[test]
fn killed_builds_are_finished_by_the_next_run() {
    let project = Project::sample();
    // The wheel build runs pex on every bundle: a layered one may start none (pybuild
    // writes the layer, and the dependencies PEX may come from another checkout).
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nstrategy = \"wheel\"\n"),
    );
    let venv_bin = project.path(".venv/bin").to_str().unwrap().to_string();

    // Kill pybuild and every child while the tools step installs the bundler.
    let child = project.spawn_pybuild(&["bundle"]);
    project.wait_until("the tools step runs pip", || {
        project.log_mentions("tools", "pip install")
    });
    kill(child.id(), true);
    finish(child);

    // Kill only the bundler while the bundle step runs: pybuild reports it.
    let child = project.spawn_pybuild(&["bundle"]);
    project.wait_until("pex runs", || {
        !project
            .processes_running(&format!("{venv_bin}/pex"))
            .is_empty()
    });
    for pid in project.processes_running(&format!("{venv_bin}/pex")) {
        kill(pid, false);
    }
    let run = finish(child).failure(1);
    assert!(
        run.step_ran("tools"),
        "the killed tools step must run again\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("was killed by signal 9"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("hint: full output: "),
        "{}",
        run.describe()
    );
    assert!(
        !project.path("dist/greet.pex").exists(),
        "no half-written bundle"
    );

    // Kill everything again during the bundle, after an edit.
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"after kill\"\n",
    );
    let child = project.spawn_pybuild(&["bundle"]);
    project.wait_until("the bundle step runs pex", || {
        project.log_mentions("bundle", "/pex")
    });
    kill(child.id(), true);
    finish(child);

    let run = project.pybuild(&["bundle"]).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    assert_eq!(greeting(&project), "greeting: after kill");
    assert!(!project.pybuild(&["bundle"]).success().step_ran("bundle"));
}

#[test]
fn a_second_pybuild_waits_for_the_first_or_fails_fast_with_no_wait() {
    let project = Project::sample();
    let first = project.spawn_pybuild(&["bundle"]);
    let lock = project.path(".pybuild/lock");
    project.wait_until("the first build holds the lock", || {
        fs::read_to_string(&lock).is_ok_and(|pid| !pid.is_empty())
    });
    let fast = project.pybuild(&["bundle", "--no-wait"]).failure(1);
    let holder = format!(
        "another pybuild (pid {}) is working on this project",
        first.id()
    );
    assert!(fast.stderr.contains(&holder), "{}", fast.describe());

    let second = project.pybuild(&["bundle"]).success();
    assert!(
        second.stderr.contains("waiting for another pybuild"),
        "{}",
        second.describe()
    );
    finish(first).success();
    for step in ["check", "venv", "tools", "develop", "bundle"] {
        assert!(
            !second.step_ran(step),
            "{step} ran twice\n{}",
            second.describe()
        );
    }
    assert_eq!(greeting(&project), "greeting: hello");
}

#[test]
fn unreadable_state_warns_and_rebuilds() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    let state = project.path(".pybuild/state.bin");

    fs::write(&state, b"\x00\xffnot json").unwrap();
    let run = project.pybuild(&["bundle"]).success();
    assert_eq!(warnings(&run), 1, "{}", run.describe());
    assert!(
        run.stderr.contains("ignoring unreadable"),
        "{}",
        run.describe()
    );
    assert!(run.step_ran("venv") && run.step_ran("bundle"));
    assert_eq!(greeting(&project), "greeting: hello");

    let good = fs::read(&state).unwrap();
    fs::write(&state, &good[..good.len() / 2]).unwrap();
    let status = project.pybuild(&["status"]).success();
    assert_eq!(warnings(&status), 1, "{}", status.describe());
    assert!(
        status.stdout.contains("no finished run recorded"),
        "{}",
        status.describe()
    );

    // The format version follows the 8-byte magic, as a little-endian u32.
    let mut other = good.clone();
    other[8..12].copy_from_slice(&999u32.to_le_bytes());
    fs::write(&state, other).unwrap();
    let status = project.pybuild(&["status"]).success();
    assert!(
        status.stderr.contains("version 999"),
        "{}",
        status.describe()
    );
    fs::remove_file(&state).unwrap();
    let status = project.pybuild(&["status"]).success();
    assert_eq!(
        warnings(&status),
        0,
        "a missing state is a first run\n{}",
        status.describe()
    );
}

fn warnings(run: &Run) -> usize {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .count()
}

/// Two real interpreters with different versions, for an interpreter change.
fn two_interpreters() -> (PathBuf, PathBuf) {
    let mut candidates: Vec<PathBuf> = vec!["/usr/bin/python3".into()];
    if let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
    {
        candidates.push(String::from_utf8_lossy(&out.stdout).trim().into());
    }
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for candidate in candidates {
        let Ok(out) = Command::new(&candidate)
            .args(["-c", "import sys, venv; print(sys.version)"])
            .output()
        else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() && found.iter().all(|(_, v)| *v != version) {
            found.push((candidate, version));
        }
    }
    match found.as_slice() {
        [(a, _), (b, _), ..] => (a.clone(), b.clone()),
        _ => panic!(
            "this test needs two Python interpreters of different versions with venv (found {found:?})"
        ),
    }
}

fn stale_steps(project: &Project) -> Vec<String> {
    let status = project.pybuild(&["status", "--json"]).success();
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["fresh"] == false)
        .map(|s| {
            format!(
                "{}: {}",
                s["target"].as_str().unwrap(),
                s["reasons"][0]["detail"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn interpreter_tool_and_config_changes_make_exactly_the_dependent_steps_stale() {
    let (first, second) = two_interpreters();
    let shims = tempfile::tempdir().unwrap();
    let python = shims.path().join("python3");
    symlink(&first, &python).unwrap();
    let config = format!(
        "[project]\nname = \"greeter\"\npython = {:?}\n\n[env]\nrequirements = [\"requirements.txt\"]\n",
        python.to_str().unwrap()
    );
    let project = Project::fixture("sample").with_file("project.toml", &config);
    project.pybuild(&["bundle"]).success();
    assert!(stale_steps(&project).is_empty());

    project.write(
        "project.toml",
        &format!("{config}\n[bundle]\npex-args = [\"--venv\"]\n"),
    );
    assert_eq!(stale_steps(&project), vec!["bundle: bundle changed"]);
    project.write(
        "project.toml",
        &config.replace("requirements = ", "tools = [\"six\"]\nrequirements = "),
    );
    let stale = stale_steps(&project);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].starts_with("tools: tools changed"), "{stale:?}");
    project.write(
        "project.toml",
        &format!("{config}\n[check]\ncommands = [\"cc\"]\n"),
    );
    let stale = stale_steps(&project);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].starts_with("check: check changed"), "{stale:?}");
    project.write("project.toml", &config);
    assert!(stale_steps(&project).is_empty());

    // Another version of the bundler in the venv.
    project.install_by_hand("pex==2.100.0");
    // The tools step sees its install replaced by hand (it will check it again), and the
    // bundle sees the new bundler.
    let stale = stale_steps(&project);
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale[0].starts_with("tools: output .venv/"), "{stale:?}");
    assert!(stale[1].starts_with("bundle: pex changed: 2."), "{stale:?}");
    assert!(stale[1].ends_with("→ 2.100.0"), "{stale:?}");

    // The interpreter behind the same path replaced by another version.
    fs::remove_file(&python).unwrap();
    symlink(&second, &python).unwrap();
    let stale = stale_steps(&project);
    let names: Vec<&str> = stale.iter().map(|s| s.split(':').next().unwrap()).collect();
    assert_eq!(
        names,
        vec!["venv", "tools", "develop", "bundle"],
        "{stale:?}"
    );
    assert!(
        stale[0].starts_with("venv: interpreter changed"),
        "{stale:?}"
    );
    let run = project.pybuild(&["bundle"]).success();
    for step in ["venv", "tools", "develop", "bundle"] {
        assert!(run.step_ran(step), "{step}\n{}", run.describe());
    }
    assert!(!run.step_ran("check"));
    assert_eq!(greeting(&project), "greeting: hello");
}
