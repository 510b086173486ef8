//! `pybuild watch` on real file events. One watched project goes through every scenario
//! in turn, since each project's first bundle costs tens of seconds. Runs are counted from
//! watch's status lines; waits are generous and nothing is timed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Project, SAMPLE_CONFIG};

/// A `pybuild watch` in the background, with what it printed so far.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(project: &Project, args: &[&str]) -> Watch {
        let mut child = project.spawn_pybuild(args);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            std::io::copy(&mut BufReader::new(stdout), &mut std::io::sink())
        });
        Watch { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The status lines of runs that ran something (ok or failed).
    fn builds(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with("watch: ok") || l.starts_with("watch: failed"))
            .collect()
    }

    fn output(&self) -> String {
        self.lines().join("\n")
    }

    /// Sends SIGINT, as Ctrl-C does; checks that watch exits with 130; returns its output.
    fn interrupt(self) -> String {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let Watch { mut child, lines } = self;
        let code = child.wait().unwrap().code();
        let output = lines.lock().unwrap().join("\n");
        assert_eq!(code, Some(130), "{output}");
        output
    }

    /// Waits until watch exits by itself; returns its exit code and output.
    fn wait_for_exit(self) -> (Option<i32>, String) {
        let Watch { mut child, lines } = self;
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("watch did not stop\n{}", lines.lock().unwrap().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let code = child.wait().unwrap().code();
        std::thread::sleep(Duration::from_millis(100)); // its last lines
        let output = lines.lock().unwrap().join("\n");
        (code, output)
    }

    /// Waits until `count` runs have ended with something built.
    #[track_caller]
    fn wait_for_builds(&self, project: &Project, count: usize) {
        project.wait_until(&format!("{count} builds\n{}", self.output()), || {
            self.builds().len() >= count
        });
    }
}

fn greeting(project: &Project) -> String {
    bundle_says(project, "greeting:")
}

/// The line of the bundle's output that starts with `prefix`.
fn bundle_says(project: &Project, prefix: &str) -> String {
    let run = project.exec("dist/greet.pex", &[]).success();
    let line = run.stdout.lines().find(|l| l.starts_with(prefix));
    line.unwrap_or_default().to_string()
}

/// Waits a minute at most until `ready` holds: a build takes seconds.
#[track_caller]
fn within_a_minute(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn has(project: &Project, module: &str) -> bool {
    project
        .exec("dist/greet.pex", &["--has", module])
        .success()
        .stdout
        == "present\n"
}

fn words(greeting: &str) -> String {
    format!("def word():\n    return \"{greeting}\"\n")
}

#[test]
fn watch_rebuilds_on_changes_only_and_stops_with_its_children() {
    let project = Project::sample();
    // The wheel build runs pex on every bundle, so a build lasts long enough to be
    // interrupted or cancelled: a layered one starts no pex for an edit.
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nstrategy = \"wheel\"\n"),
    );
    let watch = Watch::start(&project, &["watch", "--debounce", "100"]);
    watch.wait_for_builds(&project, 1);
    assert!(
        watch.builds()[0].starts_with("watch: ok"),
        "{}",
        watch.output()
    );
    assert_eq!(greeting(&project), "greeting: hello");
    let original = project.read("src/greeter/words.py");

    // Outputs, the venv and caches are not inputs; a touch or an identical re-save changes
    // nothing: no build, one "nothing to do" that names only the touched inputs.
    project.write("dist/other.txt", "x");
    project.write("build/lib/greeter/words.py", "x");
    project.write(".venv/lib/extra.py", "x");
    project.write("src/greeter/__pycache__/words.cpython-311.pyc", "x");
    project.write("src/greeter.egg-info/SOURCES.txt", "x");
    let later =
        filetime::FileTime::from_system_time(std::time::SystemTime::now() + Duration::from_secs(5));
    filetime::set_file_mtime(project.path("src/greeter/cli.py"), later).unwrap();
    project.write("src/greeter/words.py", &original);
    project.wait_until(&format!("a no-op run\n{}", watch.output()), || {
        watch
            .lines()
            .iter()
            .any(|l| l.starts_with("watch: nothing to do") && l.contains("words.py"))
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(watch.builds().len(), 1, "{}", watch.output());
    let noise = ["dist/", "build/", ".venv", "__pycache__", "egg-info"];
    assert!(
        !watch
            .lines()
            .iter()
            .any(|l| l.starts_with("watch:") && noise.iter().any(|n| l.contains(n))),
        "{}",
        watch.output()
    );

    // A burst of 200 new modules in a new package directory: one or two builds. A
    // save-by-rename afterwards marks the end of the burst's builds.
    let before = watch.builds().len();
    project.write("src/greeter/many/__init__.py", "");
    for i in 0..200 {
        project.write(&format!("src/greeter/many/m{i}.py"), &format!("N = {i}\n"));
    }
    project.wait_until("the burst is bundled", || {
        watch.builds().len() > before && has(&project, "greeter.many.m199")
    });
    std::thread::sleep(Duration::from_secs(1));
    project.write("src/greeter/words.py.swp", &words("renamed over"));
    fs::rename(
        project.path("src/greeter/words.py.swp"),
        project.path("src/greeter/words.py"),
    )
    .unwrap();
    project.wait_until(
        &format!("the renamed file is bundled\n{}", watch.output()),
        || greeting(&project) == "greeting: renamed over",
    );
    let burst = watch.builds().len() - before - 1;
    assert!(
        (1..=2).contains(&burst),
        "{burst} builds\n{}",
        watch.output()
    );
    assert!(has(&project, "greeter.many.m0"));

    // A failing build is reported and watch goes on; the fix, and an edit, are bundled.
    let config = project.read("project.toml");
    let before = watch.builds().len();
    project.write(
        "project.toml",
        &format!("{config}pex-args = [\"--no-such-option\"]\n"),
    );
    watch.wait_for_builds(&project, before + 1);
    let failed = watch.builds().last().unwrap().clone();
    assert!(failed.starts_with("watch: failed"), "{}", watch.output());
    assert!(
        watch.output().contains("--no-such-option"),
        "the error is shown\n{}",
        watch.output()
    );
    project.write("project.toml", &config);
    project.write("src/greeter/words.py", &words("fixed"));
    project.wait_until(&format!("the fix is bundled\n{}", watch.output()), || {
        watch.builds().len() >= before + 2 && greeting(&project) == "greeting: fixed"
    });
    assert!(watch.builds().last().unwrap().starts_with("watch: ok"));

    // Between runs the project is not locked: a manual build finds everything fresh.
    let manual = project.pybuild(&["bundle", "--no-wait"]).success();
    assert!(!manual.step_ran("bundle"), "{}", manual.describe());

    // Ctrl-C during a build ends watch and every process it started.
    let root = project.root.to_str().unwrap().to_string();
    project.write("src/greeter/words.py", &words("interrupted"));
    let pex = format!("{root}/.venv/bin/pex");
    project.wait_until("pex runs", || !project.processes_running(&pex).is_empty());
    let output = watch.interrupt();
    std::thread::sleep(Duration::from_millis(500));
    let left = project.processes_running(&root);
    assert!(left.is_empty(), "left running: {left:?}\n{output}");

    // The interrupted bundle was not recorded as fresh.
    let status = project.pybuild(&["status"]).success();
    assert!(
        status.stdout.contains("bundle   stale"),
        "{}",
        status.describe()
    );

    // With --restart, a change cancels the build in progress, which starts again.
    let watch = Watch::start(&project, &["watch", "--restart", "--debounce", "100"]);
    project.wait_until("pex runs", || !project.processes_running(&pex).is_empty());
    project.write("src/greeter/words.py", &words("restarted"));
    watch.wait_for_builds(&project, 1);
    assert!(
        watch.output().contains("watch: cancelled"),
        "{}",
        watch.output()
    );
    assert!(
        watch.builds()[0].starts_with("watch: ok"),
        "{}",
        watch.output()
    );
    assert_eq!(greeting(&project), "greeting: restarted");
    watch.interrupt();

    // A task as the target: it runs at start and again after an edit to its sources.
    project.write(
        "project.toml",
        &format!(
            "{config}\n[tasks.count]\nrun = \"cat src/greeter/*.py | wc -l > lines.txt\"\nsources = [\"src/**/*.py\"]\noutputs = [\"lines.txt\"]\n"
        ),
    );
    let watch = Watch::start(&project, &["watch", "count", "--debounce", "100"]);
    watch.wait_for_builds(&project, 1);
    let lines = project.read("lines.txt");
    project.write("src/greeter/extra.py", "A = 1\nB = 2\n");
    watch.wait_for_builds(&project, 2);
    assert!(
        watch.builds().iter().all(|b| b.starts_with("watch: ok")),
        "{}",
        watch.output()
    );
    assert_ne!(project.read("lines.txt"), lines, "{}", watch.output());
    watch.interrupt();
}

#[test]
fn watch_follows_linked_inputs_and_stops_when_the_project_is_removed() {
    // words.py links into a git-ignored directory, which is not watched for itself.
    let project = Project::sample()
        .with_file(".gitignore", "shared/\n")
        .with_file("shared/words.py", &words("linked"));
    let relink = |link: &str, target: &Path| {
        fs::remove_file(project.path(link)).unwrap();
        symlink(target, project.path(link)).unwrap();
    };
    relink("src/greeter/words.py", Path::new("../../shared/words.py"));
    let watch = Watch::start(&project, &["watch", "--debounce", "100"]);
    watch.wait_for_builds(&project, 1);
    assert!(
        watch.builds()[0].starts_with("watch: ok"),
        "{}",
        watch.output()
    );
    assert_eq!(greeting(&project), "greeting: linked");
    project.write("shared/words.py", &words("edited"));
    within_a_minute(
        &format!("the link's edited target is bundled\n{}", watch.output()),
        || greeting(&project) == "greeting: edited",
    );

    // A link out of the project, once `external-links` allows it, is followed too.
    let outside = project.root.with_file_name("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("message.txt"), "outside-1\n").unwrap();
    project.write(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[bundle]\nexternal-links = [\"src/greeter/data/message.txt\"]\n"
        ),
    );
    relink("src/greeter/data/message.txt", &outside.join("message.txt"));
    within_a_minute(
        &format!("the outside target is bundled\n{}", watch.output()),
        || bundle_says(&project, "data:") == "data: outside-1",
    );
    fs::write(outside.join("message.txt"), "outside-2\n").unwrap();
    within_a_minute(
        &format!("the outside target's edit is bundled\n{}", watch.output()),
        || bundle_says(&project, "data:") == "data: outside-2",
    );

    // `rm -rf` of the project: watch stops, and puts nothing back.
    fs::remove_dir_all(&project.root).unwrap();
    let (code, output) = watch.wait_for_exit();
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("project.toml"), "{output}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(!project.root.exists(), "{output}");
}

/// `watch --restart` on a task that serves the bundle: each edit ends the service, bundles
/// and starts the new bundle, whose first run uses the one venv of the dependencies (made
/// by the first start) and makes only a small venv of the new code.
#[test]
fn watch_restart_serves_each_edit_on_the_one_dependencies_venv() {
    let project = Project::sample().with_file(
        "src/greeter/server.py",
        "import os, time\nfrom greeter import words\n\
         with open(os.environ['SERVED'], 'a') as log:\n    log.write(words.word() + '\\n')\n\
         time.sleep(3600)\n",
    );
    let pex_root = tempfile::tempdir().unwrap();
    let served = project.path("served.log");
    project.write(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[tasks.serve]\nrun = \"SERVED={} PEX_ROOT={} dist/greet.pex --has greeter.server\"\ndeps = [\"bundle\"]\n",
            served.display(),
            pex_root.path().display()
        ),
    );
    let serving = |word: &str| {
        fs::read_to_string(&served)
            .unwrap_or_default()
            .lines()
            .last()
            == Some(word)
    };
    let watch = Watch::start(
        &project,
        &["watch", "--restart", "serve", "--debounce", "100"],
    );
    within_a_minute(&format!("the service starts\n{}", watch.output()), || {
        serving("hello")
    });
    for word in ["one", "two", "three", "four"] {
        project.write("src/greeter/words.py", &words(word));
        within_a_minute(
            &format!("the service restarts on {word}\n{}", watch.output()),
            || serving(word),
        );
    }
    watch.interrupt();
    let deps: Vec<_> = fs::read_dir(pex_root.path().join("pybuild/deps"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("pyvenv.cfg").is_file())
        .collect();
    assert_eq!(
        deps.len(),
        1,
        "the restarts made no or other dependencies venvs"
    );
    assert!(
        !pex_root.path().join("venvs").exists(),
        "a restart fell back to pex's venv of the whole PEX"
    );
    let codes = fs::read_dir(pex_root.path().join("pybuild/code"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert!(codes <= 3, "{codes} code venvs left after 5 starts");
}

#[test]
fn watch_in_a_workspace_rebuilds_the_apps_an_edit_reaches() {
    let project =
        Project::fixture("workspace").with_file("project.toml", "[project]\nname = \"ws\"\n");
    let says = |pex: &str| project.exec(pex, &[]).success().stdout;
    let watch = Watch::start(&project, &["watch"]);
    watch.wait_for_builds(&project, 1);
    assert_eq!(
        says("dist/api.pex"),
        "api v1: core v1 greets api example.org\n"
    );

    // The library both apps share: both rebuilt, with its new code.
    let core = "libs/core/src/ws_core/__init__.py";
    project.write(core, &project.read(core).replace("core v1", "core v2"));
    watch.wait_for_builds(&project, 2);
    assert_eq!(
        says("dist/api.pex"),
        "api v1: core v2 greets api example.org\n"
    );
    assert_eq!(
        says("dist/worker.pex"),
        "worker v1: core v2 greets worker\n"
    );
    let last = watch.builds().pop().unwrap();
    assert!(
        last.contains("ws-api/bundle") && last.contains("ws-worker/bundle"),
        "{last}"
    );

    // One app: only it.
    let cli = "apps/worker/src/ws_worker/cli.py";
    project.write(cli, &project.read(cli).replace("worker v1", "worker v2"));
    watch.wait_for_builds(&project, 3);
    assert_eq!(
        says("dist/worker.pex"),
        "worker v2: core v2 greets worker\n"
    );
    let last = watch.builds().pop().unwrap();
    assert!(
        last.contains("ws-worker/bundle") && !last.contains("ws-api/bundle"),
        "{last}"
    );
    watch.interrupt();
}
