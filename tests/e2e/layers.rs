//! Layered PEX builds: fast edits on a cached dependencies PEX, rebuilt only when the
//! dependencies change; builds without a package index; the same bytes from two checkouts.

use std::fs;

use crate::bundle::GREETING;
use crate::support::{Project, SAMPLE_CONFIG};

/// An index nobody listens on: pip and pex fail at once, as with the network down.
const CLOSED_INDEX: (&str, &str) = ("PIP_INDEX_URL", "http://127.0.0.1:9/simple");

/// Whether this bundle run built the dependencies PEX (rather than reusing one).
fn built_dependencies(project: &Project) -> bool {
    project.log_mentions("bundle", "--venv-repository")
        && project.log_mentions("bundle", "/deps-")
        && !project.log_mentions("bundle", "reused")
}

#[test]
fn two_checkouts_build_the_same_bytes_and_only_a_dependency_change_rebuilds_the_layer() {
    let first = Project::sample();
    let second = Project::sample();
    // pybuild's cache of this test's own: the layers other tests built are not in it.
    let cache = tempfile::tempdir().unwrap();
    let own = [("PYBUILD_CACHE_DIR", cache.path().to_str().unwrap())];
    first.pybuild_with_env(&["bundle"], &own).success();
    assert!(built_dependencies(&first));
    // The second checkout's venv holds the same: it takes the first's layer.
    let run = second.pybuild_with_env(&["-v", "bundle"], &own).success();
    assert!(
        run.stderr.contains("taken from another checkout's") && !built_dependencies(&second),
        "{}",
        run.describe()
    );
    assert_eq!(first.exec("dist/greet.pex", &[]).success().stdout, GREETING);
    assert!(
        fs::read(first.path("dist/greet.pex")).unwrap()
            == fs::read(second.path("dist/greet.pex")).unwrap(),
        "two checkouts of the same sources built different bundles"
    );

    // An edit and a new module: the code layer only, on the same dependencies PEX.
    first.write(
        "src/greeter/words.py",
        "from greeter.extra import WORD\n\ndef word():\n    return WORD\n",
    );
    first.write("src/greeter/extra.py", "WORD = \"layered\"\n");
    let run = first.pybuild_with_env(&["-v", "bundle"], &own).success();
    assert!(
        run.stderr.contains("pex strategy: layered"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("dependencies PEX"),
        "{}",
        run.describe()
    );
    assert!(!built_dependencies(&first), "{}", run.describe());
    assert_eq!(
        first.exec("dist/greet.pex", &[]).success().stdout,
        GREETING.replace("hello", "layered")
    );

    // A changed dependency list (and version): a new editable install, a new layer.
    let pyproject = first.read("pyproject.toml");
    first.write(
        "pyproject.toml",
        &pyproject
            .replace("dependencies = [\"six\"]", "dependencies = [\"six>=1.0\"]")
            .replace("version = \"1.2.3\"", "version = \"1.3.0\""),
    );
    let run = first.pybuild_with_env(&["bundle"], &own).success();
    assert!(run.step_ran("develop"));
    assert!(built_dependencies(&first), "{}", run.describe());
    let output = first.exec("dist/greet.pex", &[]).success().stdout;
    assert!(output.contains("version: 1.3.0\n"), "{output}");

    // Forcing the wheel build gives a bundle that behaves the same.
    first.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nstrategy = \"wheel\"\n"),
    );
    let run = first.pybuild_with_env(&["-v", "bundle"], &own).success();
    assert!(
        run.stderr.contains("pex strategy: wheel"),
        "{}",
        run.describe()
    );
    assert_eq!(first.exec("dist/greet.pex", &[]).success().stdout, output);

    // The wheelhouse is a cache: when it was cleared behind pybuild's back, the next build
    // fills it again from the index instead of failing.
    let emptied = tempfile::tempdir().unwrap();
    first.write("src/greeter/extra.py", "WORD = \"refilled\"\n");
    let run = first
        .pybuild_with_env(
            &["bundle"],
            &[("PYBUILD_CACHE_DIR", emptied.path().to_str().unwrap())],
        )
        .success();
    assert!(
        run.stderr.contains("filling it again"),
        "{}",
        run.describe()
    );
    let output = first.exec("dist/greet.pex", &[]).success().stdout;
    assert!(output.starts_with("greeting: refilled\n"), "{output}");

    // A version read from the package (setuptools' `attr:`): bumping it in `__init__.py`
    // reaches the layer's metadata.
    let init = |version: &str| format!("__version__ = \"{version}\"\n");
    second.write("src/greeter/__init__.py", &init("2.0.0"));
    second.write(
        "pyproject.toml",
        &second
            .read("pyproject.toml")
            .replace("version = \"1.2.3\"", "dynamic = [\"version\"]")
            .replace(
                "[tool.setuptools.packages.find]",
                "[tool.setuptools.dynamic]\nversion = {attr = \"greeter.__version__\"}\n\n[tool.setuptools.packages.find]",
            ),
    );
    second.pybuild(&["bundle"]).success();
    let output = second.exec("dist/greet.pex", &[]).success().stdout;
    assert!(output.contains("version: 2.0.0\n"), "{output}");
    second.write("src/greeter/__init__.py", &init("2.0.1"));
    let run = second.pybuild(&["bundle"]).success();
    assert!(run.step_ran("develop"), "{}", run.describe());
    let output = second.exec("dist/greet.pex", &[]).success().stdout;
    assert!(output.contains("version: 2.0.1\n"), "{output}");
}

#[test]
fn builds_without_the_package_index_once_one_online_build_succeeded() {
    let project = Project::sample().with_file("src/greeter/gone.py", "");
    // A build requirement that pex's vendored pip (wheel==0.37.1) contradicts: each
    // environment's requirements are resolved on their own.
    let pyproject = project.read("pyproject.toml").replace(
        "requires = [\"setuptools>=61\"]",
        "requires = [\"setuptools>=61\", \"wheel>=0.40\"]",
    );
    assert!(pyproject.contains("wheel>=0.40"));
    project.write("pyproject.toml", &pyproject);
    // A wheelhouse and a pex cache of this test's own, outside the project: what other
    // tests fetched must not hide what pybuild forgot to fetch (pex's pip needs `wheel`).
    let caches = project.path("../caches");
    let (pex_root, wheelhouse) = (caches.join("pex"), caches.join("pybuild"));
    let own = [
        ("PEX_ROOT", pex_root.to_str().unwrap()),
        ("PYBUILD_CACHE_DIR", wheelhouse.to_str().unwrap()),
    ];
    let offline = [own[0], own[1], CLOSED_INDEX];
    project.pybuild_with_env(&["bundle"], &own).success();

    // The index is unreachable: an edit and a deletion still reach the bundle.
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"offline\"\n",
    );
    fs::remove_file(project.path("src/greeter/gone.py")).unwrap();
    project.pybuild_with_env(&["bundle"], &offline).success();
    let output = project.exec("dist/greet.pex", &[]).success().stdout;
    assert_eq!(output, GREETING.replace("hello", "offline"));
    assert_eq!(
        project
            .exec("dist/greet.pex", &["--has", "greeter.gone"])
            .success()
            .stdout,
        "missing\n"
    );

    // A new editable install and a full wheel build, from the wheelhouse alone: the index
    // is found unreachable, and pybuild says it builds offline.
    project.write(
        "pyproject.toml",
        &pyproject.replace("version = \"1.2.3\"", "version = \"2.0.0\""),
    );
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nstrategy = \"wheel\"\n"),
    );
    let run = project.pybuild_with_env(&["bundle"], &offline).success();
    assert!(run.step_ran("develop"));
    assert!(
        run.stderr.contains("cannot be reached") && run.stderr.contains("offline"),
        "{}",
        run.describe()
    );
    let output = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(output.contains("version: 2.0.0\n"), "{output}");

    // `--offline`, and a dependency the wheelhouse never saw: a clear error, exit 1.
    project.write(
        "pyproject.toml",
        &pyproject.replace(
            "dependencies = [\"six\"]",
            "dependencies = [\"six\", \"pybuild-test-no-such-dist\"]",
        ),
    );
    let run = project
        .pybuild_with_env(&["--offline", "bundle"], &own)
        .failure(1);
    assert!(
        run.stderr.contains("building offline")
            && run.stderr.contains("wheelhouse")
            && run.stderr.contains("pybuild-test-no-such-dist")
            && run
                .stderr
                .contains("hint: run pybuild once with access to the package index"),
        "{}",
        run.describe()
    );
}

/// hatchling's editable install lists no `top_level.txt`: the layer reads its `.pth`
/// instead, so a hatchling project takes the fast path too.
#[test]
fn a_hatchling_src_layout_project_is_layered() {
    let project = Project::sample().with_file(
        "pyproject.toml",
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"greeter\"\nversion = \"1.2.3\"\ndependencies = [\"six\"]\n\n\
         [project.scripts]\ngreet = \"greeter.cli:main\"\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src/greeter\"]\n",
    );
    let run = project.pybuild(&["-v", "bundle"]).success();
    assert!(
        run.stderr.contains("pex strategy: layered"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
}

/// Compares two PEX files entry by entry (order, names, modes, dates, compression method,
/// contents) and their `/bin/sh` headers; prints what differs. pybuild deflates with
/// another deflate than Python's zlib, so the compressed bytes may differ. The first
/// (pybuild's) must hold the inner loop's block, which pybuild adds to pex's header before
/// pex's fast path (`pex/boot.rs`): it is taken out, and the rest must be pex's header.
const COMPARE_PEXES: &str = r##"
import sys, zipfile
def read(path):
    data = open(path, "rb").read()
    archive = zipfile.ZipFile(path)
    infos = archive.infolist()
    header = data[:min(i.header_offset for i in infos)]
    return header, [(i.filename, i.external_attr, i.date_time, i.compress_type,
                     i.create_system, archive.read(i)) for i in infos]
(ours_header, ours), (theirs_header, theirs) = read(sys.argv[1]), read(sys.argv[2])
begin, end = b"# pybuild's inner loop: ", b"# pybuild's inner loop ends.\n\n"
if ours_header.count(begin) != 1 or ours_header.count(end) != 1:
    print("pybuild's header has no inner-loop block")
else:
    a, b = ours_header.index(begin), ours_header.index(end) + len(end)
    ours_header = ours_header[:a] + ours_header[b:]
if ours_header != theirs_header:
    print("the headers differ")
ours_names, theirs_names = [e[0] for e in ours], [e[0] for e in theirs]
if ours_names != theirs_names:
    print("only in pybuild's:", sorted(set(ours_names) - set(theirs_names)),
          "only in pex's:", sorted(set(theirs_names) - set(ours_names)))
for a, b in zip(ours, theirs):
    if a != b:
        print("differs:", a[0], a[1:5], b[1:5])
"##;

#[test]
fn the_layered_pex_is_the_one_pex_builds_without_starting_pex() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    // Run once: its venv is now extracted under PEX_ROOT, and must not serve the edit.
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING
    );
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"written\"\n",
    );
    let run = project.pybuild(&["-v", "bundle"]).success();
    // The code layer was written by pybuild: pex ran for nothing.
    assert!(
        !project.log_mentions("bundle", "bin/pex"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING.replace("hello", "written")
    );

    // pex itself, from the same dependencies PEX, with the options pybuild gives it, and
    // the code as the project makes it, not as pybuild's PEX holds it (a file missing
    // from both would go unseen): the package from the project's tree, and the dist-info
    // the editable install wrote, without what records that one install (which pex's own
    // install of the project's wheel leaves out too).
    let layers = project.path(".pybuild/layers");
    let deps = fs::read_dir(&layers)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "pex"))
        .unwrap();
    let layer = tempfile::tempdir().unwrap();
    let python = project.path(".venv/bin/python");
    let theirs = layer.path().join("theirs.pex");
    let code = layer.path().join("code");
    copy_sources(&project.path("src/greeter"), &code.join("greeter"));
    let dist_info = project.site_packages().join("greeter-1.2.3.dist-info");
    let installed = code.join("greeter-1.2.3.dist-info");
    fs::create_dir_all(&installed).unwrap();
    for entry in fs::read_dir(&dist_info).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let of_the_install = ["INSTALLER", "REQUESTED", "RECORD", "direct_url.json"];
        // uv's records of its build of the editable wheel.
        if !of_the_install.contains(&name.as_str()) && !name.starts_with("uv_") {
            fs::copy(dist_info.join(&name), installed.join(&name)).unwrap();
        }
    }
    let copied: Vec<String> = fs::read_dir(&installed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        copied.contains(&"entry_points.txt".to_string()),
        "{copied:?}"
    );
    assert!(copied.contains(&"top_level.txt".to_string()), "{copied:?}");
    project
        .run_program(
            &project.path(".venv/bin/pex"),
            &[
                "--requirements-pex",
                deps.to_str().unwrap(),
                "-D",
                code.to_str().unwrap(),
                "-e",
                "greeter.cli:main",
                "-o",
                theirs.to_str().unwrap(),
                "--venv",
                "--sh-boot",
            ],
        )
        .success();
    let compared = project
        .run_program(
            &python,
            &[
                "-c",
                COMPARE_PEXES,
                project.path("dist/greet.pex").to_str().unwrap(),
                theirs.to_str().unwrap(),
            ],
        )
        .success();
    assert_eq!(compared.stdout, "", "pybuild's PEX is not pex's");
}

/// Copies the source tree `from` to `to`, without the bytecode Python may have left.
fn copy_sources(from: &std::path::Path, to: &std::path::Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_dir() {
            if name != "__pycache__" {
                copy_sources(&entry.path(), &to.join(&name));
            }
        } else {
            fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Inside the bundle, `importlib.metadata` sees the project as installed: its console
/// scripts (`entry_points.txt`), its top-level names (`top_level.txt`), its version.
#[test]
fn the_bundle_sees_the_projects_own_metadata() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    let snippet = "import importlib.metadata as m\n\
        scripts = m.entry_points(group='console_scripts')\n\
        print([s.value for s in scripts if s.name == 'greet'])\n\
        d = m.distribution('greeter')\n\
        print(d.version, d.read_text('top_level.txt').split(), d.read_text('WHEEL') is not None)\n";
    let out = crate::support::Run::from(
        std::process::Command::new(project.path("dist/greet.pex"))
            .args(["-c", snippet])
            .current_dir(&project.root)
            .env("PEX_INTERPRETER", "1")
            .env("PEX_ROOT", crate::support::cache_dir().join("pex"))
            .output()
            .unwrap(),
    )
    .success()
    .stdout;
    assert_eq!(out, "['greeter.cli:main']\n1.2.3 ['greeter'] True\n");
}

/// `pex-args` that change what pex writes for the code (`--compile` adds each module's
/// bytecode beside it) have pex write the code layer, not pybuild's writer, which knows
/// none of them: an edit's bundle still holds what pex would.
#[test]
fn pex_args_reach_the_code_layer_of_an_edit() {
    let config = format!("{SAMPLE_CONFIG}\n[bundle]\npex-args = [\"--compile\"]\n");
    let project = Project::sample().with_file("project.toml", &config);
    project.pybuild(&["bundle"]).success();
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"compiled\"\n",
    );
    project.pybuild(&["bundle"]).success();
    let listed = project
        .run_program(
            &project.path(".venv/bin/python"),
            &["-m", "zipfile", "-l", "dist/greet.pex"],
        )
        .success()
        .stdout;
    assert!(listed.contains("greeter/words.pyc"), "{listed}");
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        GREETING.replace("hello", "compiled")
    );
}
