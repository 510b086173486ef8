//! What ships is what was tested: every bundle carries exactly the versions installed in
//! the venv, pins of the requirement files and constraints included.

use std::fs;
use std::process::Command;

use crate::support::Project;

/// The distributions a bundle (PEX, shiv, zipapp) carries, as `name==version`, from each
/// `*.dist-info/METADATA` in the archive (a PEX's dependencies included).
fn shipped(project: &Project, archive: &str) -> Vec<String> {
    let script = "import email.parser, sys, zipfile\n\
        parser = email.parser.BytesHeaderParser()\n\
        archive = zipfile.ZipFile(sys.argv[1])\n\
        found = set()\n\
        for name in archive.namelist():\n\
        \x20   if name.endswith('.dist-info/METADATA'):\n\
        \x20       h = parser.parsebytes(archive.read(name))\n\
        \x20       found.add(h['Name'].lower() + '==' + h['Version'])\n\
        print('\\n'.join(sorted(found)))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(project.path(archive))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn venv_version(project: &Project, dist: &str) -> String {
    let code = format!("import importlib.metadata as m; print(m.version({dist:?}))");
    project
        .exec(".venv/bin/python", &["-c", &code])
        .success()
        .stdout
        .trim()
        .to_string()
}

#[test]
fn pins_and_constraints_reach_the_venv_and_the_bundle_together() {
    // Older than the newest releases: a second resolve would pick others.
    let project = Project::sample().with_file("requirements.txt", "six==1.15.0\nidna==3.4\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.15.0");
    let carried = shipped(&project, "dist/greet.pex");
    assert_eq!(
        carried,
        ["greeter==1.2.3", "idna==3.4", "six==1.15.0"],
        "{carried:?}"
    );

    // A pin changed: venv and bundle change together.
    project.write("requirements.txt", "six==1.16.0\nidna==3.4\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.16.0");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "idna==3.4", "six==1.16.0"]
    );

    // A dependency no longer asked for leaves the venv and the bundle.
    project.write("requirements.txt", "six==1.16.0\n");
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        run.stderr.contains("nothing asks for any more: idna"),
        "{}",
        run.describe()
    );
    project
        .exec(".venv/bin/python", &["-c", "import idna"])
        .failure(1);
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "six==1.16.0"]
    );

    // A constraints file, through the requirement file; then the constraints alone.
    project.write("requirements.txt", "six\n-c constraints.txt\n");
    project.write("constraints.txt", "six==1.15.0\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.15.0");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "six==1.15.0"]
    );
    project.write("constraints.txt", "six==1.16.0\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.16.0");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "six==1.16.0"]
    );

    // What an included file (`-r`) asks for is asked for: it stays, and ships.
    project.write("base.txt", "idna==3.4\n");
    project.write("requirements.txt", "six==1.16.0\n-r base.txt\n");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "idna"), "3.4");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "idna==3.4", "six==1.16.0"]
    );
}

#[test]
fn every_zip_kind_ships_the_venvs_versions_and_says_so_in_its_manifest() {
    let project = Project::sample().with_file("requirements.txt", "six==1.15.0\nidna==3.4\n");
    for (kind, output) in [
        ("zipapp", "dist/greet.pyz"),
        ("shiv", "dist/greet.pyz"),
        ("pex", "dist/greet.pex"),
    ] {
        project.write(
            "project.toml",
            &format!(
                "[project]\nname = \"greeter\"\n[env]\nrequirements = [\"requirements.txt\"]\n\
                 [bundle]\nkind = \"{kind}\"\n"
            ),
        );
        project.pybuild(&["bundle"]).success();
        let carried = shipped(&project, output);
        assert_eq!(
            carried,
            ["greeter==1.2.3", "idna==3.4", "six==1.15.0"],
            "{kind}"
        );
        let manifest: serde_json::Value =
            serde_json::from_str(&project.read("dist/greet.manifest.json")).unwrap();
        assert_eq!(manifest["kind"], kind);
        assert_eq!(manifest["bundle"], output);
        assert_eq!(
            manifest["verified"],
            serde_json::json!([
                "dependencies",
                "closure: venv",
                "pins",
                "entry-point: greeter.cli",
                "top-level: greeter"
            ]),
            "{kind}"
        );
        assert_eq!(manifest["unverified"], serde_json::json!([]), "{kind}");
        assert_eq!(manifest["distributions"]["six"], "1.15.0", "{manifest}");
        assert!(
            manifest["environment"]["requirements.txt"].is_string(),
            "{manifest}"
        );
    }
}

/// What a requirement file asks for through a file it includes, with a marker, is in the
/// venv, and so in every bundle: pip, installing a shiv or zipapp bundle's site-packages,
/// was given only the top file's unconditional names, and dropped it without a word.
#[test]
fn a_requirement_from_an_included_file_with_a_marker_ships_in_every_zip_kind() {
    let project = Project::sample()
        .with_file("requirements.txt", "six==1.16.0\n-r base.txt\n")
        .with_file("base.txt", "idna==3.4 ; python_version >= \"3\"\n");
    for (kind, output) in [
        ("zipapp", "dist/greet.pyz"),
        ("shiv", "dist/greet.pyz"),
        ("pex", "dist/greet.pex"),
    ] {
        project.write(
            "project.toml",
            &format!(
                "{}\n[bundle]\nkind = \"{kind}\"\n",
                crate::support::SAMPLE_CONFIG
            ),
        );
        project.pybuild(&["bundle"]).success();
        assert_eq!(venv_version(&project, "idna"), "3.4");
        assert_eq!(
            shipped(&project, output),
            ["greeter==1.2.3", "idna==3.4", "six==1.16.0"],
            "{kind}"
        );
        let verified = manifest(&project, "dist/greet.manifest.json")["verified"].clone();
        assert!(
            verified
                .as_array()
                .unwrap()
                .contains(&"closure: venv".into()),
            "{kind}: {verified}"
        );
    }
}

/// A bundle that would leave out a distribution the app runs with in the venv is never
/// shipped: with a bug put into the venv's shiv (it deletes idna, which the project's
/// extra asked for by `-e .[net]` requires, and six from the site-packages it is given),
/// the build fails naming both, the previous bundle left in place. What pex is told to
/// `--exclude` is left out on purpose, and that passes.
#[test]
fn a_bundle_leaving_out_what_the_app_runs_with_never_ships() {
    let project = Project::sample().with_file("requirements.txt", "six==1.16.0\n-e .[net]\n");
    let pyproject = project.read("pyproject.toml").replace(
        "[project.scripts]",
        "[project.optional-dependencies]\nnet = [\"idna==3.4\"]\n\n[project.scripts]",
    );
    project.write("pyproject.toml", &pyproject);
    let config = |bundle: &str| format!("{}\n[bundle]\n{bundle}\n", crate::support::SAMPLE_CONFIG);
    project.write("project.toml", &config("kind = \"shiv\""));
    project.pybuild(&["bundle"]).success();
    let before = fs::read(project.path("dist/greet.pyz")).unwrap();
    assert!(shipped(&project, "dist/greet.pyz").contains(&"idna==3.4".to_string()));

    let cli = project.site_packages().join("shiv/cli.py");
    let text = fs::read_to_string(&cli).unwrap()
        + "\nimport glob as _g, os as _o, shutil as _s, sys as _y\n\
           _site = _y.argv[_y.argv.index('--site-packages') + 1]\n\
           for _d in _g.glob(_site + '/idna*') + _g.glob(_site + '/six*'):\n\
           \x20   _s.rmtree(_d) if _o.path.isdir(_d) else _o.remove(_d)\n";
    // A new file: the venv's may be a hard link into uv's cache, which other tests share.
    fs::remove_file(&cli).unwrap();
    fs::write(&cli, text).unwrap();
    project.write("src/greeter/words.py", "def word():\n    return 'hi'\n");
    let run = project.pybuild(&["bundle"]).failure(1);
    assert!(
        run.stderr.contains(
            "dist/greet.pyz would leave out what the app runs with in the venv:\n  idna 3.4\n  six 1.16.0\n"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("the previous bundle was left in place"),
        "{}",
        run.describe()
    );
    assert_eq!(fs::read(project.path("dist/greet.pyz")).unwrap(), before);

    project.write(
        "project.toml",
        &config("pex-args = [\"--exclude\", \"idna\"]"),
    );
    project.pybuild(&["bundle"]).success();
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "six==1.16.0"]
    );
}

fn manifest(project: &Project, rel: &str) -> serde_json::Value {
    serde_json::from_str(&project.read(rel)).unwrap()
}

/// The uv app fixture with a project.toml naming it, and `kind` as its bundle kind.
fn uv_app(kind: &str) -> Project {
    Project::fixture("uv-app").with_file(
        "project.toml",
        &format!("[project]\nname = \"uvapp\"\n\n[bundle]\nkind = \"{kind}\"\n"),
    )
}

/// `uv lock` after `pyproject.toml` changed, with the uv pybuild fetched.
fn relock(project: &Project) {
    project
        .run_program(&crate::support::fetched_uv(), &["lock", "--quiet"])
        .success();
}

#[test]
fn a_uv_lock_is_what_the_venv_and_every_zip_bundle_hold() {
    // The lock pins six 1.15.0; the project asks for any six.
    let project = uv_app("pex");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.15.0");
    assert_eq!(
        shipped(&project, "dist/uvapp.pex"),
        ["six==1.15.0", "uvapp==0.1.0"]
    );
    let out = project.exec("dist/uvapp.pex", &[]).success().stdout;
    assert_eq!(out.trim(), "uvapp: six 1.15.0");
    let m = manifest(&project, "dist/uvapp.manifest.json");
    assert_eq!(m["pinned"]["six"], "uv.lock", "{m}");
    assert!(m["environment"]["uv.lock"].is_string(), "{m}");

    // The pin changed and locked again: venv and bundle change together.
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace("six==1.15.0", "six==1.16.0"),
    );
    relock(&project);
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.16.0");
    assert_eq!(
        shipped(&project, "dist/uvapp.pex"),
        ["six==1.16.0", "uvapp==0.1.0"]
    );

    // The other zip kinds take the same closure from the same venv.
    for (kind, output) in [("shiv", "dist/uvapp.pyz"), ("zipapp", "dist/uvapp.pyz")] {
        project.write(
            "project.toml",
            &format!("[project]\nname = \"uvapp\"\n\n[bundle]\nkind = \"{kind}\"\n"),
        );
        project.pybuild(&["bundle"]).success();
        assert_eq!(
            shipped(&project, output),
            ["six==1.16.0", "uvapp==0.1.0"],
            "{kind}"
        );
        let out = project.exec(output, &[]).success().stdout;
        assert_eq!(out.trim(), "uvapp: six 1.16.0", "{kind}");
    }

    // A dependency removed from the project and the lock: gone from venv and bundle.
    project.write("project.toml", "[project]\nname = \"uvapp\"\n");
    project.write(
        "pyproject.toml",
        &pyproject
            .replace("dependencies = [\"six\"]", "dependencies = []")
            .replace("constraint-dependencies = [\"six==1.15.0\"]", ""),
    );
    project.write(
        "src/uvapp/cli.py",
        "def main():\n    print(\"uvapp: alone\")\n",
    );
    relock(&project);
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("nothing asks for any more:") && l.contains("six")),
        "{}",
        run.describe()
    );
    project
        .exec(".venv/bin/python", &["-c", "import six"])
        .failure(1);
    assert_eq!(shipped(&project, "dist/uvapp.pex"), ["uvapp==0.1.0"]);
}

#[test]
fn a_pylock_is_what_the_venv_and_the_bundle_hold() {
    // The PEP 751 lock pins six 1.14.0 (the uv.lock beside it would say 1.15.0).
    let project = uv_app("pex");
    fs::remove_file(project.path("uv.lock")).unwrap();
    project.write("pylock.toml", &project.read("locks/pylock.toml"));
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.14.0");
    assert_eq!(
        shipped(&project, "dist/uvapp.pex"),
        ["six==1.14.0", "uvapp==0.1.0"]
    );
    let m = manifest(&project, "dist/uvapp.manifest.json");
    assert_eq!(m["pinned"]["six"], "pylock.toml", "{m}");
}

#[test]
fn a_version_changed_by_hand_is_put_back_when_pinned_and_shipped_as_is_when_not() {
    let project = Project::sample().with_file("requirements.txt", "six==1.16.0\n");
    project.pybuild(&["bundle"]).success();
    let by_hand = || {
        project.install_by_hand("six==1.15.0");
        assert_eq!(venv_version(&project, "six"), "1.15.0");
    };

    // Pinned: the venv is put back to the pin, and the bundle ships the pin.
    by_hand();
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.16.0");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "six==1.16.0"]
    );
    let m = manifest(&project, "dist/greet.manifest.json");
    assert_eq!(m["pinned"]["six"], "requirements.txt", "{m}");
    assert_eq!(m["unpinned"], serde_json::json!([]), "{m}");

    // Not pinned: shipped as the venv holds it, and the manifest says so.
    project.write("requirements.txt", "six\n");
    project.pybuild(&["bundle"]).success();
    by_hand();
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.15.0");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "six==1.15.0"]
    );
    let m = manifest(&project, "dist/greet.manifest.json");
    assert_eq!(m["unpinned"], serde_json::json!(["six"]), "{m}");
    assert_eq!(m["pinned"], serde_json::json!({}), "{m}");
}

/// setuptools vendors distributions inside itself (`setuptools/_vendor/*.dist-info`):
/// they ship as its files, and are no distributions of the venv to check.
#[test]
fn what_a_package_vendors_is_not_taken_for_a_distribution() {
    let project = Project::sample().with_file("requirements.txt", "six\nsetuptools<81\n");
    project.pybuild(&["bundle"]).success();
    let m = manifest(&project, "dist/greet.manifest.json");
    let shipped: Vec<&String> = m["distributions"].as_object().unwrap().keys().collect();
    assert_eq!(shipped, ["greeter", "setuptools", "six"], "{m}");
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.contains("greeting: hello"), "{out}");
}

/// A dependency of a dependency changed by hand: no install names it, yet the venv is
/// synced back to the lock before anything ships; a tool pinned against the lock is
/// refused before anything runs.
#[test]
fn a_venv_drifted_from_its_lock_is_synced_back_and_a_tool_pin_against_it_is_refused() {
    let project = uv_app("pex");
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace(
            "dependencies = [\"six\"]",
            "dependencies = [\"python-dateutil==2.9.0.post0\"]",
        ),
    );
    project.write(
        "src/uvapp/cli.py",
        "import dateutil, six\n\n\ndef main():\n    print(\"uvapp: six\", six.__version__)\n",
    );
    // The lock no longer matches pyproject.toml: uv says so, pybuild names the uv to fix it.
    let run = project.pybuild(&["setup"]).failure(1);
    assert!(
        run.stderr.contains("cannot sync the venv to uv.lock")
            && run.stderr.contains("/uv lock` updates it"),
        "{}",
        run.describe()
    );
    relock(&project);
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.15.0");

    project.install_by_hand("six==1.16.0");
    let status = project.pybuild(&["status"]).success();
    assert!(
        status
            .stdout
            .contains("six 1.16.0 in the venv, uv.lock pins 1.15.0"),
        "{}",
        status.describe()
    );
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "six"), "1.15.0");
    let out = project.exec("dist/uvapp.pex", &[]).success().stdout;
    assert_eq!(out.trim(), "uvapp: six 1.15.0");

    project.write(
        "project.toml",
        "[project]\nname = \"uvapp\"\n\n[env]\ntools = [\"six==1.16.0\"]\n",
    );
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr
            .contains("pins six==1.16.0, but uv.lock pins six 1.15.0: the venv cannot hold both"),
        "{}",
        run.describe()
    );
}

/// The dependencies PEX a layered bundle is built on can come from outside this build.
/// From the layer cache the user's checkouts share (`$PYBUILD_CACHE_DIR/layers`), where
/// another checkout, another pybuild version, or a copy by hand may have put, under this
/// build's digest, a layer holding other versions (its `.blake3` beside it only says the
/// copy is whole): it is audited against the venv's `RECORD`s before it is taken, so it is
/// refused and built here. From the project's own `.pybuild/layers/` (a `.pybuild/`
/// restored from a backup, or edited by hand): it is reused as the project's own product,
/// and only reading the finished bundle back against the venv stops it from shipping. The
/// venv's six is unpinned (installed by hand), so no pin check stands in for that one.
#[test]
fn a_dependencies_pex_holding_other_versions_never_ships() {
    // This test's own layer cache; the rest of pybuild's cache is the shared one.
    let cache = tempfile::tempdir().unwrap();
    let shared = crate::support::cache_dir().join("pybuild");
    fs::create_dir_all(&shared).unwrap();
    for entry in fs::read_dir(&shared).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "layers" {
            std::os::unix::fs::symlink(entry.path(), cache.path().join(entry.file_name())).unwrap();
        }
    }
    let env = [("PYBUILD_CACHE_DIR", cache.path().to_str().unwrap())];
    let layers = cache.path().join("layers");
    let layer_names = || -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&layers)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".pex"))
            .collect();
        names.sort();
        names
    };

    let project = Project::sample();
    project.pybuild_with_env(&["bundle"], &env).success();
    let newest = venv_version(&project, "six");
    assert_ne!(newest, "1.15.0");
    let [first] = layer_names().try_into().unwrap();
    project.install_by_hand("six==1.15.0");
    project.pybuild_with_env(&["bundle"], &env).success();
    let second = layer_names()
        .into_iter()
        .find(|name| *name != first)
        .unwrap();

    // The shared layer of this venv's digest now holds the other six, its hash beside it.
    fs::copy(layers.join(&first), layers.join(&second)).unwrap();
    fs::copy(
        layers.join(format!("{first}.blake3")),
        layers.join(format!("{second}.blake3")),
    )
    .unwrap();
    for local in [second.clone(), format!("{second}.blake3")] {
        fs::remove_file(project.path(".pybuild/layers").join(local)).unwrap();
    }
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"edited\"\n",
    );
    let run = project.pybuild_with_env(&["-v", "bundle"], &env).success();
    assert!(
        run.stderr.contains(&format!(
            "the shared dependencies PEX {} is not what this venv holds",
            layers.join(&second).display()
        )),
        "{}",
        run.describe()
    );
    assert_eq!(venv_version(&project, "six"), "1.15.0");
    let bundle = fs::read(project.path("dist/greet.pex")).unwrap();

    // The project's own layer of this digest now holds the other six, its hash beside it.
    let local = project.path(".pybuild/layers");
    fs::copy(layers.join(&first), local.join(&second)).unwrap();
    fs::copy(
        layers.join(format!("{first}.blake3")),
        local.join(format!("{second}.blake3")),
    )
    .unwrap();
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"edited again\"\n",
    );
    let run = project.pybuild_with_env(&["-v", "bundle"], &env).failure(1);
    assert!(
        run.stderr.contains(&format!(
            "dist/greet.pex would ship other versions than the venv was tested with:\n  \
             six: the bundle has {newest}, the venv 1.15.0"
        )),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("the previous bundle was left in place"),
        "{}",
        run.describe()
    );
    assert_eq!(fs::read(project.path("dist/greet.pex")).unwrap(), bundle);
}

/// Without a requirement file's pin, the project's own exact `Requires-Dist` is the pin:
/// the manifest names it, and a version installed by hand is put back before the bundle
/// ships. One under a marker pins nothing (the marker may
/// exclude this platform). A build with nothing changed sees no drift.
#[test]
fn the_projects_own_exact_requirement_is_a_pin() {
    let project = Project::sample();
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace(
            "dependencies = [\"six\"]",
            "dependencies = [\"six==1.16.0; python_version >= '3'\", \"idna==3.4\"]",
        ),
    );
    project.pybuild(&["bundle"]).success();
    let m = manifest(&project, "dist/greet.manifest.json");
    assert_eq!(
        m["pinned"],
        serde_json::json!({"idna": "Requires-Dist"}),
        "{m}"
    );
    assert_eq!(m["unpinned"], serde_json::json!(["six"]), "{m}");
    let run = project.pybuild(&["bundle"]).success();
    assert!(!run.step_ran("develop"), "{}", run.describe());

    project.install_by_hand("idna==3.3");
    assert_eq!(venv_version(&project, "idna"), "3.3");
    project.pybuild(&["bundle"]).success();
    assert_eq!(venv_version(&project, "idna"), "3.4");
    assert_eq!(
        shipped(&project, "dist/greet.pex"),
        ["greeter==1.2.3", "idna==3.4", "six==1.16.0"]
    );
}
