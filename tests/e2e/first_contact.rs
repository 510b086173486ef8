//! The layouts real projects use, on the first try: projects written by each test in the
//! shapes found on PyPI (a requirement file naming the project, dev requirement files, a
//! `.python-version`, a VCS-versioned build...), set up and bundled as they are.

use crate::support::Project;

/// `pyproject.toml` of the sample with a `test` extra asking for idna.
const SAMPLE_WITH_EXTRA: &str = "[build-system]\nrequires = [\"setuptools>=61\"]\n\
    build-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"greeter\"\n\
    version = \"1.2.3\"\nrequires-python = \">=3.9\"\ndependencies = [\"six\"]\n\n\
    [project.optional-dependencies]\ntest = [\"idna\"]\n\n[project.scripts]\n\
    greet = \"greeter.cli:main\"\n\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n\n\
    [tool.setuptools.package-data]\ngreeter = [\"data/*.txt\"]\n";

/// `-e .[test]` in the runtime requirements is the project with its extra: installed in
/// the venv, never handed to pex (which refuses a local directory from a venv), and the
/// extra's requirements ship.
#[test]
fn a_requirement_naming_the_project_is_the_project() {
    let p = Project::sample()
        .with_file("pyproject.toml", SAMPLE_WITH_EXTRA)
        .with_file("requirements.txt", "six\n-e .[test]\n");
    p.pybuild(&["bundle"]).success();
    let run = p.exec("dist/greet.pex", &[]).success();
    assert!(run.stdout.contains("six: ok"), "{}", run.describe());
    let names = p
        .exec(
            ".venv/bin/python",
            &["-m", "zipfile", "-l", "dist/greet.pex"],
        )
        .success()
        .stdout;
    assert!(
        names.contains(".deps/idna-"),
        "the extra's requirement is left out:\n{names}"
    );
}
