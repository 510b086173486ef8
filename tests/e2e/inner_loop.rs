//! The inner loop: edit, bundle, run the new bundle, again and again, with the runtime
//! `PEX_ROOT` of a developer's machine (one temp dir kept across the edits): every first
//! run after an edit runs the new code (and so does a child started with the bundle's
//! Python), the dependencies are extracted once for every edit and `PEX_ROOT` grows by
//! little more than the code, and a bundle already running keeps working while new ones
//! are built and run.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Project, Run, finish};

/// Runs the built bundle with `pex_root` as its runtime `PEX_ROOT` (not the shared cache
/// pybuild builds with: the extractions of this test's runs are the test's own).
fn run_bundle(project: &Project, pex_root: &Path, args: &[&str]) -> Run {
    Run::from(bundle_command(project, pex_root, args).output().unwrap())
}

fn bundle_command(project: &Project, pex_root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(project.path("dist/greet.pex"));
    command
        .args(args)
        .current_dir(&project.root)
        .env("PEX_ROOT", pex_root)
        .env_remove("VIRTUAL_ENV");
    command
}

fn edit_word(project: &Project, word: &str) {
    project.write(
        "src/greeter/words.py",
        &format!("def word():\n    return {word:?}\n"),
    );
}

/// The venvs under `dir` (folders holding a `pyvenv.cfg`) that hold the dependency six.
fn venvs_with_six(dir: &Path) -> usize {
    if dir.join("pyvenv.cfg").is_file() {
        return usize::from(survey(dir, "six.py").0 > 0);
    }
    let mut count = 0;
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            count += venvs_with_six(&entry.path());
        }
    }
    count
}

/// The entries named `name` under `dir` (files and symlinks, a venv's link to an installed
/// wheel included), and the bytes `dir` holds on disk.
fn survey(dir: &Path, name: &str) -> (usize, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut count, mut bytes) = (0, 0);
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        bytes += meta.blocks() * 512;
        if meta.is_dir() {
            let (c, b) = survey(&entry.path(), name);
            count += c;
            bytes += b;
        } else if entry.file_name() == name {
            count += 1;
        }
    }
    (count, bytes)
}

#[test]
fn the_first_run_after_each_edit_runs_the_new_code() {
    let project = Project::sample();
    let pex_root = tempfile::tempdir().unwrap();
    // A child the bundle starts with its own Python sees the code and the dependencies.
    project.write(
        "src/greeter/child.py",
        "import subprocess, sys\n\
         subprocess.run([sys.executable, '-c', 'import six, greeter.words as w; print(w.word())'], check=True)\n",
    );
    project.pybuild(&["bundle"]).success();
    run_bundle(&project, pex_root.path(), &[]).success();
    for word in ["first", "second", "third"] {
        edit_word(&project, word);
        project.pybuild(&["bundle"]).success();
        let run = run_bundle(&project, pex_root.path(), &[]).success();
        assert!(
            run.stdout.starts_with(&format!("greeting: {word}\n")),
            "the first run after an edit ran other code\n{}",
            run.describe()
        );
        let run = run_bundle(&project, pex_root.path(), &["--has", "greeter.child"]).success();
        assert_eq!(
            run.stdout,
            format!("{word}\npresent\n"),
            "{}",
            run.describe()
        );
    }
}

#[test]
fn a_running_bundle_keeps_working_while_new_ones_are_built_and_run() {
    let project = Project::sample();
    let pex_root = tempfile::tempdir().unwrap();
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("go");
    // `greet --has greeter.sleeper` imports this module, which waits for the flag, then
    // imports a module of the bundle only then, as a long-running service does.
    project.write(
        "src/greeter/sleeper.py",
        "import os, time\n\
         flag = os.environ['INNER_LOOP_FLAG']\n\
         open(flag + '.started', 'w').close()\n\
         while not os.path.exists(flag):\n    time.sleep(0.05)\n\
         from greeter import late\n\
         print('late: ' + late.WORD, flush=True)\n",
    );
    project.write("src/greeter/late.py", "WORD = 'old'\n");
    project.pybuild(&["bundle"]).success();
    let old = bundle_command(&project, pex_root.path(), &["--has", "greeter.sleeper"])
        .env("INNER_LOOP_FLAG", &flag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    project.wait_until("the old bundle runs", || {
        flags.path().join("go.started").exists()
    });

    for word in ["new", "newer", "newest"] {
        project.write("src/greeter/late.py", &format!("WORD = {word:?}\n"));
        edit_word(&project, word);
        project.pybuild(&["bundle"]).success();
        let run = run_bundle(&project, pex_root.path(), &[]).success();
        assert!(run.stdout.starts_with(&format!("greeting: {word}\n")));
    }

    fs::write(&flag, "").unwrap();
    let run = finish(old);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "late: old\npresent\n"),
        "the running bundle broke while new ones were built and run\n{}",
        run.describe()
    );
}

/// pex alone keys a `--venv` PEX's venv by its `pex_hash`, which the code changes: every
/// edit's first run would make a venv of its own (about a second). The bundle's boot keeps
/// one venv of the dependencies for every edit and extracts only the code.
#[test]
fn edits_reuse_the_dependencies_extraction_and_pex_root_stays_bounded() {
    let project = Project::sample();
    let pex_root = tempfile::tempdir().unwrap();
    project.pybuild(&["bundle"]).success();
    run_bundle(&project, pex_root.path(), &[]).success();
    let (copies_before, before) = survey(pex_root.path(), "six.py");
    for i in 0..6 {
        edit_word(&project, &format!("edit{i}"));
        project.pybuild(&["bundle"]).success();
        run_bundle(&project, pex_root.path(), &[]).success();
    }
    let (copies, after) = survey(pex_root.path(), "six.py");
    assert_eq!(
        (venvs_with_six(pex_root.path()), copies),
        (1, copies_before),
        "the edits extracted the dependencies again (venvs, six.py entries)"
    );
    assert!(
        after - before <= 1 << 20,
        "6 edits grew PEX_ROOT by {} KiB",
        (after - before) >> 10
    );
}
