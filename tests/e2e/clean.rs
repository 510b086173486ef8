//! `pybuild clean` removes what builds produced, and nothing else.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::Project;

fn built_looking_project() -> Project {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"dist/greet.pex\"\n",
    );
    for file in [
        "dist/greet.pex",
        ".pybuild/state.bin",
        ".pybuild/logs/bundle.log",
        "src/greeter.egg-info/SOURCES.txt",
        "build/lib/greeter/words.py",
        "build/bdist.linux-x86_64/x",
        ".venv/pyvenv.cfg",
    ] {
        project.write(file, "x");
    }
    project
}

#[test]
fn clean_removes_build_outputs_and_keeps_sources_and_venv() {
    let project = built_looking_project();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("keep.txt"), "precious").unwrap();
    symlink(outside.path(), project.path("dist/link-out")).unwrap();

    let dry = project.pybuild(&["clean", "--dry-run"]).success();
    assert!(
        dry.stdout.contains("would remove dist/greet.pex"),
        "{}",
        dry.describe()
    );
    assert!(project.path("dist/greet.pex").exists());

    project.pybuild(&["clean"]).success();
    for gone in [
        "dist/greet.pex",
        ".pybuild/state.bin",
        ".pybuild/logs",
        "src/greeter.egg-info",
        "build",
    ] {
        assert!(!project.path(gone).exists(), "{gone} survived clean");
    }
    for kept in [
        "src/greeter/cli.py",
        "pyproject.toml",
        "project.toml",
        ".venv/pyvenv.cfg",
        "dist/link-out",
    ] {
        assert!(
            project.path(kept).symlink_metadata().is_ok(),
            "{kept} was removed"
        );
    }
    assert_eq!(
        fs::read_to_string(outside.path().join("keep.txt")).unwrap(),
        "precious"
    );

    project.pybuild(&["clean", "--all"]).success();
    assert!(!project.path(".venv").exists());
}

#[test]
fn clean_never_follows_a_symlinked_directory_out_of_the_project() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("greet.pex"), "not ours").unwrap();
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"dist/greet.pex\"\n",
    );
    symlink(outside.path(), project.path("dist")).unwrap();
    let run = project.pybuild(&["clean", "--dry-run"]).success();
    assert!(!run.stdout.contains("greet.pex"), "{}", run.describe());
    project.pybuild(&["clean", "--all"]).success();
    assert_eq!(
        fs::read_to_string(outside.path().join("greet.pex")).unwrap(),
        "not ours"
    );
    assert!(project.path("dist").symlink_metadata().is_ok());

    let outside_venv = tempfile::tempdir().unwrap();
    fs::write(outside_venv.path().join("pyvenv.cfg"), "x").unwrap();
    project.write(
        "project.toml",
        &format!(
            "[project]\nname = \"greeter\"\n[env]\npath = \"{}\"\n",
            outside_venv.path().display()
        ),
    );
    let run = project.pybuild(&["clean", "--all"]).success();
    assert!(
        run.stderr.contains("outside the project: not removed"),
        "{}",
        run.describe()
    );
    assert!(outside_venv.path().join("pyvenv.cfg").exists());
}

#[test]
fn clean_refuses_an_output_outside_the_project() {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"../greet.pex\"\n",
    );
    let run = project.pybuild(&["clean"]).failure(2);
    assert!(
        run.stderr.contains("inside the project"),
        "{}",
        run.describe()
    );
}
