//! `pybuild init` on projects laid out the ways teams lay them out, to a working bundle.

use crate::support::Project;

#[test]
fn init_on_a_setup_py_src_layout_leads_to_a_working_bundle() {
    let project = Project::fixture("setuppy-app");
    let run = project.pybuild(&["init"]).success();
    assert!(
        run.stderr.contains("from setup.cfg, setup.py") || run.stderr.contains("setup.py"),
        "{}",
        run.describe()
    );
    let config = project.read("project.toml");
    assert!(config.contains("name = \"legacy-tool\""), "{config}");
    assert!(
        config.contains("console-script = \"legacy-tool\""),
        "{config}"
    );
    assert!(
        config.contains("requirements = [\"requirements.txt\"]"),
        "{config}"
    );
    project.pybuild(&["bundle"]).success();
    let out = project.exec("dist/legacy-tool.pex", &[]).success();
    assert_eq!(out.stdout, "legacy-tool 0.4.0: tabulate  ok\n");
}

#[test]
fn init_on_a_pyproject_flat_layout_leads_to_a_working_bundle() {
    let project = Project::fixture("flat-click");
    project.pybuild(&["init"]).success();
    let config = project.read("project.toml");
    assert!(config.contains("name = \"clicker\""), "{config}");
    project.pybuild(&["bundle"]).success();
    let out = project.exec("dist/clicker.pex", &["Bob"]).success();
    assert_eq!(out.stdout, "clicker 2.0.0 says Bob\n");
}

#[test]
fn init_never_overwrites_without_force() {
    let project =
        Project::fixture("flat-click").with_file("project.toml", "[project]\nname = \"mine\"\n");
    let run = project.pybuild(&["init", "--no-setup"]).failure(2);
    assert!(run.stderr.contains("already exists"), "{}", run.describe());
    assert_eq!(project.read("project.toml"), "[project]\nname = \"mine\"\n");
    project
        .pybuild(&["init", "--no-setup", "--force"])
        .success();
    assert!(project.read("project.toml").contains("name = \"clicker\""));
    assert!(
        !project.path(".venv").exists(),
        "--no-setup must only write the file"
    );
}

#[test]
fn init_no_setup_on_three_layouts_writes_a_loadable_config_with_a_task_example() {
    for (fixture, name) in [
        ("sample", "greeter"),
        ("setuppy-app", "legacy-tool"),
        ("flat-click", "clicker"),
    ] {
        let project = Project::fixture(fixture);
        project.pybuild(&["init", "--no-setup"]).success();
        let config = project.read("project.toml");
        assert!(config.contains(&format!("name = \"{name}\"")), "{config}");
        assert!(config.contains("# [tasks.lint]"), "{config}");
        // The file loads: help shows no warning about it.
        let help = project.pybuild(&["help"]).success();
        assert_eq!(help.stderr, "", "{fixture}: {}", help.describe());
        assert!(!project.path(".venv").exists());
    }
}

#[test]
fn init_without_a_python_project_fails_at_once_and_writes_nothing() {
    let project = Project::fixture("sample");
    for file in ["pyproject.toml", "requirements.txt"] {
        std::fs::remove_file(project.path(file)).unwrap();
    }
    let run = project.pybuild(&["init"]).failure(2);
    assert!(
        run.stderr.contains("no Python project") && run.stderr.contains("pyproject.toml"),
        "{}",
        run.describe()
    );
    assert!(!project.path("project.toml").exists());
    assert!(!project.path(".venv").exists());
}

#[test]
fn init_writes_project_toml_with_the_umasks_mode() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::fixture("flat-click");
    project.pybuild(&["init", "--no-setup"]).success();
    let mode = std::fs::metadata(project.path("project.toml"))
        .unwrap()
        .permissions()
        .mode();
    let umask = std::process::Command::new("sh")
        .args(["-c", "umask"])
        .output()
        .unwrap();
    let umask = u32::from_str_radix(String::from_utf8_lossy(&umask.stdout).trim(), 8).unwrap();
    assert_eq!(mode & 0o777, 0o666 & !umask, "{mode:o}");
}

/// The commented default output is the one a build writes: named after the console script
/// the bundle runs, which need not be the project's name (httpie's is `http`).
#[test]
fn init_comments_the_output_named_after_the_console_script() {
    let project = Project::fixture("flat-click");
    let pyproject = project
        .read("pyproject.toml")
        .replace("name = \"clicker\"", "name = \"clicker-cli\"")
        .replace(
            "clicker = \"clicker.app:cli\"",
            "click-it = \"clicker.app:cli\"",
        );
    project.write("pyproject.toml", &pyproject);
    project.pybuild(&["init", "--no-setup"]).success();
    let config = project.read("project.toml");
    assert!(config.contains("console-script = \"click-it\""), "{config}");
    assert!(
        config.contains("\n# output = \"dist/click-it.pex\"\n"),
        "{config}"
    );
}

#[test]
fn init_at_a_workspace_root_writes_one_config_naming_the_apps() {
    let project = Project::fixture("workspace");
    let run = project.pybuild(&["init", "--no-setup"]).success();
    assert!(
        run.stderr
            .contains("a uv workspace of 2 apps and 1 libraries"),
        "{}",
        run.describe()
    );
    let config = project.read("project.toml");
    assert!(config.contains("name = \"workspace\""), "{config}");
    assert!(
        config.contains("# A uv workspace: its members come from `[tool.uv.workspace]`"),
        "{config}"
    );
    assert!(
        config.contains("# Apps: ws-api (apps/api), ws-worker (apps/worker)\n"),
        "{config}"
    );
    assert!(
        config.contains("# Libraries: ws-core (libs/core)\n"),
        "{config}"
    );
    assert!(config.contains("# [apps.ws-api.bundle]\n"), "{config}");
    assert!(config.contains("# [apps.ws-worker.bundle]\n"), "{config}");
    assert!(
        !config.contains("\nconsole-script ="),
        "no script for every app: {config}"
    );
    assert!(!project.path("apps/api/project.toml").exists());
    // It loads: `help` reads it.
    project.pybuild(&["help"]).success();
}

#[test]
fn init_at_a_workspace_root_shows_the_script_of_an_app_with_several() {
    let project = Project::fixture("workspace");
    let pyproject = project.read("apps/worker/pyproject.toml");
    project.write(
        "apps/worker/pyproject.toml",
        &pyproject.replace(
            "[project.scripts]\n",
            "[project.scripts]\nworker-admin = \"ws_worker.cli:main\"\n",
        ),
    );
    project.pybuild(&["init", "--no-setup"]).success();
    let config = project.read("project.toml");
    assert!(
        config.contains(
            "# [apps.ws-worker.bundle]\n# console-script = \"worker-admin\"   # also declared: \"worker\"\n"
        ),
        "{config}"
    );
}

#[test]
fn init_stops_at_a_workspace_error_and_writes_nothing() {
    let project = Project::fixture("workspace");
    let pyproject = project.read("apps/worker/pyproject.toml");
    project.write(
        "apps/worker/pyproject.toml",
        &pyproject.replace("worker = ", "api = "),
    );
    let run = project.pybuild(&["init", "--no-setup"]).failure(2);
    assert!(
        run.stderr
            .contains("console script `api` is defined by two workspace members")
            && run.stderr.contains("apps/worker/pyproject.toml:"),
        "{}",
        run.describe()
    );
    assert!(!project.path("project.toml").exists());
}

#[test]
fn init_in_a_member_points_at_the_workspace_root() {
    let project = Project::fixture("workspace");
    let run = project
        .pybuild(&["-C", "apps/api", "init", "--no-setup"])
        .failure(2);
    assert!(
        run.stderr
            .contains("is in `ws-api`, a member of the uv workspace at")
            && run.stderr.contains("init` at the workspace's root"),
        "{}",
        run.describe()
    );
    assert!(!project.path("apps/api/project.toml").exists());
    project.pybuild(&["init", "--no-setup"]).success();
    let run = project
        .pybuild(&["-C", "apps/api", "init", "--no-setup"])
        .failure(2);
    assert!(run.stderr.contains("[apps.ws-api]"), "{}", run.describe());
}
