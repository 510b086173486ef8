//! The installers: uv by default (the one on PATH, else pybuild's own, fetched once into
//! pybuild's cache), pip on request; both give the same environment from the same pins.

use std::os::unix::fs::symlink;

use crate::support::{Project, SAMPLE_CONFIG, fetched_uv};

const PINS: &str = "six==1.15.0\nidna==3.4\n";

/// `name==version` of every distribution in the project's venv, but the installers'
/// own (pip, setuptools, wheel and what wheel needs).
fn environment(project: &Project) -> Vec<String> {
    let code = "import importlib.metadata as m\n\
        own = {'pip', 'setuptools', 'wheel', 'packaging'}\n\
        names = sorted(f\"{d.metadata['Name'].lower()}=={d.version}\" for d in m.distributions()\n\
        \x20   if d.metadata['Name'].lower() not in own)\n\
        print('\\n'.join(names))\n";
    let out = project
        .exec(".venv/bin/python", &["-c", code])
        .success()
        .stdout;
    out.lines().map(String::from).collect()
}

#[test]
fn without_uv_on_path_pybuild_fetches_its_own_once_for_every_project() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let env = [("PYBUILD_CACHE_DIR", cache_dir)];

    let first = Project::sample();
    let run = first.pybuild_with_env(&["bundle"], &env).success();
    assert!(
        run.stderr.contains("fetching uv 0.13.9"),
        "{}",
        run.describe()
    );
    assert!(cache.path().join("uv/0.13.9/bin/uv").is_file());
    assert!(first.read(".venv/pyvenv.cfg").contains("uv = 0.13.9"));
    let out = first.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.contains("greeting: hello"), "{out}");

    // Another project of the same user: the fetched uv is reused.
    let second = Project::sample();
    let run = second.pybuild_with_env(&["setup"], &env).success();
    assert!(!run.stderr.contains("fetching uv"), "{}", run.describe());
    assert!(second.read(".venv/pyvenv.cfg").contains("uv = 0.13.9"));
}

#[test]
fn a_uv_on_path_is_used_and_nothing_is_fetched() {
    // A uv to put on PATH: the one pybuild fetches into the shared cache.
    Project::sample().pybuild(&["setup"]).success();
    let bin = tempfile::tempdir().unwrap();
    symlink(fetched_uv(), bin.path().join("uv")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = tempfile::tempdir().unwrap();
    let project = Project::sample();
    let run = project
        .pybuild_with_env(
            &["-v", "setup"],
            &[
                ("PATH", &path),
                ("PYBUILD_CACHE_DIR", cache.path().to_str().unwrap()),
            ],
        )
        .success();
    assert!(!run.stderr.contains("fetching uv"), "{}", run.describe());
    let on_path = format!("{}/uv venv", bin.path().display());
    assert!(run.stderr.contains(&on_path), "{}", run.describe());
    assert!(!cache.path().join("uv").exists());
}

#[test]
fn pip_and_uv_install_the_same_environment_from_the_same_pins() {
    let with_uv = Project::sample().with_file("requirements.txt", PINS);
    let with_pip = Project::sample()
        .with_file("requirements.txt", PINS)
        .with_file(
            "project.toml",
            &SAMPLE_CONFIG.replace("[env]\n", "[env]\ninstaller = \"pip\"\n"),
        );
    with_uv.pybuild(&["bundle"]).success();
    with_pip.pybuild(&["bundle"]).success();
    assert!(with_uv.read(".venv/pyvenv.cfg").contains("uv = "));
    assert!(!with_pip.read(".venv/pyvenv.cfg").contains("uv = "));
    let env = environment(&with_uv);
    assert_eq!(env, environment(&with_pip));
    assert!(env.contains(&"six==1.15.0".to_string()), "{env:?}");
    assert!(env.contains(&"idna==3.4".to_string()), "{env:?}");
    for project in [&with_uv, &with_pip] {
        let out = project.exec("dist/greet.pex", &[]).success().stdout;
        assert!(out.contains("greeting: hello"), "{out}");
    }
}
