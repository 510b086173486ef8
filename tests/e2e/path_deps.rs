//! Path dependencies: a library the venv holds as an editable install of a folder beside
//! the project (`-e ../saylib`, uv's `{ path = "../saylib", editable = true }`). The venv
//! runs that folder's code as it is now; the bundle must ship the same, rebuilt when the
//! folder changes, and never built in that folder.

use std::fs;
use std::path::PathBuf;

use crate::support::Project;

/// The library, as a folder beside `project`: `saylib.WORD`, and a module `gone` the tests
/// delete.
fn library_beside(project: &Project) -> PathBuf {
    let lib = project.root.parent().unwrap().join("saylib");
    fs::create_dir_all(lib.join("src/saylib")).unwrap();
    fs::write(
        lib.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"saylib\"\nversion = \"0.1\"\n",
    )
    .unwrap();
    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v1'\n").unwrap();
    fs::write(lib.join("src/saylib/gone.py"), "").unwrap();
    lib
}

/// What the app prints: the library's word, and whether its module `gone` is there.
const SAY: &str = "import importlib.util\nimport saylib\n\n\ndef main():\n    \
                   kept = importlib.util.find_spec('saylib.gone') is not None\n    \
                   print(saylib.WORD, 'kept' if kept else 'gone')\n";

/// The sample app, asking for the library beside it in its requirement file, with a
/// console script `say` that prints what the library says.
fn sample_with_library() -> (Project, PathBuf) {
    let project = Project::sample();
    let lib = library_beside(&project);
    project.write("requirements.txt", "six\n-e ../saylib\n");
    project.write("src/greeter/say.py", SAY);
    let pyproject = project.read("pyproject.toml").replace(
        "greet = \"greeter.cli:main\"",
        "greet = \"greeter.cli:main\"\nsay = \"greeter.say:main\"",
    );
    project.write("pyproject.toml", &pyproject);
    let config = format!(
        "{}\n[bundle]\nconsole-script = \"say\"\n",
        crate::support::SAMPLE_CONFIG
    );
    project.write("project.toml", &config);
    (project, lib)
}

#[test]
fn an_edit_of_a_path_dependency_rebuilds_the_bundle_with_the_venvs_code() {
    let (project, lib) = sample_with_library();
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project.exec("dist/say.pex", &[]).success().stdout,
        "v1 kept\n"
    );

    // Nothing changed: a no-op starts no process (the library's files are read, not built).
    let (run, execs) = project.pybuild_traced(&["bundle"]);
    assert!(!run.success().step_ran("bundle"));
    assert_eq!(execs.len(), 1, "a no-op started processes:\n{execs:#?}");

    // An edit and a deletion in the library's folder: the venv runs them at once, and so
    // does the rebuilt bundle (before, it stayed "fresh" and shipped v1).
    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v2'\n").unwrap();
    fs::remove_file(lib.join("src/saylib/gone.py")).unwrap();
    let tested = project.exec(".venv/bin/say", &[]).success().stdout;
    assert_eq!(tested, "v2 gone\n");
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        run.stderr.contains("../saylib/src/saylib/"),
        "the rebuild names the library's file\n{}",
        run.describe()
    );
    assert_eq!(project.exec("dist/say.pex", &[]).success().stdout, tested);

    // A bundler that installs (zipapp, by pip): from a staged copy, never in the folder.
    let config = project
        .read("project.toml")
        .replace("[bundle]\n", "[bundle]\nkind = \"zipapp\"\n");
    project.write("project.toml", &config);
    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v3'\n").unwrap();
    project.pybuild(&["bundle"]).success();
    let bundle = project.path("dist/say.pyz");
    let out = project.run_program(&PathBuf::from("python3"), &[bundle.to_str().unwrap()]);
    assert_eq!(out.success().stdout, "v3 gone\n");
    assert!(
        !lib.join("build").exists(),
        "a build wrote into the library's folder"
    );

    // Not editable (`../saylib`): the venv holds a copy, and so does the PEX, which pex
    // takes from the venv by name (it refuses a folder among the requirements).
    let config = project
        .read("project.toml")
        .replace("kind = \"zipapp\"\n", "");
    project.write("project.toml", &config);
    project.write("requirements.txt", "six\n../saylib\n");
    project.pybuild(&["bundle"]).success();
    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v4'\n").unwrap();
    let tested = project.exec(".venv/bin/say", &[]).success().stdout;
    assert_eq!(tested, "v3 gone\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(project.exec("dist/say.pex", &[]).success().stdout, tested);
    // So does a zipapp, whose pip gets the venv's copy as a wheel: no index has it, and
    // the folder holds v4 (before, the build failed in pip's resolver or left it out).
    let config = project
        .read("project.toml")
        .replace("[bundle]\n", "[bundle]\nkind = \"zipapp\"\n");
    project.write("project.toml", &config);
    project.pybuild(&["bundle"]).success();
    let out = project.run_program(&PathBuf::from("python3"), &[bundle.to_str().unwrap()]);
    assert_eq!(out.success().stdout, tested);
}

#[test]
fn a_uv_path_source_is_bundled_from_its_folder_and_keeps_the_remote_cache_out() {
    let project =
        Project::fixture("uv-app").with_file("project.toml", "[project]\nname = \"uvapp\"\n");
    // Its venv first, so that the uv pybuild fetches is there to lock with.
    project.pybuild(&["setup"]).success();
    let lib = library_beside(&project);
    let pyproject = project.read("pyproject.toml").replace(
        "dependencies = [\"six\"]",
        "dependencies = [\"six\", \"saylib\"]",
    ) + "\n[tool.uv.sources]\nsaylib = { path = \"../saylib\", editable = true }\n";
    project.write("pyproject.toml", &pyproject);
    project.write("src/uvapp/cli.py", SAY);
    project
        .run_program(&crate::support::fetched_uv(), &["lock", "--quiet"])
        .success();
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project.exec("dist/uvapp.pex", &[]).success().stdout,
        "v1 kept\n"
    );

    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v2'\n").unwrap();
    let run = project.pybuild(&["bundle", "-v"]).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    assert_eq!(
        project.exec("dist/uvapp.pex", &[]).success().stdout,
        "v2 kept\n"
    );
    // No key names the library's code: no remote cache, though one is configured.
    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v3'\n").unwrap();
    let run = project
        .pybuild_with_env(
            &["bundle", "-v"],
            &[("PYBUILD_REMOTE_CACHE", "http://127.0.0.1:9/")],
        )
        .success();
    assert_eq!(
        project.exec("dist/uvapp.pex", &[]).success().stdout,
        "v3 kept\n"
    );
    assert!(
        run.stderr.contains("saylib is installed from ../saylib"),
        "{}",
        run.describe()
    );
    assert!(!run.stderr.contains("127.0.0.1:9"), "{}", run.describe());
}

/// A development tool installed editable from a folder (`-e ../saylib` in the tools'
/// requirement file) is in the venv but not in the app: its edits rebuild nothing, and a
/// bundler that installs path dependencies (zipapp) does not ship it.
#[test]
fn a_development_tool_installed_from_a_folder_is_not_shipped_nor_an_input() {
    let project = Project::sample();
    let lib = library_beside(&project);
    // And one installed without `-e`: a copy, which no bundler gets either.
    let copied = project.root.parent().unwrap().join("copiedtool");
    fs::create_dir_all(copied.join("copiedtool")).unwrap();
    fs::write(
        copied.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"copiedtool\"\nversion = \"0.1\"\n",
    )
    .unwrap();
    fs::write(copied.join("copiedtool/__init__.py"), "").unwrap();
    project.write("requirements-dev.txt", "-e ../saylib\n../copiedtool\n");
    let config = crate::support::SAMPLE_CONFIG
        .replace("[env]\n", "[env]\ntools = [\"-r requirements-dev.txt\"]\n");
    project.write(
        "project.toml",
        &format!("{config}\n[bundle]\nkind = \"zipapp\"\n"),
    );
    project.pybuild(&["bundle"]).success();
    project
        .exec(".venv/bin/python", &["-c", "import saylib, copiedtool"])
        .success();
    let names = project
        .exec(
            ".venv/bin/python",
            &["-m", "zipfile", "-l", "dist/greet.pyz"],
        )
        .success()
        .stdout;
    assert!(names.contains("greeter/"), "{names}");
    assert!(
        !names.contains("saylib") && !names.contains("copiedtool"),
        "a tool was shipped:\n{names}"
    );

    fs::write(lib.join("src/saylib/__init__.py"), "WORD = 'v2'\n").unwrap();
    let (run, execs) = project.pybuild_traced(&["bundle"]);
    let run = run.success();
    assert!(
        !run.step_ran("bundle"),
        "a tool's edit rebuilt the bundle\n{}",
        run.describe()
    );
    assert_eq!(execs.len(), 1, "a no-op started processes:\n{execs:#?}");
}
