//! pybuild never shows a secret, never leaves a killed build's processes running, and never
//! crashes or prints raw escape codes whatever project.toml holds.

use std::fs;

use crate::support::{Project, SAMPLE_CONFIG, finish, kill};

/// A port on this machine where nothing listens (it did a moment ago).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn credentials_of_the_index_are_never_shown() {
    let project = Project::sample();
    let port = closed_port();
    let index = format!("http://alice:S3cr3t@127.0.0.1:{port}/simple");
    let masked = format!("http://alice:****@127.0.0.1:{port}/simple");
    // An empty wheelhouse: offline, the venv's packages cannot be installed, so the build
    // fails with the hint that names the index.
    let cache = project.root.with_extension("cache");
    let cache = cache.to_str().unwrap();
    let pip_conf = project.root.with_extension("pip.conf");
    fs::write(&pip_conf, format!("[global]\nindex-url = {index}\n")).unwrap();

    let from_env = [
        ("PIP_INDEX_URL", index.as_str()),
        ("PYBUILD_CACHE_DIR", cache),
    ];
    let from_conf = [
        ("PIP_CONFIG_FILE", pip_conf.to_str().unwrap()),
        ("PYBUILD_CACHE_DIR", cache),
    ];
    for env in [&from_env[..], &from_conf[..]] {
        let run = project.pybuild_with_env(&["-v", "setup"], env).failure(1);
        let warning = format!("warning: the package index {masked} cannot be reached");
        assert!(run.stderr.contains(&warning), "{}", run.describe());
        let hint = format!("hint: run pybuild once with access to the package index ({masked})");
        assert!(run.stderr.contains(&hint), "{}", run.describe());
        assert!(!run.describe().contains("S3cr3t"), "{}", run.describe());
        for log in fs::read_dir(project.path(".pybuild/logs")).unwrap() {
            let log = log.unwrap().path();
            let text = fs::read_to_string(&log).unwrap();
            assert!(!text.contains("S3cr3t"), "{}:\n{text}", log.display());
        }
    }
}

/// Whether `pid` still runs (a zombie does not).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
    })
}

/// SIGKILLs what is still alive of `pids` when dropped: a failed test leaves nothing.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                kill(pid, false);
            }
        }
    }
}

#[test]
fn a_killed_build_leaves_nothing_running_for_the_next() {
    // pip's venv: its ensurepip starts a process that outlives a killed pybuild.
    let project = Project::sample().with_file(
        "project.toml",
        &SAMPLE_CONFIG.replace("[env]\n", "[env]\ninstaller = \"pip\"\n"),
    );
    let root = project.root.to_str().unwrap().to_string();
    let child = project.spawn_pybuild(&["bundle"]);
    // ensurepip runs pip in a process of its own (`python -c "import runpy ..."`).
    project.wait_until("ensurepip runs pip", || {
        project.processes_running(&root).iter().any(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("runpy"))
        })
    });
    let running = project.processes_running(&root);
    let _reaper = Reaper(running.clone());
    kill(child.id(), false);
    finish(child);
    // `python -m venv` dies with pybuild; ensurepip and its pip do not.
    project.wait_until("pybuild's own child is gone", || {
        running.iter().any(|&pid| !alive(pid))
    });
    let left: Vec<u32> = running.iter().copied().filter(|&pid| alive(pid)).collect();
    assert!(!left.is_empty(), "nothing was left running: {running:?}");
    // Stopped, they cannot finish on their own before the next build starts. (Only now:
    // stopped before their group was orphaned, they would get SIGHUP from the kernel.)
    for pid in &left {
        let stop = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(stop.success());
    }

    fs::remove_file(project.path(".pybuild/logs/venv.log")).unwrap();
    let next = project.spawn_pybuild(&["bundle"]);
    project.wait_until("the next build starts its venv step", || {
        project.log_mentions("venv", "-m venv")
    });
    let still: Vec<u32> = left.iter().copied().filter(|&pid| alive(pid)).collect();
    assert!(
        still.is_empty(),
        "left running by the killed build: {still:?} of {left:?}"
    );
    let run = finish(next).success();
    assert!(
        run.stderr.contains("of a killed pybuild left running\n"),
        "{}",
        run.describe()
    );
    assert!(
        project.path("dist/greet.pex").exists(),
        "{}",
        run.describe()
    );
}

/// `[tasks.t0]` needs `t1`, ... `t{depth-1}`, whose own entry is `last`.
fn chain(depth: usize, last: &str) -> String {
    let mut config = format!("{}\n", crate::support::SAMPLE_CONFIG);
    for i in 0..depth - 1 {
        config.push_str(&format!("[tasks.t{i}]\ndeps = [\"t{}\"]\n", i + 1));
    }
    config.push_str(&format!("[tasks.t{}]\n{last}\n", depth - 1));
    config
}

#[test]
fn a_task_chain_deeper_than_the_stack_is_listed_and_planned() {
    let project = Project::sample().with_file("project.toml", &chain(50_000, "run = \"true\""));
    let run = project.pybuild(&["help"]).success();
    assert!(run.stdout.contains("\n  t49999 "), "{}", run.describe());
    project.pybuild(&["help", "t0"]).success();
    let run = project.pybuild(&["status", "t0"]).success();
    let last = run.stdout.lines().last().unwrap_or_default();
    assert!(last.contains("always runs"), "{}", run.describe());
    assert!(run.stdout.contains("\nt0 "), "{}", run.describe());

    // Closed into a cycle, it is refused where the cycle starts.
    project.write("project.toml", &chain(50_000, "deps = [\"t0\"]"));
    let run = project.pybuild(&["status", "t0"]).failure(2);
    assert!(
        run.stderr
            .contains("project.toml:8:9: tasks depend on each other in a cycle: t0 → t1 → t2 → t3 → … 49993 more … → t49997 → t49998 → t49999 → t0\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn what_a_task_says_of_itself_is_shown_escaped() {
    let config = format!(
        "{}\n[tasks.cls]\nhelp = \"x\\u001b[2Jy\"\nrun = [[\"printf\", \"\\u001b]0;pwned\\u0007\"]]\n",
        crate::support::SAMPLE_CONFIG
    );
    let project = Project::sample().with_file("project.toml", &config);
    let run = project.pybuild(&["help", "cls"]).success();
    assert!(
        run.stdout.starts_with("x\\u{1b}[2Jy\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("printf \\u{1b}]0;pwned\\u{7}\n"),
        "{}",
        run.describe()
    );
    let overview = project.pybuild(&["help"]).success();
    assert!(
        overview.stdout.contains("  x\\u{1b}[2Jy\n"),
        "{}",
        overview.describe()
    );
    for out in [&run.stdout, &overview.stdout] {
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    }
}

/// A reader that stops early closes the pipe: pybuild ends quietly, as `cat` does (killed
/// by SIGPIPE, nothing on stderr), without a panic. pybuild's own status is checked, not
/// that of a pipeline ending in `head`.
#[test]
fn a_closed_pipe_ends_pybuild_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;

    // More help than a pipe buffers, so pybuild is still writing when the reader leaves.
    let mut config = format!("{}\n", crate::support::SAMPLE_CONFIG);
    for i in 0..3000 {
        config.push_str(&format!(
            "[tasks.task{i}]\nhelp = \"task number {i}, described at some length\"\nrun = \"true\"\n"
        ));
    }
    let project = crate::support::Project::fixture("sample").with_file("project.toml", &config);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pybuild"))
        .arg("help")
        .current_dir(&project.root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "pybuild help printed nothing");
    // The reader is dropped here: the pipe is closed with most of the help unread.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "pybuild did not end as cat does on a closed pipe: {:?}\n{stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{stderr}");
}
