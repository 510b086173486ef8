//! Every `[bundle] kind` keeps PEX's guarantees on the sample project: the bundle runs the
//! console script, an edit (even one with an older mtime) reaches the next bundle, a
//! deleted module leaves it, a no-op starts no process, and `clean` removes the output;
//! a zipapp refuses compiled extensions.
//! One test per kind, each on one project: a first bundle costs a venv and pip installs.

use std::fs;

use filetime::FileTime;

use crate::bundle::GREETING;
use crate::support::{Project, SAMPLE_CONFIG};

fn bundle_follows_the_sources(kind: &str, output: &str) -> Project {
    let config = format!("{SAMPLE_CONFIG}\n[bundle]\nkind = \"{kind}\"\n");
    let project = Project::sample()
        .with_file("project.toml", &config)
        .with_file("src/greeter/extra.py", "VALUE = 1\n");
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        run.stderr.contains(&format!("→ {output}")),
        "{}",
        run.describe()
    );
    assert_eq!(project.exec(output, &[]).success().stdout, GREETING);
    assert_eq!(
        project
            .exec(output, &["--has", "greeter.extra"])
            .success()
            .stdout,
        "present\n"
    );

    let (run, execs) = project.pybuild_traced(&["bundle"]);
    run.success();
    assert_eq!(
        execs.len(),
        1,
        "a no-op started processes besides pybuild:\n{execs:#?}"
    );

    // An edit whose mtime is older than the last build (a checkout, rsync -t), and a
    // deleted module: PyInstaller's own mtime check would miss both.
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    let old = FileTime::from_unix_time(978_307_200, 0);
    filetime::set_file_mtime(project.path("src/greeter/words.py"), old).unwrap();
    fs::remove_file(project.path("src/greeter/extra.py")).unwrap();
    let run = project.pybuild(&["bundle"]).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    let out = project.exec(output, &[]).success().stdout;
    assert!(out.starts_with("greeting: howdy\n"), "{out}");
    assert_eq!(
        project
            .exec(output, &["--has", "greeter.extra"])
            .success()
            .stdout,
        "missing\n"
    );

    project.pybuild(&["clean"]).success();
    assert!(!project.path(output).exists(), "clean left {output}");
    assert!(!project.path(".pybuild/tmp").exists());
    project
}

#[test]
fn shiv_bundle_follows_the_sources() {
    bundle_follows_the_sources("shiv", "dist/greet.pyz");
}

#[test]
fn pyinstaller_bundle_follows_the_sources() {
    let project = bundle_follows_the_sources("pyinstaller", "dist/greet");
    // What the executable holds modules of, not every tool the venv has; the manifest is
    // a shared file, with the umask's mode.
    project.pybuild(&["bundle"]).success();
    let manifest: serde_json::Value =
        serde_json::from_str(&project.read("dist/greet.manifest.json")).unwrap();
    let shipped: Vec<&String> = manifest["distributions"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(shipped, ["greeter", "six"], "{manifest}");
    // The executable's table of contents proves the code; it records no versions.
    assert_eq!(
        manifest["verified"],
        serde_json::json!(["entry-point: greeter.cli", "top-level: greeter"]),
        "{manifest}"
    );
    let unverified = manifest["unverified"].as_array().unwrap();
    assert!(
        unverified.len() == 1
            && unverified[0]
                .as_str()
                .unwrap()
                .starts_with("dependencies: "),
        "{manifest}"
    );
    let mode = fs::metadata(project.path("dist/greet.manifest.json"))
        .unwrap()
        .permissions();
    let umask = rustix::process::umask(rustix::fs::Mode::empty());
    rustix::process::umask(umask);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o777, 0o666 & !umask.bits(), "{mode:?}");

    // A top-level package the entry point never imports is not analysed into the
    // executable: said to be unverified, not a failure.
    project.write("src/helpers/__init__.py", "");
    project.pybuild(&["bundle"]).success();
    let manifest: serde_json::Value =
        serde_json::from_str(&project.read("dist/greet.manifest.json")).unwrap();
    assert_eq!(
        manifest["unverified"][1],
        "top-level: helpers: not in the bundle, which holds only what the entry point imports",
        "{manifest}"
    );
}

#[test]
fn zipapp_bundle_follows_the_sources_and_refuses_compiled_extensions() {
    let project = bundle_follows_the_sources("zipapp", "dist/greet.pyz");

    // A shared object in the installed files (here the project's own package data, which
    // costs no download) cannot be loaded from inside a zip.
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace("[\"data/*.txt\"]", "[\"data/*.txt\", \"*.so\"]"),
    );
    project.write("src/greeter/_speedups.so", "not really ELF\n");
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr
            .contains("compiled extensions from inside the archive, and these dependencies have some: greeter (greeter/_speedups.so)"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("kind = \"shiv\""), "{}", run.describe());
    assert!(!project.path("dist/greet.pyz").exists());
}

/// A package that re-exports its CLI module's names (`from pkg.cli import *`, as
/// elasticsearch-curator does) shadows the module `pkg.cli` with the function `cli`: the
/// launcher must find the function on the module, as a console script's wrapper does.
#[test]
fn a_launcher_finds_the_function_of_a_shadowed_module() {
    let project = Project::fixture("sample")
        .with_file(
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"shadow\"\nversion = \"0.1\"\n\n\
             [project.scripts]\nshadow = \"shadow.cli:cli\"\n",
        )
        .with_file("requirements.txt", "")
        .with_file("src/shadow/__init__.py", "from shadow.cli import *\n")
        .with_file(
            "src/shadow/cli.py",
            "__all__ = [\"cli\"]\n\n\ndef cli():\n    print(\"shadow ok\")\n    return 0\n",
        )
        .with_file(
            "project.toml",
            "[project]\nname = \"shadow\"\n[bundle]\nkind = \"zipapp\"\n",
        );
    fs::remove_dir_all(project.path("src/greeter")).unwrap();
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project.exec("dist/shadow.pyz", &[]).success().stdout,
        "shadow ok\n"
    );
}
