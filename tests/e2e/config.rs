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

/// The kinds are the bundle step's, so an unknown one is refused when the steps are
/// planned rather than when project.toml is parsed: still before any step runs, at its
/// place, by every command that builds or reports on the bundle or its bundler.
#[test]
fn an_unknown_bundle_kind_is_refused_at_its_place_before_anything_runs() {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\nkind = \"shive\"\n",
    );
    for command in ["bundle", "setup", "status", "watch"] {
        let run = project.pybuild(&[command]).failure(2);
        assert!(
            // The list is the registry's (`pex` first, the default), not this test's.
            run.stderr.contains(
                "project.toml:4:8: unknown bundle kind `shive`, expected one of `pex`, `shiv`, "
            ),
            "{command}\n{}",
            run.describe()
        );
        assert!(
            run.stderr.contains("hint: did you mean `shiv`?"),
            "{command}\n{}",
            run.describe()
        );
        assert!(!project.path(".venv").exists(), "{command}: nothing runs");
    }
}

/// Each section's bad value, at its own line and column: never at the first key of the
/// same name elsewhere in the file (a task's `sources`, say).
#[test]
fn a_bad_value_in_each_section_is_reported_at_its_own_line_and_column() {
    let task = "[tasks.lint]\nrun = \"true\"\nsources = [\"src/**\"]\noutputs = [\"out.txt\"]\n\n";
    for (command, body, place) in [
        (
            "status",
            "[project]\nname = \" \"\n",
            "project.toml:2:8: `project.name` must not be empty",
        ),
        (
            "status",
            "[project]\nname = \"greeter\"\n[env]\nrequirements = [\"requirements.txt\", \"../x.txt\"]\n",
            "project.toml:4:37: `env.requirements` entries must be files inside the project",
        ),
        (
            "status",
            "[project]\nname = \"greeter\"\n[check]\ncommands = \"cc\"\n",
            "project.toml:4:12: invalid type",
        ),
        (
            "status",
            "[project]\nname = \"greeter\"\n[develop]\nmode = \"pipp\"\n",
            "project.toml:4:8: unknown variant `pipp`",
        ),
        (
            "status",
            &format!(
                "[project]\nname = \"greeter\"\n\n{task}[bundle]\nsources = [\"docs/**\", \"src/[\"]\n"
            ),
            "project.toml:10:23: bad glob in `bundle.sources`",
        ),
        (
            "bundle",
            &format!("[project]\nname = \"greeter\"\n\n{task}[bundle]\noutput = \"src/app.pex\"\n"),
            "project.toml:10:10: the bundle output `src/app.pex`",
        ),
        (
            "watch",
            "[project]\nname = \"greeter\"\n[watch]\ntargets = [\"bundle\", \"lnit\"]\n",
            "project.toml:4:22: `watch.targets` names `lnit`, which is no step or task",
        ),
        (
            "status",
            &format!(
                "[project]\nname = \"greeter\"\n\n{task}[tasks.ci]\ndeps = [\"setup\", \"lnt\"]\n"
            ),
            "project.toml:10:18: `tasks.ci.deps` names `lnt`",
        ),
        (
            "status",
            &format!(
                "[project]\nname = \"greeter\"\n\n[tasks.docs]\nrun = \"true\"\nsources = [\"docs/[\"]\n\n{task}"
            ),
            "project.toml:6:12: bad glob in `tasks.docs.sources`",
        ),
    ] {
        let project = Project::fixture("sample").with_file("project.toml", body);
        let run = project.pybuild(&[command]).failure(2);
        assert!(run.stderr.contains(place), "{place}\n{}", run.describe());
        assert!(!project.path(".venv").exists(), "{place}: nothing runs");
    }
}

/// A bundle that cannot tell what to run is a configuration problem, said as one.
#[test]
fn a_missing_console_script_is_a_configuration_problem_naming_the_plain_scripts() {
    let project = Project::sample().with_file(
        "bin/greet-legacy",
        "#!/usr/bin/env python3\nfrom greeter.cli import main\nmain()\n",
    );
    let pyproject = project.read("pyproject.toml").replace(
        "[project.scripts]\ngreet = \"greeter.cli:main\"\n",
        "[tool.setuptools]\nscript-files = [\"bin/greet-legacy\"]\n",
    );
    project.write("pyproject.toml", &pyproject);
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr
            .contains("error: project.toml does not say what the bundle runs, and greeter declares no console script"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stderr.contains("cannot tell whether"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("greet-legacy") && run.stderr.contains("`scripts=`"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("entry-point"), "{}", run.describe());
}
