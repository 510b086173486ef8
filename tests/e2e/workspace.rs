//! Many apps in one uv workspace: one venv synced with every member, one bundle per app
//! holding exactly that app's closure (its workspace libraries as code from the sources,
//! its third-party distributions from the venv), each rebuilt only when its own inputs
//! change.

use std::fs;

use crate::support::Project;

const CONFIG: &str = "[project]\nname = \"ws\"\n";

fn workspace() -> Project {
    Project::fixture("workspace").with_file("project.toml", CONFIG)
}

/// The distributions a manifest lists, as `name==version`.
fn shipped(project: &Project, manifest: &str) -> Vec<String> {
    let manifest: serde_json::Value = serde_json::from_str(&project.read(manifest)).unwrap();
    let dists = manifest["distributions"].as_object().unwrap();
    dists
        .iter()
        .map(|(name, version)| format!("{name}=={}", version.as_str().unwrap()))
        .collect()
}

fn edit(project: &Project, rel: &str, from: &str, to: &str) {
    let text = project.read(rel);
    assert!(text.contains(from), "{rel} holds no {from:?}");
    project.write(rel, &text.replace(from, to));
}

#[test]
fn each_app_ships_its_closure_and_is_rebuilt_only_for_its_own_inputs() {
    let project = workspace();
    let run = project.pybuild(&["bundle", "-j", "2"]).success();
    // The setup is the workspace's, made once: an app runs its own steps only.
    for app in ["ws-api", "ws-worker"] {
        let own: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with(&format!("{app}/")))
            .collect();
        assert!(
            own.iter().all(|l| l.starts_with(&format!("{app}/bundle "))),
            "{}",
            run.describe()
        );
    }
    let api = project.exec("dist/api.pex", &[]).success();
    assert_eq!(api.stdout, "api v1: core v1 greets api example.org\n");
    let worker = project.exec("dist/worker.pex", &[]).success();
    assert_eq!(worker.stdout, "worker v1: core v1 greets worker\n");
    // Each manifest holds its app's closure from uv.lock, nothing of the other app's.
    assert_eq!(
        shipped(&project, "dist/api.manifest.json"),
        [
            "idna==3.21",
            "six==1.17.0",
            "ws-api==1.0.0",
            "ws-core==0.3.0"
        ]
    );
    assert_eq!(
        shipped(&project, "dist/worker.manifest.json"),
        [
            "click==8.5.1",
            "six==1.17.0",
            "ws-core==0.3.0",
            "ws-worker==1.0.0"
        ]
    );

    // The library both apps share, edited: both are rebuilt, and both run the new code
    // (not a build of the library pex made once from its editable install).
    edit(
        &project,
        "libs/core/src/ws_core/__init__.py",
        "core v1",
        "core v2",
    );
    let run = project.pybuild(&["bundle"]).success();
    assert!(run.step_ran("ws-api/bundle") && run.step_ran("ws-worker/bundle"));
    let api = project.exec("dist/api.pex", &[]).success();
    assert_eq!(api.stdout, "api v1: core v2 greets api example.org\n");
    let worker = project.exec("dist/worker.pex", &[]).success();
    assert_eq!(worker.stdout, "worker v1: core v2 greets worker\n");

    // One app edited: only it is rebuilt; the other bundle keeps its bytes.
    let worker_bytes = fs::read(project.path("dist/worker.pex")).unwrap();
    edit(&project, "apps/api/src/ws_api/cli.py", "api v1", "api v2");
    let run = project.pybuild(&["bundle"]).success();
    assert!(run.step_ran("ws-api/bundle"), "{}", run.describe());
    assert!(!run.step_ran("ws-worker/bundle"), "{}", run.describe());
    let api = project.exec("dist/api.pex", &[]).success();
    assert_eq!(api.stdout, "api v2: core v2 greets api example.org\n");
    assert!(fs::read(project.path("dist/worker.pex")).unwrap() == worker_bytes);

    // Nothing changed: no process at all, for the whole workspace.
    let (run, execs) = project.pybuild_traced(&["bundle"]);
    run.success();
    assert_eq!(execs.len(), 1, "a no-op started processes:\n{execs:#?}");

    // status: the shared steps, then each app's.
    let status = project.pybuild(&["status", "--json"]).success();
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(report["fresh"], true, "{}", status.stdout);
    let apps: Vec<&str> = report["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["name"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["ws-api", "ws-worker"]);
    assert_eq!(report["apps"][1]["bundle"]["output"], "dist/worker.pex");
    // Each app's descriptors, from the top-level section with its own keys merged over.
    project.write(
        "project.toml",
        &format!(
            "{CONFIG}\n[deploy.marathon]\ncpus = 0.5\n\n[apps.ws-api.deploy.marathon]\ncpus = 1.0\n"
        ),
    );
    let run = project.pybuild(&["deploy", "marathon"]).success();
    assert!(!run.step_ran("ws-api/bundle"), "{}", run.describe());
    for (app, cpus, pex) in [("ws-api", 1.0, "api.pex"), ("ws-worker", 0.5, "worker.pex")] {
        let definition: serde_json::Value =
            serde_json::from_str(&project.read(&format!("dist/{app}.marathon.json"))).unwrap();
        assert_eq!(definition["id"], format!("/{app}"));
        assert_eq!(definition["cpus"], cpus, "{definition}");
        let cmd = definition["cmd"].as_str().unwrap();
        assert!(cmd.ends_with(&format!("./{pex}")), "{cmd}");
    }
    edit(
        &project,
        "apps/worker/src/ws_worker/cli.py",
        "worker v1",
        "worker v2",
    );
    let status = project
        .pybuild(&["status", "--json", "--exit-code"])
        .failure(1);
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(report["apps"][0]["fresh"], true, "{}", status.stdout);
    assert_eq!(report["apps"][1]["fresh"], false, "{}", status.stdout);
}

#[test]
fn package_and_the_member_directory_choose_the_apps() {
    let project = workspace();
    let run = project.pybuild(&["bundle", "-p", "ws-api"]).success();
    assert!(run.step_ran("ws-api/bundle"), "{}", run.describe());
    assert!(project.path("dist/api.pex").is_file());
    assert!(!project.path("dist/worker.pex").exists());

    // From inside a member, that member is the default, as with cargo and uv.
    let run = project
        .pybuild(&["-C", "apps/worker/src", "bundle"])
        .success();
    assert!(run.step_ran("ws-worker/bundle"), "{}", run.describe());
    assert!(!run.stderr.contains("ws-api/"), "{}", run.describe());
    assert_eq!(
        project.exec("dist/worker.pex", &[]).success().stdout,
        "worker v1: core v1 greets worker\n"
    );

    let run = project.pybuild(&["bundle", "-p", "ws-core"]).failure(2);
    assert!(
        run.stderr.contains("ws-core is a library of the workspace"),
        "{}",
        run.describe()
    );
    let run = project
        .pybuild(&["bundle", "--package", "ws-apii"])
        .failure(2);
    assert!(
        run.stderr.contains("did you mean `ws-api`?"),
        "{}",
        run.describe()
    );
    // A control character in the argument is shown escaped, not written to the terminal.
    let run = project
        .pybuild(&["bundle", "-p", "ws\n\u{1b}[2Jx"])
        .failure(2);
    assert!(
        run.stderr.contains("`--package ws\\n\\u{1b}[2Jx`"),
        "{}",
        run.describe()
    );
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.describe());

    // A member the api does not depend on registers a plugin: the venv's tests see it,
    // the api's bundle does not, and says so.
    let worker = project.read("apps/worker/pyproject.toml");
    project.write(
        "apps/worker/pyproject.toml",
        &format!(
            "{worker}\n[project.entry-points.\"ws.plugins\"]\nwork = \"ws_worker.cli:main\"\n"
        ),
    );
    edit(&project, "apps/api/src/ws_api/cli.py", "api v1", "api v2");
    let run = project.pybuild(&["bundle", "-p", "ws-api"]).success();
    assert!(
        run.stderr
            .contains("register entry points: ws-worker ([ws.plugins])"),
        "{}",
        run.describe()
    );
    let manifest = project.read("dist/api.manifest.json");
    assert!(
        manifest.contains("plugins: members outside the closure"),
        "{manifest}"
    );

    // A dependency added without `uv lock`, built offline (the venv synced to the lock as
    // it is): the app's editable install asks for click, which the venv holds for the
    // worker; the bundle would carry what the lock does not give the app.
    edit(
        &project,
        "apps/api/pyproject.toml",
        "[\"ws-core\", \"idna\"]",
        "[\"ws-core\", \"idna\", \"click\"]",
    );
    let run = project.pybuild(&["--offline", "bundle", "-p", "ws-api"]);
    let run = run.failure(1);
    assert!(
        run.stderr
            .contains("click 8.5.1: not in ws-api's closure in uv.lock"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/api.pex", &[]).success().stdout,
        "api v2: core v1 greets api example.org\n"
    );
}

/// `command` with `settings` after `[project]` in project.toml: exit 2, and each of
/// `said` in the error.
#[track_caller]
fn refused(project: &Project, settings: &str, command: &str, said: &[&str]) {
    project.write("project.toml", &format!("{CONFIG}\n{settings}"));
    let run = project.pybuild(&[command]).failure(2);
    for text in said {
        assert!(run.stderr.contains(text), "{text:?}\n{}", run.describe());
    }
}

#[test]
fn apps_settings_are_checked_against_the_workspace() {
    let project = workspace();
    // Before any setup: each app's bundle waits for the workspace's, as a project's does.
    let status = project.pybuild(&["status", "--json"]).success();
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let bundle = &report["apps"][0]["steps"][0];
    assert_eq!(bundle["fresh"], false, "{}", status.stdout);
    assert_eq!(bundle["reasons"][0]["kind"], "unknown", "{}", status.stdout);

    let no_app = "[apps.ws-apu.bundle]\nconsole-script = \"api\"\n";
    refused(
        &project,
        no_app,
        "status",
        &["project.toml:4:", "did you mean `ws-api`?"],
    );
    let library = "[apps.ws-core.bundle]\noutput = \"dist/core.pex\"\n";
    refused(
        &project,
        library,
        "status",
        &["a member without a console script"],
    );
    let shiv = "[apps.ws-api.bundle]\nkind = \"shiv\"\n";
    refused(
        &project,
        shiv,
        "bundle",
        &["project.toml:5:", "bundled as PEX files only"],
    );
    // Run inside a library no app depends on: nothing to build, and it says so.
    project.write(
        "libs/orphan/pyproject.toml",
        "[project]\nname = \"ws-orphan\"\nversion = \"0.1.0\"\n\n\
         [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    );
    project.write("project.toml", CONFIG);
    let run = project.pybuild(&["-C", "libs/orphan", "bundle"]).failure(2);
    assert!(
        run.stderr
            .contains("ws-orphan is a library no app of the workspace depends on"),
        "{}",
        run.describe()
    );
    std::fs::remove_dir_all(project.path("libs/orphan")).unwrap();

    // `setup` and the tasks are the workspace's: no app reports or builds them.
    project.write(
        "project.toml",
        &format!("{CONFIG}\n[tasks.hello]\nrun = \"true\"\n"),
    );
    for target in ["setup", "hello"] {
        let status = project.pybuild(&["status", "--json", target]).success();
        let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert!(report.get("apps").is_none(), "{}", status.stdout);
        assert!(!report["steps"].as_array().unwrap().is_empty());
    }

    // Two apps given one output in their own tables: said at the second one's.
    let one_output = "[apps.ws-api.bundle]\noutput = \"dist/x.pex\"\n\n\
                      [apps.ws-worker.bundle]\noutput = \"dist/x.pex\"\n";
    refused(
        &project,
        one_output,
        "bundle",
        &["project.toml:8:", "is both ws-api's and ws-worker's"],
    );

    // One output for two apps: each would overwrite the other's.
    let one_name = "[image]\nname = \"team-app\"\n";
    refused(
        &project,
        one_name,
        "bundle",
        &["project.toml:5:", "is both ws-api's and ws-worker's"],
    );
}

/// The fixture with a root that is a project too (its development tools, no code):
/// `uv sync` there installs the root alone, unless told `--all-packages`. The lock is
/// what `uv lock` 0.13.9 writes for it.
fn rooted_workspace() -> Project {
    let project = Project::fixture("workspace").with_file(
        "pyproject.toml",
        "[project]\nname = \"ws-root\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\n\
         dependencies = []\n\n[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/*\"]\n",
    );
    let lock = project
        .read("uv.lock")
        .replace("    \"ws-core\",\n", "    \"ws-core\",\n    \"ws-root\",\n")
        .replace(
            "[[package]]\nname = \"ws-worker\"",
            "[[package]]\nname = \"ws-root\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n\n\
             [[package]]\nname = \"ws-worker\"",
        );
    project.with_file("uv.lock", &lock)
}

#[test]
fn init_at_the_root_sets_up_every_member_and_each_app_bundles() {
    let project = rooted_workspace();
    let run = project.pybuild(&["init"]).success();
    assert!(
        run.stderr.contains("2 apps and 2 libraries"),
        "{}",
        run.describe()
    );
    let config = project.read("project.toml");
    assert!(config.contains("# [apps.ws-worker.bundle]"), "{config}");
    // The workspace is named as its root project is.
    assert!(config.contains("\nname = \"ws-root\"\n"), "{config}");
    // One venv for the workspace, every member installed editable into it.
    let members = project
        .exec(
            ".venv/bin/python",
            &["-c", "import ws_api, ws_core, ws_worker; print('ok')"],
        )
        .success();
    assert_eq!(members.stdout, "ok\n");
    project.pybuild(&["bundle", "-p", "ws-worker"]).success();
    assert_eq!(
        project.exec("dist/worker.pex", &[]).success().stdout,
        "worker v1: core v1 greets worker\n"
    );
}

#[test]
fn an_app_built_as_a_wheel_carries_its_libraries_built_from_the_sources() {
    let project = workspace().with_file(
        "project.toml",
        &format!("{CONFIG}\n[apps.ws-worker.bundle]\nstrategy = \"wheel\"\n"),
    );
    let run = project
        .pybuild(&["-v", "bundle", "-p", "ws-worker"])
        .success();
    assert!(
        run.stderr.contains("pex strategy: wheel"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/worker.pex", &[]).success().stdout,
        "worker v1: core v1 greets worker\n"
    );
    edit(
        &project,
        "libs/core/src/ws_core/__init__.py",
        "core v1",
        "core v2",
    );
    project.pybuild(&["bundle", "-p", "ws-worker"]).success();
    assert_eq!(
        project.exec("dist/worker.pex", &[]).success().stdout,
        "worker v1: core v2 greets worker\n"
    );
    assert_eq!(
        shipped(&project, "dist/worker.manifest.json"),
        [
            "click==8.5.1",
            "six==1.17.0",
            "ws-core==0.3.0",
            "ws-worker==1.0.0"
        ]
    );
}

#[test]
fn a_second_checkout_fetches_each_app_checked_against_its_sources_and_libraries() {
    let server = crate::cache_server::Server::start();
    let url = server.url();
    let remote = [("PYBUILD_REMOTE_CACHE", url.as_str())];
    let a = workspace();
    a.pybuild_with_env(&["bundle"], &remote).success();
    assert!(server.requests("PUT") >= 4, "bundles uploaded");

    // An unsigned entry is taken only when every file of it checks out here: the app's
    // and its library's code against the sources, their metadata against the venv.
    let b = workspace();
    let fetched = b.pybuild_with_env(&["bundle"], &remote).success();
    for app in ["ws-api", "ws-worker"] {
        let line = format!("{app}/bundle done");
        assert!(
            fetched
                .stderr
                .lines()
                .any(|l| l.starts_with(&line) && l.ends_with("(fetched)")),
            "{}",
            fetched.describe()
        );
    }
    assert_eq!(
        fs::read(b.path("dist/api.pex")).unwrap(),
        fs::read(a.path("dist/api.pex")).unwrap()
    );

    // The library edited in a third checkout: no entry has its code, both apps build,
    // on the dependencies PEXes the first checkout made (their keys hold no member's
    // files, which name each checkout's path).
    let c = workspace();
    edit(
        &c,
        "libs/core/src/ws_core/__init__.py",
        "core v1",
        "core v3",
    );
    let built = c.pybuild_with_env(&["-v", "bundle"], &remote).success();
    assert!(built.step_ran("ws-api/bundle"), "{}", built.describe());
    assert!(
        !built.stderr.contains("--venv-repository"),
        "a dependencies PEX was built again\n{}",
        built.describe()
    );
    assert_eq!(
        c.exec("dist/api.pex", &[]).success().stdout,
        "api v1: core v3 greets api example.org\n"
    );
}
