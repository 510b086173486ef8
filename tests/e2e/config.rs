//! A bad project.toml is a usage error that points at the place and says what is valid.

use std::fs;

use crate::support::Project;

#[test]
fn misspelt_key_exits_2_with_line_column_and_nearest_key() {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n\n[env]\ntols = [\"flake8\"]\n",
    );
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr
            .contains("project.toml:5:1: unknown field `tols`"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("hint: did you mean `tools`?"),
        "{}",
        run.describe()
    );
    assert!(
        !project.path(".venv").exists(),
        "nothing should run on a bad config"
    );
}

#[test]
fn wrong_type_and_bad_value_exit_2_with_their_place() {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\npex-args = \"--venv\"\n",
    );
    let run = project.pybuild(&["setup"]).failure(2);
    assert!(
        run.stderr.contains("project.toml:4:12:"),
        "{}",
        run.describe()
    );

    project.write(
        "project.toml",
        "[project]\nname = \"greeter\"\n[develop]\nmode = \"setup-py\"\n",
    );
    let run = project.pybuild(&["setup"]).failure(2);
    assert!(
        run.stderr
            .contains("project.toml:4:8: unknown variant `setup-py`"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("did you mean `setup.py`?"),
        "{}",
        run.describe()
    );
}

#[test]
fn missing_project_toml_and_interpreter_are_usage_errors() {
    let project = Project::fixture("sample");
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr.contains("no project.toml in"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("pybuild init"), "{}", run.describe());

    project.write(
        "project.toml",
        "[project]\nname = \"greeter\"\npython = \"2.1\"\n",
    );
    let run = project.pybuild(&["setup"]).failure(2);
    assert!(
        run.stderr.contains("`python2.1` is not on PATH"),
        "{}",
        run.describe()
    );
}

#[test]
fn invalid_utf8_is_located() {
    let project = Project::fixture("sample");
    fs::write(
        project.path("project.toml"),
        b"[project]\nname = \"greeter\"\n[env]\npath = \"caf\xe9\"\n",
    )
    .unwrap();
    let run = project.pybuild(&["setup"]).failure(2);
    assert!(
        run.stderr.contains("project.toml:4:12: not valid UTF-8"),
        "{}",
        run.describe()
    );
}
