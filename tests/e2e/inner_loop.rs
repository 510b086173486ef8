//! The inner loop: edit, bundle, run the new bundle, again and again, with the runtime
//! `PEX_ROOT` of a developer's machine (one temp dir kept across the edits): every first
//! run after an edit runs the new code (and so does a child started with the bundle's
//! Python), the dependencies are extracted once for every edit (a lock left by a killed
//! run taken over), past edits' code venvs are pruned so `PEX_ROOT` stays bounded, a
//! bundle already running keeps working (and keeps its code venv) while new ones are built
//! and run, and the remote cache's audit checks the header's block of a fetched bundle.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cache_server::{Server, env, fresh_machine, pinned_app, sha256};
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

    // More edits than the code venvs pruning keeps: the running one's is held, not removed.
    for word in ["new", "newer", "newest", "latest", "last"] {
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
/// one venv of the dependencies for every edit and makes only a small venv of the code.
#[test]
fn the_first_run_after_an_edit_reuses_the_dependencies_venv() {
    let project = Project::sample();
    let pex_root = tempfile::tempdir().unwrap();
    project.pybuild(&["bundle"]).success();
    let first = run_bundle(&project, pex_root.path(), &[]).success();
    assert_eq!(first.stderr, "", "the first run ever says something");
    let (copies_before, _) = survey(pex_root.path(), "six.py");
    for i in 0..4 {
        edit_word(&project, &format!("edit{i}"));
        project.pybuild(&["bundle"]).success();
        run_bundle(&project, pex_root.path(), &[]).success();
        assert_eq!(
            (
                venvs_with_six(pex_root.path()),
                survey(pex_root.path(), "six.py").0
            ),
            (1, copies_before),
            "edit {i}'s first run extracted the dependencies again (venvs, six.py entries)"
        );
    }
    // pex's tools read the bundle as pex's PEX.
    let info = Run::from(
        bundle_command(&project, pex_root.path(), &["info"])
            .env("PEX_TOOLS", "1")
            .output()
            .unwrap(),
    )
    .success();
    assert!(
        info.stdout
            .contains("\"entry_point\": \"greeter.cli:main\""),
        "{}",
        info.describe()
    );
}

/// A first run killed while it made the dependencies' venv (as `watch --restart` may kill
/// a service that just started) leaves its lock behind: the next run takes it over and
/// makes the venv, instead of booting through pex's venv of the whole PEX from then on.
#[test]
fn a_lock_left_by_a_killed_first_run_is_taken_over() {
    let project = Project::sample();
    let pex_root = tempfile::tempdir().unwrap();
    project.pybuild(&["bundle"]).success();
    let bytes = fs::read(project.path("dist/greet.pex")).unwrap();
    let header =
        String::from_utf8_lossy(&bytes[..find(&bytes, b"PK\x03\x04").unwrap()]).to_string();
    let deps = header
        .lines()
        .find_map(|line| line.strip_prefix("PYBUILD_DEPS=\"${PEX_ROOT}/"))
        .expect("the bundle has the inner loop's block")
        .trim_end_matches('"')
        .to_string();
    let lock = pex_root.path().join(format!("{deps}.lck"));
    fs::create_dir_all(&lock).unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    fs::write(lock.join("pid"), format!("{}\n", gone.id())).unwrap();
    gone.wait().unwrap();
    run_bundle(&project, pex_root.path(), &[]).success();
    assert!(
        pex_root
            .path()
            .join(&deps)
            .join(".pybuild-complete")
            .is_file()
            && !lock.exists(),
        "the dead run's lock was not taken over"
    );
    assert!(
        !pex_root.path().join("venvs").exists(),
        "the run booted through pex's venv"
    );
}

/// A `PEX_ROOT` is not always reached by one path: a CI cache behind a link, a folder
/// mounted elsewhere in a container. A code venv made through a link that is gone since
/// runs from the real path, and so does a child started with the bundle's Python.
#[test]
fn a_code_venv_made_through_a_link_since_removed_still_runs() {
    let project = Project::sample();
    let dir = tempfile::tempdir().unwrap();
    let (real, link) = (dir.path().join("real"), dir.path().join("link"));
    fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    project.write(
        "src/greeter/child.py",
        "import subprocess, sys\n\
         subprocess.run([sys.executable, '-c', 'import six, greeter.words as w; print(w.word())'], check=True)\n",
    );
    edit_word(&project, "linked");
    project.pybuild(&["bundle"]).success();
    run_bundle(&project, &link, &[]).success();
    fs::remove_file(&link).unwrap();
    let run = run_bundle(&project, &real, &["--has", "greeter.child"]).success();
    assert_eq!(run.stdout, "linked\npresent\n", "{}", run.describe());
    assert!(
        !real.join("venvs").exists(),
        "the run booted through pex's venv, not the code venv made through the link"
    );
}

/// Each edit's first run makes a code venv; past edits' are pruned as new ones are made,
/// so 20 edits and runs leave a few code venvs and grow `PEX_ROOT` by little.
#[test]
fn twenty_edits_and_runs_leave_a_few_code_venvs() {
    let project = Project::sample();
    let pex_root = tempfile::tempdir().unwrap();
    project.pybuild(&["bundle"]).success();
    run_bundle(&project, pex_root.path(), &[]).success();
    let (_, before) = survey(pex_root.path(), "six.py");
    // What a run killed while it made a code venv leaves, two hours ago.
    let left = pex_root.path().join("pybuild/code/.tmp-killed");
    fs::create_dir_all(left.join("lib")).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    fs::File::open(&left).unwrap().set_modified(old).unwrap();
    for i in 0..20 {
        edit_word(&project, &format!("edit{i}"));
        project.pybuild(&["bundle"]).success();
        let run = run_bundle(&project, pex_root.path(), &[]).success();
        assert!(run.stdout.starts_with(&format!("greeting: edit{i}\n")));
    }
    // The 3 newest code venvs, and the code pex's own tool unpacked once when it made the
    // dependencies' venv.
    assert!(!left.exists(), "a killed run's temp dir was left");
    let (codes, after) = survey(pex_root.path(), "words.py");
    assert!(
        codes <= 4,
        "20 edits left {codes} copies of the code under PEX_ROOT"
    );
    assert!(
        after - before <= 1 << 20,
        "20 edits grew PEX_ROOT by {} KiB",
        (after - before) >> 10
    );
}

/// The remote cache's audit compares a fetched bundle's header with pex's template: the
/// inner loop's block is taken out only when it is byte for byte the one pybuild writes for
/// that PEX. An honest bundle is fetched; one whose block names another edit's code venv
/// (same length, so only the audit can tell) is refused and built here instead.
#[test]
fn a_fetched_bundle_s_block_is_checked_and_a_tampered_one_refused() {
    let server = Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let machine = |name: &str| {
        let mut pairs = fresh_machine(&scratch.path().join(name));
        pairs.push(("PYBUILD_REMOTE_CACHE".into(), server.url()));
        pairs.push(("PYBUILD_REMOTE_CACHE_READ_ONLY".into(), "1".into()));
        pairs
    };
    let writer = pinned_app();
    let mut w_env = machine("a");
    w_env.pop();
    writer.pybuild_with_env(&["bundle"], &env(&w_env)).success();
    let pex = writer.path("dist/uvapp.pex");
    let bytes = fs::read(&pex).unwrap();
    let at = find(&bytes, b"pybuild/code/").expect("the bundle has the inner loop's block")
        + "pybuild/code/".len();

    // A reader with a venv checks every entry and the header, block included.
    let reader = pinned_app();
    let r_env = machine("b");
    reader.pybuild_with_env(&["setup"], &env(&r_env)).success();
    let run = reader.pybuild_with_env(&["bundle"], &env(&r_env)).success();
    assert!(
        run.stderr.contains("bundle   fetched") && !run.stderr.contains("not pex's"),
        "the honest bundle was not fetched\n{}",
        run.describe()
    );

    // The block made to run another edit's code venv, put under the honest keys.
    let mut tampered = bytes.clone();
    tampered[at..at + 40].copy_from_slice(&[b'0'; 40]);
    let evil = scratch.path().join("evil.pex");
    fs::write(&evil, &tampered).unwrap();
    let (honest_sha, evil_sha) = (sha256(&pex), sha256(&evil));
    fs::write(server.blob(&evil_sha), &tampered).unwrap();
    let mut swapped = 0;
    for entry in server.entries() {
        let data = fs::read(&entry).unwrap();
        if let Some(at) = find(&data, honest_sha.as_bytes()) {
            let mut data = data.clone();
            data[at..at + 64].copy_from_slice(evil_sha.as_bytes());
            fs::write(&entry, data).unwrap();
            swapped += 1;
        }
    }
    assert!(swapped > 0, "no entry names the bundle");
    let reader = pinned_app();
    let r_env = machine("c");
    reader.pybuild_with_env(&["setup"], &env(&r_env)).success();
    let run = reader.pybuild_with_env(&["bundle"], &env(&r_env)).success();
    assert!(
        run.stderr
            .contains("the inner loop's block is not the one pybuild writes for this PEX"),
        "{}",
        run.describe()
    );
    assert!(run.step_ran("bundle") && !run.stderr.contains("bundle   fetched"));
    let built = fs::read(reader.path("dist/uvapp.pex")).unwrap();
    assert!(find(&built, &tampered[at - 13..at + 40]).is_none());
    assert_eq!(
        reader.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: six 1.15.0\n"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
