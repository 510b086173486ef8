//! Verified means verified: a bundle that lacks the project's own code (the entry point's
//! module, a top-level package) fails the build, naming the file and what left it out,
//! and the previous bundle stays; the manifest's `verified` lists what was checked.

use std::fs;

use crate::bundle::GREETING;
use crate::support::{Project, SAMPLE_CONFIG};

fn verified(project: &Project) -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_str(&project.read("dist/greet.manifest.json")).unwrap();
    serde_json::from_value(manifest["verified"].clone()).unwrap()
}

#[test]
fn code_left_out_of_the_inputs_fails_the_build_naming_the_rule_and_keeps_the_bundle() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        verified(&project),
        [
            "dependencies",
            "closure: venv",
            "entry-point: greeter.cli",
            "top-level: greeter"
        ]
    );
    let bundle = fs::read(project.path("dist/greet.pex")).unwrap();
    let manifest = project.read("dist/greet.manifest.json");

    // A .gitignore line that happens to match the entry point's module.
    project.write(".gitignore", "# generated\ncli.py\n");
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greet.pex would not run: the entry point's module greeter.cli is not among \
             the inputs: src/greeter/cli.py is left out of the inputs by .gitignore:2 (`cli.py`)"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(
            "hint: change that line, or add it back with `[bundle] sources = [\"src/greeter/cli.py\"]`"
        ) && run.stderr.contains("the previous bundle was left in place"),
        "{}",
        run.describe()
    );
    assert_eq!(fs::read(project.path("dist/greet.pex")).unwrap(), bundle);
    assert_eq!(project.read("dist/greet.manifest.json"), manifest);

    // Every source left out by `[bundle] sources`.
    fs::remove_file(project.path(".gitignore")).unwrap();
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nsources = [\"!**\"]\n"),
    );
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "src/greeter/cli.py is left out of the inputs by `[bundle] sources` pattern `!**` \
             in project.toml"
        ) && run.stderr.contains("hint: remove or narrow that pattern"),
        "{}",
        run.describe()
    );
    assert_eq!(fs::read(project.path("dist/greet.pex")).unwrap(), bundle);
    assert_eq!(project.read("dist/greet.manifest.json"), manifest);
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );

    // What `verified` lists follows what was checked: a second top-level package.
    project.write("project.toml", SAMPLE_CONFIG);
    project.write("src/helpers/__init__.py", "");
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        verified(&project),
        [
            "dependencies",
            "closure: venv",
            "entry-point: greeter.cli",
            "top-level: greeter",
            "top-level: helpers"
        ]
    );

    // A whole package left out while the other's `.py` files remain inputs: stopped
    // among the inputs, naming its `__init__.py` and the line.
    project.write("src/helpers/util.py", "VALUE = 1\n");
    project.pybuild(&["bundle"]).success();
    let bundle = fs::read(project.path("dist/greet.pex")).unwrap();
    project.write(".gitignore", "helpers/\n");
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greet.pex would not run: the project's top-level package helpers is not among \
             the inputs: src/helpers/__init__.py is left out of the inputs by .gitignore:1 (`helpers/`)"
        ),
        "{}",
        run.describe()
    );
    assert_eq!(fs::read(project.path("dist/greet.pex")).unwrap(), bundle);

    // A namespace package (no `__init__.py`) left out: the folder is named, and the
    // pattern that adds it back is the folder's.
    fs::remove_file(project.path(".gitignore")).unwrap();
    project.write("src/nsp/tool.py", "VALUE = 2\n");
    project.pybuild(&["bundle"]).success();
    assert!(
        verified(&project).contains(&"top-level: nsp".to_string()),
        "{:?}",
        verified(&project)
    );
    project.write(".gitignore", "nsp/\n");
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greet.pex would not run: the project's top-level package nsp is not among \
             the inputs: src/nsp is left out of the inputs by .gitignore:1 (`nsp/`)"
        ) && run
            .stderr
            .contains("add it back with `[bundle] sources = [\"src/nsp/**\"]`"),
        "{}",
        run.describe()
    );
}

/// A folder without `__init__.py` is imported as a namespace package by the editable
/// install (src on `sys.path`), but setuptools' `find_packages` (`namespaces = false`)
/// leaves it out of the wheel that shiv and zipapp install: every input is there, and the
/// bundle still lacks the module. Read back from the bundle, it fails the build.
#[test]
fn a_module_the_packaging_leaves_out_fails_the_build() {
    let project = Project::sample()
        .with_file(
            "project.toml",
            &format!(
                "{SAMPLE_CONFIG}\n[bundle]\nkind = \"zipapp\"\nentry-point = \"greeter.tools.run:main\"\n"
            ),
        )
        .with_file(
            "src/greeter/tools/run.py",
            "def main():\n    print(\"tools ran\")\n",
        );
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace("where = [\"src\"]", "where = [\"src\"]\nnamespaces = false"),
    );
    project.pybuild(&["setup"]).success();
    project
        .exec(".venv/bin/python", &["-c", "import greeter.tools.run"])
        .success();
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greeter.pyz would not run: the entry point's module greeter.tools.run is not \
             in the bundle: src/greeter/tools/run.py is an input, but the zipapp build left it out"
        ),
        "{}",
        run.describe()
    );
    assert!(!project.path("dist/greeter.pyz").exists());
}

/// A top-level package whose own `__init__.py` alone is left out of the inputs: its other
/// modules are inputs, so the inputs' check passes, but setuptools' `find_packages`
/// (`namespaces = false`) takes no folder without `__init__.py`, and the bundle lacks the
/// whole package. A zipapp is no frozen bundle: that fails the build, naming the
/// `__init__.py` and the line. Then an entry point whose module no file provides.
#[test]
fn a_top_level_package_the_packaging_leaves_out_fails_the_build() {
    let project = Project::sample()
        .with_file(
            "project.toml",
            &format!("{SAMPLE_CONFIG}\n[bundle]\nkind = \"zipapp\"\n"),
        )
        .with_file("src/helpers/__init__.py", "")
        .with_file("src/helpers/util.py", "VALUE = 1\n")
        .with_file(".gitignore", "src/helpers/__init__.py\n");
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace("where = [\"src\"]", "where = [\"src\"]\nnamespaces = false"),
    );
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greet.pyz would not run: the project's top-level package helpers is not in \
             the bundle: src/helpers/__init__.py is left out of the inputs by .gitignore:1 \
             (`src/helpers/__init__.py`)"
        ),
        "{}",
        run.describe()
    );
    assert!(!project.path("dist/greet.pyz").exists());

    project.write(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[bundle]\nkind = \"zipapp\"\nentry-point = \"greeter.absent:main\"\n"
        ),
    );
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greeter.pyz would not run: the entry point's module greeter.absent is not \
             among the inputs: src/greeter/absent.py does not exist"
        ),
        "{}",
        run.describe()
    );
}
