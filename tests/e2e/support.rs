//! A small fluent harness: a temp copy of a fixture project, `pybuild` run in it, and
//! assertions on what a user sees. Every test shares one pip, uv and pex cache, pybuild's
//! own cache (its wheelhouse and the uv it fetches), and one root where shiv bundles
//! extract (under cargo's target tmpdir), so downloads and wheel builds happen once per
//! machine.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SAMPLE_CONFIG: &str =
    "[project]\nname = \"greeter\"\n\n[env]\nrequirements = [\"requirements.txt\"]\n";

pub struct Project {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-cache")
}

/// The uv pybuild fetches into the shared cache (there after the first venv is made).
pub fn fetched_uv() -> PathBuf {
    cache_dir().join("pybuild/uv/0.13.9/bin/uv")
}

impl Project {
    /// A fresh copy of `tests/fixtures/NAME`.
    pub fn fixture(name: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix(&format!("pybuild-{name}-"))
            .tempdir()
            .unwrap();
        let root = dir.path().join(name);
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
            &root,
        );
        Project { _dir: dir, root }
    }

    /// A copy of this project, venv and `.pybuild/` included (`cp -a`), elsewhere: as a
    /// user copies or moves a checkout.
    pub fn copy(&self) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("pybuild-copy-")
            .tempdir()
            .unwrap();
        let root = dir.path().join(self.root.file_name().unwrap());
        let status = Command::new("cp")
            .arg("-a")
            .arg(&self.root)
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success());
        Project { _dir: dir, root }
    }

    /// The sample app with a minimal project.toml.
    pub fn sample() -> Project {
        Project::fixture("sample").with_file("project.toml", SAMPLE_CONFIG)
    }

    pub fn with_file(self, rel: &str, content: &str) -> Project {
        self.write(rel, content);
        self
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The project venv's site-packages.
    pub fn site_packages(&self) -> PathBuf {
        let lib = self.path(".venv/lib");
        let python = fs::read_dir(&lib).unwrap().next().unwrap().unwrap().path();
        python.join("site-packages")
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let cache = cache_dir();
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.root)
            .env("PIP_CACHE_DIR", cache.join("pip"))
            .env("PEX_ROOT", cache.join("pex"))
            .env("PYBUILD_CACHE_DIR", cache.join("pybuild"))
            .env("SHIV_ROOT", cache.join("shiv"))
            .env("UV_CACHE_DIR", cache.join("uv"))
            .env("NO_COLOR", "1")
            .env_remove("VIRTUAL_ENV");
        command
    }

    /// `pybuild ARGS` in the project.
    pub fn pybuild(&self, args: &[&str]) -> Run {
        Run::from(
            self.command(Path::new(env!("CARGO_BIN_EXE_pybuild")), args)
                .output()
                .unwrap(),
        )
    }

    /// `pybuild ARGS` with extra environment variables.
    pub fn pybuild_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(Path::new(env!("CARGO_BIN_EXE_pybuild")), args);
        command.envs(env.iter().copied());
        Run::from(command.output().unwrap())
    }

    /// `pybuild ARGS` without the environment variables of `unset` (the harness sets
    /// `NO_COLOR`), then with those of `env`.
    pub fn pybuild_with_env_unset(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        unset: &[&str],
    ) -> Run {
        let mut command = self.command(Path::new(env!("CARGO_BIN_EXE_pybuild")), args);
        for name in unset {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        Run::from(command.output().unwrap())
    }

    /// `pybuild ARGS` under strace; returns the run and the programs it executed.
    pub fn pybuild_traced(&self, args: &[&str]) -> (Run, Vec<String>) {
        let (run, lines) = self.pybuild_strace(args, "execve");
        let execs = lines
            .into_iter()
            .filter(|l| l.contains("execve("))
            .collect();
        (run, execs)
    }

    /// `pybuild ARGS` under `strace -f -e trace=openat`: the run, and each path it opened
    /// with whether it opened it as a folder (to list it).
    pub fn pybuild_opens(&self, args: &[&str]) -> (Run, Vec<(String, bool)>) {
        let (run, lines) = self.pybuild_strace(args, "openat");
        let opens = lines
            .iter()
            .filter(|l| l.contains("openat("))
            .filter_map(|l| Some((l.split('"').nth(1)?.to_string(), l.contains("O_DIRECTORY"))))
            .collect();
        (run, opens)
    }

    /// `pybuild ARGS` under `strace -f -e trace=SYSCALLS`: the run and the calls that
    /// succeeded.
    fn pybuild_strace(&self, args: &[&str], syscalls: &str) -> (Run, Vec<String>) {
        // Outside the project: inside, it would be a new input file.
        let trace = self.root.with_extension("strace");
        let strace = which_strace();
        let filter = format!("trace={syscalls}");
        let mut full = vec!["-f", "-qq", "-e", &filter, "-o", trace.to_str().unwrap()];
        full.push(env!("CARGO_BIN_EXE_pybuild"));
        full.extend_from_slice(args);
        let run = Run::from(self.command(&strace, &full).output().unwrap());
        let lines = fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .filter(|l| !l.contains("= -1"))
            .map(str::to_string)
            .collect();
        fs::remove_file(trace).unwrap();
        (run, lines)
    }

    /// `pybuild ARGS` started by `wrapper` (a program and its arguments, such as
    /// `setpriv ... --`), to run it with fewer rights than the test's.
    pub fn pybuild_wrapped(&self, wrapper: &[&str], args: &[&str]) -> Run {
        let (program, wrapper_args) = wrapper.split_first().unwrap();
        let mut full = wrapper_args.to_vec();
        full.push(env!("CARGO_BIN_EXE_pybuild"));
        full.extend_from_slice(args);
        Run::from(self.command(Path::new(program), &full).output().unwrap())
    }

    /// `pybuild ARGS` in the background, in a process group of its own (so the test can
    /// kill it with all its children, as Ctrl-C or an OOM kill would).
    pub fn spawn_pybuild(&self, args: &[&str]) -> Child {
        self.spawn_pybuild_with_env(args, &[])
    }

    /// [`Project::spawn_pybuild`] with extra environment variables.
    pub fn spawn_pybuild_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        self.command(Path::new(env!("CARGO_BIN_EXE_pybuild")), args)
            .envs(env.iter().copied())
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits (generously) until `ready` holds.
    #[track_caller]
    pub fn wait_until(&self, what: &str, ready: impl Fn() -> bool) {
        let start = Instant::now();
        while !ready() {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "timed out waiting until {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `.pybuild/logs/STEP.log` mentions `text` (the step started that command).
    pub fn log_mentions(&self, step: &str, text: &str) -> bool {
        fs::read_to_string(self.path(&format!(".pybuild/logs/{step}.log")))
            .is_ok_and(|log| log.contains(text))
    }

    /// The pids of running processes whose command line contains `text`.
    pub fn processes_running(&self, text: &str) -> Vec<u32> {
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(text)
                })
            })
            .collect()
    }

    /// Runs `program` (a path) in the project, with the shared caches, and ARGS.
    pub fn run_program(&self, program: &Path, args: &[&str]) -> Run {
        Run::from(self.command(program, args).output().unwrap())
    }

    /// `pip install SPEC` into the project's venv, as a user would by hand, behind
    /// pybuild's back.
    pub fn install_by_hand(&self, spec: &str) {
        self.exec(".venv/bin/python", &["-m", "pip", "install", "-q", spec])
            .success();
    }

    /// Runs a built bundle (or any program of the project) with ARGS.
    pub fn exec(&self, rel: &str, args: &[&str]) -> Run {
        Run::from(self.command(&self.path(rel), args).output().unwrap())
    }
}

fn which_strace() -> PathBuf {
    ["/usr/bin/strace", "/bin/strace"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("these tests need strace to prove a no-op starts no process: `apt-get install strace` (.ci/run does)")
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn failure(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            code,
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// The status word pybuild printed for a step ("fresh", "running", "done", "failed").
    #[track_caller]
    pub fn step_ran(&self, step: &str) -> bool {
        let prefix = format!("{step:8} ");
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert!(
            !lines.is_empty(),
            "no line for step {step}\n{}",
            self.describe()
        );
        lines.iter().any(|l| l[prefix.len()..].starts_with("done"))
    }

    pub fn describe(&self) -> String {
        format!(
            "exit code {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// SIGKILLs a process, or with `group` its whole process group.
pub fn kill(pid: u32, group: bool) {
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let status = Command::new("kill")
        .args(["-KILL", "--", &target])
        .status()
        .unwrap();
    assert!(status.success(), "kill {target} failed");
}

/// Waits for a background pybuild and collects what it printed.
pub fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server's access log, read once it holds still: a server (nginx, the registry) writes
/// a request's line after answering it, so its client may have ended before the line is
/// there, and a count taken at once can miss it.
pub fn settled_log(path: &Path) -> String {
    let mut text = fs::read_to_string(path).unwrap_or_default();
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let again = fs::read_to_string(path).unwrap_or_default();
        if again == text || start.elapsed() > Duration::from_secs(5) {
            return again;
        }
        text = again;
    }
}
