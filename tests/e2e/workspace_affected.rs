//! `pybuild affected`: which apps of a uv workspace a change reaches, on a git repository
//! of the workspace fixture (a core library, an api and a worker over it). Runs git only.

use std::process::Command;

use crate::support::Project;

/// The workspace fixture with a project.toml, in a git repository with one commit.
fn repo() -> Project {
    let project = Project::fixture("workspace")
        .with_file("project.toml", "[project]\nname = \"ws\"\n")
        .with_file(".gitignore", "__pycache__/\n*.local\n");
    git(&project, &["init", "-q"]);
    commit(&project, "initial");
    project
}

fn git(project: &Project, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(&project.root)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn commit(project: &Project, message: &str) {
    git(project, &["add", "-A"]);
    git(project, &["commit", "-q", "-m", message]);
}

#[track_caller]
fn affected(project: &Project, base: &str) -> Vec<String> {
    let run = project.pybuild(&["affected", "--base", base]).success();
    run.stdout.lines().map(str::to_string).collect()
}

fn append(project: &Project, rel: &str, text: &str) {
    let old = project.read(rel);
    project.write(rel, &format!("{old}{text}"));
}

#[test]
fn an_edit_of_the_library_reaches_both_apps_and_an_edit_of_one_app_that_app() {
    let project = repo();
    assert!(affected(&project, "HEAD").is_empty(), "nothing changed yet");
    append(&project, "apps/api/src/ws_api/cli.py", "# edited\n");
    assert_eq!(affected(&project, "HEAD"), ["ws-api"]);
    append(&project, "libs/core/src/ws_core/__init__.py", "# edited\n");
    assert_eq!(affected(&project, "HEAD"), ["ws-api", "ws-worker"]);
    // Staged counts as much as unstaged.
    git(&project, &["add", "-A"]);
    assert_eq!(affected(&project, "HEAD"), ["ws-api", "ws-worker"]);
}

#[test]
fn committed_changes_count_from_the_base() {
    let project = repo();
    append(&project, "apps/worker/src/ws_worker/cli.py", "# edited\n");
    commit(&project, "worker");
    assert_eq!(affected(&project, "HEAD~1"), ["ws-worker"]);
    assert!(affected(&project, "HEAD").is_empty());
    // A file outside every member reaches no app.
    project.write("README.md", "the workspace\n");
    commit(&project, "readme");
    assert_eq!(affected(&project, "HEAD~2"), ["ws-worker"]);
    assert!(affected(&project, "HEAD~1").is_empty());
}

#[test]
fn untracked_files_count_unless_git_or_pybuild_leaves_them_out() {
    let project = repo();
    project.write(
        "libs/core/src/ws_core/__pycache__/x.cpython-311.pyc",
        "bytes",
    );
    project.write("libs/core/notes.local", "ignored by .gitignore");
    project.write("libs/core/src/ws_core.egg-info/PKG-INFO", "a byproduct");
    assert!(affected(&project, "HEAD").is_empty());
    project.write("apps/worker/src/ws_worker/new.py", "");
    assert_eq!(affected(&project, "HEAD"), ["ws-worker"]);
}

#[test]
fn a_lock_change_reaches_the_apps_whose_closure_it_moves() {
    let project = repo();
    let lock = project.read("uv.lock");
    assert_eq!(lock.matches("version = \"8.5.1\"").count(), 1);
    project.write(
        "uv.lock",
        &lock.replace("version = \"8.5.1\"", "version = \"8.5.2\""),
    );
    assert_eq!(affected(&project, "HEAD"), ["ws-worker"]);
    let lock = project.read("uv.lock");
    project.write(
        "uv.lock",
        &lock.replace("version = \"1.17.0\"", "version = \"1.16.0\""),
    );
    assert_eq!(affected(&project, "HEAD"), ["ws-api", "ws-worker"]);
}

#[test]
fn a_config_change_outside_apps_reaches_every_app() {
    let project = repo();
    append(&project, "project.toml", "\n# a comment changes nothing\n");
    assert!(affected(&project, "HEAD").is_empty());
    append(&project, "project.toml", "\n[bundle]\nkind = \"pex\"\n");
    assert_eq!(affected(&project, "HEAD"), ["ws-api", "ws-worker"]);
}

#[test]
fn a_change_in_one_apps_settings_reaches_that_app_only() {
    let project = repo();
    append(
        &project,
        "project.toml",
        "\n[apps.ws-api.bundle]\nconsole-script = \"api\"\n",
    );
    assert_eq!(affected(&project, "HEAD"), ["ws-api"]);
    commit(&project, "api's settings");
    append(
        &project,
        "project.toml",
        "\n[apps.ws-worker.image]\ntag = \"w1\"\n",
    );
    assert_eq!(affected(&project, "HEAD"), ["ws-worker"]);
    assert_eq!(affected(&project, "HEAD~1"), ["ws-api", "ws-worker"]);
}

#[test]
fn the_root_pyproject_reaches_the_apps_it_adds_or_moves() {
    let project = repo().with_file(
        "tools/cli/pyproject.toml",
        "[project]\nname = \"ws-cli\"\nversion = \"1\"\n[project.scripts]\nws = \"m:main\"\n\
         [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    );
    commit(&project, "a tool, not a member yet");
    append(&project, "pyproject.toml", "# a comment\n");
    assert!(affected(&project, "HEAD").is_empty());
    project.write(
        "pyproject.toml",
        "[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/*\", \"tools/*\"]\n",
    );
    assert_eq!(affected(&project, "HEAD"), ["ws-cli"]);
}

#[test]
fn json_names_each_app_with_its_folder_scripts_and_why() {
    let project = repo();
    append(&project, "libs/core/src/ws_core/__init__.py", "# edited\n");
    let run = project
        .pybuild(&["affected", "--base", "HEAD", "--json"])
        .success();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(report["base"], "HEAD");
    let apps = report["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2, "{report}");
    assert_eq!(apps[0]["name"], "ws-api");
    assert_eq!(apps[0]["dir"], "apps/api");
    assert_eq!(apps[0]["scripts"], serde_json::json!(["api"]));
    assert_eq!(
        apps[0]["why"],
        serde_json::json!(["libs/core/src/ws_core/__init__.py"])
    );
    assert_eq!(apps[1]["name"], "ws-worker");
}

#[test]
fn a_bad_base_no_repository_and_no_workspace_are_usage_errors() {
    let project = repo();
    let run = project
        .pybuild(&["affected", "--base", "no-such-branch"])
        .failure(2);
    assert!(
        run.stderr.contains("--base no-such-branch")
            && run.stderr.contains("git rev-parse --verify"),
        "{}",
        run.describe()
    );

    let plain =
        Project::fixture("workspace").with_file("project.toml", "[project]\nname = \"ws\"\n");
    let run = plain.pybuild(&["affected", "--base", "HEAD"]).failure(2);
    assert!(
        run.stderr.contains("no git repository"),
        "{}",
        run.describe()
    );

    let single = Project::sample();
    git(&single, &["init", "-q"]);
    commit(&single, "initial");
    let run = single.pybuild(&["affected", "--base", "HEAD"]).failure(2);
    assert!(
        run.stderr.contains("is for uv workspaces"),
        "{}",
        run.describe()
    );
}
