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

    // The kinds that install into a site-packages (zipapp here, shiv alike) too.
    p.write(
        "project.toml",
        &format!(
            "{}\n[bundle]\nkind = \"zipapp\"\n",
            crate::support::SAMPLE_CONFIG
        ),
    );
    p.pybuild(&["bundle"]).success();
    p.exec("dist/greet.pyz", &[]).success();
    let names = p
        .exec(
            ".venv/bin/python",
            &["-m", "zipfile", "-l", "dist/greet.pyz"],
        )
        .success()
        .stdout;
    assert!(
        names.contains("idna/"),
        "the extra's requirement is left out:\n{names}"
    );
}

/// `init` sorts the requirement files: the runtime one ships, the development one goes into
/// the venv as a tool (`-r FILE`), which then works, and never reaches the bundle.
#[test]
fn init_keeps_development_requirements_out_of_the_bundle() {
    let p =
        Project::fixture("sample").with_file("requirements-dev.txt", "-r requirements.txt\nidna\n");
    p.pybuild(&["init", "--no-setup"]).success();
    let config = p.read("project.toml");
    assert!(
        config.contains("\nrequirements = [\"requirements.txt\"]\n"),
        "{config}"
    );
    assert!(
        config.contains("\ntools = [\"-r requirements-dev.txt\"]\n"),
        "{config}"
    );
    p.pybuild(&["bundle"]).success();
    p.exec(".venv/bin/python", &["-c", "import idna"]).success();
    let names = p
        .exec(
            ".venv/bin/python",
            &["-m", "zipfile", "-l", "dist/greet.pex"],
        )
        .success()
        .stdout;
    assert!(names.contains(".deps/six-"), "{names}");
    assert!(
        !names.contains("idna"),
        "a development requirement ships:\n{names}"
    );
    p.exec("dist/greet.pex", &[]).success();
    // The development file is an input of the tools step: a tool added to it is installed.
    p.write(
        "requirements-dev.txt",
        "-r requirements.txt\nidna\nsix\nattrs\n",
    );
    let run = p.pybuild(&["setup"]).success();
    assert!(run.step_ran("tools"), "{}", run.describe());
    p.exec(".venv/bin/python", &["-c", "import attrs"])
        .success();
}

/// pyenv's shim for `python3.11`, as pyenv writes it in spirit: the version comes from the
/// directory's `.python-version`; without one (and no global version), a multi-line error.
const PYENV_SHIM: &str = "#!/bin/sh\n\
    if [ -f .python-version ]; then exec /usr/bin/python3.11 \"$@\"; fi\n\
    echo \"pyenv: python3.11: command not found\" >&2\n\
    echo >&2\n\
    echo \"The 'python3.11' command exists in these Python versions:\" >&2\n\
    echo \"  3.11.7\" >&2\n\
    exit 127\n";

/// `init` asks about wheels with the interpreter the project's directory selects (a
/// pyenv shim reads its `.python-version`), and whatever that run says, the
/// `project.toml` it writes is one `setup` then reads.
#[test]
fn init_runs_the_interpreter_in_the_project_and_writes_a_file_that_parses() {
    let p = Project::fixture("sample")
        .with_file(".python-version", "3.11\n")
        .with_file("requirements.txt", "six\nlxml\n");
    let shims = tempfile::tempdir().unwrap();
    let shim = shims.path().join("python3.11");
    std::fs::write(&shim, PYENV_SHIM).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        shims.path().display(),
        std::env::var("PATH").unwrap()
    );
    let run = p
        .pybuild_with_env(&["init", "--no-setup"], &[("PATH", &path)])
        .success();
    let config = p.read("project.toml");
    assert!(config.contains("python = \"3.11\""), "{config}");
    assert!(
        !config.contains("failed") && !config.contains("pyenv:"),
        "the interpreter ran outside the project:\n{config}\n{}",
        run.describe()
    );
    assert!(config.contains("# - lxml "), "{config}");
    p.pybuild(&["help"]).success();

    // An interpreter that fails with a multi-line error, wherever it runs: the reason is
    // one comment line, and the file still parses.
    std::fs::write(
        &shim,
        "#!/bin/sh\necho 'first line' >&2\necho 'second line' >&2\nexit 3\n",
    )
    .unwrap();
    let run = p
        .pybuild_with_env(&["init", "--no-setup", "--force"], &[("PATH", &path)])
        .success();
    let config = p.read("project.toml");
    assert!(
        config.contains("second line"),
        "{config}\n{}",
        run.describe()
    );
    p.pybuild(&["help"]).success();
}

/// An OCI layout (made with umoci) whose one layer holds `usr/bin/python3.X` and
/// `usr/lib/python3.X/`: a base of that Python, as far as its files tell.
fn base_with_python(dir: &std::path::Path, minor: &str) -> String {
    base_with_python_in(dir, minor, "bin")
}

/// [`base_with_python`] with the interpreter in `usr/<bin>/`.
fn base_with_python_in(dir: &std::path::Path, minor: &str, bin: &str) -> String {
    let rootfs = dir.join(format!("rootfs-{minor}-{bin}"));
    let lib = rootfs.join(format!("usr/lib/python3.{minor}"));
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("os.py"), "").unwrap();
    std::fs::create_dir_all(rootfs.join("usr").join(bin)).unwrap();
    std::fs::write(rootfs.join(format!("usr/{bin}/python3.{minor}")), "").unwrap();
    let layout = dir.join(format!("base-{minor}-{bin}"));
    let umoci = |args: &[&str]| {
        let status = std::process::Command::new("umoci")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "umoci {args:?}");
    };
    let image = format!("{}:base", layout.display());
    umoci(&["init", "--layout", layout.to_str().unwrap()]);
    umoci(&["new", "--image", &image]);
    umoci(&[
        "insert",
        "--image",
        &image,
        rootfs.join("usr").to_str().unwrap(),
        "/usr",
    ]);
    format!("oci:{image}")
}

/// `pybuild image` reads the base's Python version from its files and refuses one that is
/// not the bundle's, naming both; a base of the bundle's Python is taken.
#[test]
fn image_refuses_a_base_of_another_python() {
    let bases = tempfile::tempdir().unwrap();
    let other = base_with_python(bases.path(), "10");
    let config = |base: &str| {
        format!(
            "{}\n[image]\nbase = \"{base}\"\n",
            crate::support::SAMPLE_CONFIG
        )
    };
    let p = Project::sample().with_file("project.toml", &config(&other));
    let run = p.pybuild(&["image"]).failure(2);
    assert!(
        run.stderr
            .contains("has Python 3.10, and the bundle was built for Python 3.11"),
        "{}",
        run.describe()
    );
    assert!(!p.path("dist/greeter.oci").exists());
    // Python 3.11, but off the image's PATH: the venv has nothing to run on.
    let off_path = base_with_python_in(bases.path(), "11", "opt/bin");
    p.write("project.toml", &config(&off_path));
    let run = p.pybuild(&["image"]).failure(2);
    assert!(
        run.stderr
            .contains("has no `python3` (`[image] python`) on its PATH"),
        "{}",
        run.describe()
    );
    assert!(!p.path("dist/greeter.oci").exists());
    let same = base_with_python(bases.path(), "11");
    p.write("project.toml", &config(&same));
    p.pybuild(&["image"]).success();
    assert!(p.path("dist/greeter.oci/index.json").is_file());
}

/// A hatchling project, flat: `hello_hatch/` with a console script `hello`.
fn hatch_project() -> Project {
    Project::fixture("sample")
        .with_file(
            "pyproject.toml",
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [project]\nname = \"hello-hatch\"\nversion = \"0.3.0\"\ndependencies = [\"six\"]\n\n\
             [project.scripts]\nhello = \"hello_hatch:main\"\n\n\
             [tool.hatch.build.targets.wheel]\npackages = [\"hello_hatch\"]\n",
        )
        .with_file(
            "hello_hatch/__init__.py",
            "import importlib.metadata, six\n\ndef main():\n    \
             print('hello', importlib.metadata.version('hello-hatch'))\n",
        )
        .with_file("requirements.txt", "")
}

/// Every kind's manifest lists the project's own distribution: PyInstaller's too, though
/// an editable install (hatchling's `.pth`) maps none of the frozen modules to it.
#[test]
fn the_pyinstaller_manifest_lists_the_project() {
    let p = hatch_project().with_file(
        "project.toml",
        "[project]\nname = \"hello-hatch\"\n\n[bundle]\nkind = \"pyinstaller\"\n",
    );
    std::fs::remove_dir_all(p.path("src")).unwrap();
    p.pybuild(&["bundle"]).success();
    assert_eq!(p.exec("dist/hello", &[]).success().stdout, "hello 0.3.0\n");
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("dist/hello.manifest.json")).unwrap();
    assert_eq!(
        manifest["distributions"]["hello-hatch"], "0.3.0",
        "{manifest}"
    );
}

/// A hatchling + hatch-vcs project (black's layout: the `vcs` build hook writes a
/// git-ignored version file) in a git checkout tagged v1.4.0.
fn vcs_project() -> Project {
    let p = Project::fixture("sample")
        .with_file(
            "pyproject.toml",
            "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs\"]\n\
             build-backend = \"hatchling.build\"\n\n[project]\nname = \"vcs-app\"\n\
             dynamic = [\"version\"]\ndependencies = [\"six\"]\n\n[project.scripts]\n\
             vcs-app = \"vcs_app:main\"\n\n[tool.hatch.version]\nsource = \"vcs\"\n\n\
             [tool.hatch.build.hooks.vcs]\nversion-file = \"src/vcs_app/_version.py\"\n",
        )
        .with_file(
            "src/vcs_app/__init__.py",
            "import importlib.metadata\nfrom vcs_app._version import version\n\n\
             def main():\n    print(version, importlib.metadata.version('vcs-app'))\n",
        )
        .with_file(
            ".gitignore",
            "src/vcs_app/_version.py\n.venv/\n.pybuild/\ndist/\n",
        )
        .with_file("requirements.txt", "")
        .with_file("project.toml", "[project]\nname = \"vcs-app\"\n");
    std::fs::remove_dir_all(p.path("src/greeter")).unwrap();
    git(&p, &["init", "-q"]);
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-qm", "init"]);
    git(&p, &["tag", "v1.4.0"]);
    p
}

/// The version of a VCS-versioned project comes from the checkout: the layered build
/// (kept, though a `vcs` hook is configured: it only writes the version file) ships the
/// version file the editable install wrote, and the wheel build, from a stage without
/// `.git`, is told the version the editable install found.
#[test]
fn a_vcs_versioned_project_with_a_version_hook_bundles_both_ways() {
    let p = vcs_project();
    let run = p.pybuild(&["bundle", "-v"]).success();
    assert!(
        run.stderr.contains("pex strategy: layered"),
        "{}",
        run.describe()
    );
    assert_eq!(
        p.exec("dist/vcs-app.pex", &[]).success().stdout,
        "1.4.0 1.4.0\n"
    );

    p.write(
        "project.toml",
        "[project]\nname = \"vcs-app\"\n\n[bundle]\nstrategy = \"wheel\"\n",
    );
    let run = p.pybuild(&["bundle", "-v"]).success();
    assert!(
        run.stderr.contains("pex strategy: wheel"),
        "{}",
        run.describe()
    );
    assert_eq!(
        p.exec("dist/vcs-app.pex", &[]).success().stdout,
        "1.4.0 1.4.0\n"
    );

    // A new commit, tagged: the checkout's version is the bundle's.
    p.write("src/vcs_app/extra.py", "X = 1\n");
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-qm", "more"]);
    git(&p, &["tag", "v1.5.0"]);
    p.pybuild(&["bundle"]).success();
    assert_eq!(
        p.exec("dist/vcs-app.pex", &[]).success().stdout,
        "1.5.0 1.5.0\n"
    );
}

fn git(p: &Project, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(&p.root)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A `[tool.uv.sources]` entry that does not resolve outside the project's own repository
/// (a workspace member the sdist does not ship): uv's failure names both ways out, and
/// each works.
#[test]
fn a_uv_source_that_cannot_resolve_names_the_way_out() {
    let p = Project::sample();
    let pyproject = p.read("pyproject.toml");
    p.write(
        "pyproject.toml",
        &format!("{pyproject}\n[tool.uv.sources]\nsix = {{ workspace = true }}\n"),
    );
    let run = p.pybuild(&["setup"]).failure(1);
    assert!(
        run.stderr
            .contains("hint: install with pip, which ignores that table: `installer = \"pip\"`")
            && run.stderr.contains("`no-sources = true` in a uv.toml"),
        "{}",
        run.describe()
    );
    p.write("uv.toml", "no-sources = true\n");
    p.pybuild(&["setup"]).success();
    std::fs::remove_file(p.path("uv.toml")).unwrap();
    p.write(
        "project.toml",
        &format!("{}installer = \"pip\"\n", crate::support::SAMPLE_CONFIG),
    );
    p.pybuild(&["setup"]).success();
}

/// A project that compiles a C extension of its own gets `[check]` entries for it from
/// `init`: the compiler and `Python.h`, set, with a comment naming the source.
#[test]
fn init_checks_what_the_projects_own_extension_needs() {
    let p = Project::fixture("sample").with_file("src/greeter/_speedups.c", "int x;\n");
    p.pybuild(&["init", "--no-setup", "--offline"]).success();
    let config = p.read("project.toml");
    assert!(
        config
            .contains("# - greeter, this project, compiles an extension (src/greeter/_speedups.c)"),
        "{config}"
    );
    assert!(config.contains("\ncommands = [\n    \"cc\","), "{config}");
    assert!(
        config.contains("\nheaders = [\n    \"Python.h\","),
        "{config}"
    );
    p.pybuild(&["help"]).success();
}

/// Offline, uv installs from its own cache (what it downloaded before) as well as the
/// wheelhouse: a fresh venv of a project whose requirements uv has seen sets up and
/// bundles with `--offline`.
#[test]
fn offline_uv_installs_from_its_own_cache() {
    // Once online, so that uv's cache holds what the sample needs.
    Project::sample().pybuild(&["setup"]).success();
    let p = Project::sample();
    let run = p.pybuild(&["--offline", "bundle"]).success();
    assert!(!run.stderr.contains("warning"), "{}", run.describe());
    p.exec("dist/greet.pex", &[]).success();
}

/// Switching `[bundle] kind` replaces the bundle: the previous one is removed from
/// `dist/`, not left to pass for the current one.
#[test]
fn switching_the_kind_removes_the_previous_bundle() {
    let p = Project::sample();
    p.pybuild(&["bundle"]).success();
    assert!(p.path("dist/greet.pex").is_file());
    p.write(
        "project.toml",
        &format!(
            "{}\n[bundle]\nkind = \"zipapp\"\n",
            crate::support::SAMPLE_CONFIG
        ),
    );
    let run = p.pybuild(&["bundle"]).success();
    assert!(p.path("dist/greet.pyz").is_file(), "{}", run.describe());
    assert!(!p.path("dist/greet.pex").exists(), "{}", run.describe());
    assert!(
        p.read("dist/greet.manifest.json")
            .contains("\"kind\": \"zipapp\"")
    );
}

/// A Marathon app fetched from a `file://` URL on the build machine runs nowhere else:
/// `deploy marathon` says so when `[deploy.marathon] url` is unset, not when it is set; and
/// once: the step's values are read once, for its fingerprint and its job alike.
#[test]
fn deploy_warns_of_a_marathon_url_on_this_machine() {
    let config = format!("{}\n[deploy.marathon]\n", crate::support::SAMPLE_CONFIG);
    let p = Project::sample().with_file("project.toml", &config);
    let run = p.pybuild(&["deploy", "marathon"]).success();
    assert_eq!(
        run.stderr.matches("[deploy.marathon] has no `url`").count(),
        1,
        "{}",
        run.describe()
    );
    p.write(
        "project.toml",
        &format!("{config}url = \"https://artifacts.example.com/greet.pex\"\n"),
    );
    let run = p.pybuild(&["deploy", "marathon"]).success();
    assert!(!run.stderr.contains("has no `url`"), "{}", run.describe());
}

/// `watch` takes no editor's scratch file for a change (vim's swap file and write test,
/// a backup, emacs' lock): no run starts for them; a real save still starts one.
#[test]
fn watch_ignores_editors_scratch_files() {
    use std::io::{BufRead, BufReader};
    use std::sync::{Arc, Mutex};
    let p = Project::sample();
    p.pybuild(&["bundle"]).success();
    let mut child = p.spawn_pybuild(&["watch", "--debounce", "50"]);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let runs = || {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("watch: ok") || l.starts_with("watch: nothing to do"))
            .count()
    };
    p.wait_until("the first run", || runs() >= 1);
    for scratch in [".words.py.swp", "4913", "words.py~", ".#words.py"] {
        p.write(&format!("src/greeter/{scratch}"), "scratch");
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    let seen = lines.lock().unwrap().join("\n");
    assert_eq!(runs(), 1, "a scratch file started a run:\n{seen}");
    p.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    p.wait_until("a run for the save", || runs() >= 2);
    crate::support::kill(child.id(), true);
    let _ = child.wait();
}
