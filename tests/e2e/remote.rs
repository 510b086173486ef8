//! The team's remote cache against a real server (`cache_server`): machine A builds and
//! uploads; machine B is a fresh copy elsewhere, with a fresh `HOME` and empty pybuild, pex
//! and uv caches. What a reader refuses to take is in `trust`.

use std::fs;
use std::time::Instant;

use crate::cache_server::{
    PASSWORD, Server, assert_nowhere, env, fresh_machine, keygen, pinned_app, sha256,
};
use crate::support::finish;

#[test]
fn a_fresh_clone_fetches_the_bundle_and_a_corrupted_blob_is_never_shipped() {
    let server = Server::start();
    let a = pinned_app();
    let url = server.url();
    // CI signs; the other machines trust its key (a fresh clone has no venv to check the
    // dependencies against: only a trusted signature vouches for them).
    let keys = tempfile::tempdir().unwrap();
    let (key_file, team_key) = keygen(&a, keys.path(), "team");
    let built = a
        .pybuild_with_env(
            &["bundle"],
            &[
                ("PYBUILD_REMOTE_CACHE", &url),
                ("PYBUILD_CACHE_SIGNING_KEY_FILE", key_file.to_str().unwrap()),
            ],
        )
        .success();
    // The summary of what the cache did (nothing fetched, the bundle sent).
    assert!(
        built.stderr.contains("remote cache: 0 hit(s), "),
        "{}",
        built.describe()
    );
    let bundle = a.path("dist/uvapp.pex");
    assert!(server.requests("PUT") >= 4, "blobs and entries uploaded");

    // Machine B: a fresh copy, fresh HOME and caches, credentials in the URL.
    let b = pinned_app();
    let scratch = tempfile::tempdir().unwrap();
    let machine = fresh_machine(scratch.path());
    let secret_url = format!("http://alice:{PASSWORD}@127.0.0.1:{}/", server.port);
    let mut b_env = env(&machine);
    b_env.push(("PYBUILD_REMOTE_CACHE", &secret_url));
    b_env.push(("PYBUILD_CACHE_TRUSTED_KEYS", &team_key));
    let start = Instant::now();
    let fetched = b.pybuild_with_env(&["bundle"], &b_env).success();
    let took = start.elapsed();
    assert!(
        fetched.stderr.contains("bundle   fetched"),
        "{}",
        fetched.describe()
    );
    // What a fetch saves is shown, not asserted (machines are noisy): that nothing was built
    // is what the next assertion proves.
    eprintln!("machine B fetched the bundle in {took:?}");
    assert!(
        !b.path(".venv").exists(),
        "no venv is made for a fetched bundle"
    );
    assert_eq!(
        fs::read(b.path("dist/uvapp.pex")).unwrap(),
        fs::read(&bundle).unwrap()
    );
    assert_eq!(
        b.exec("dist/uvapp.pex", &[]).success().stdout,
        a.exec("dist/uvapp.pex", &[]).success().stdout
    );
    let status = b.pybuild_with_env(&["status"], &b_env).success();
    assert!(
        status.stdout.contains("bundle   fresh"),
        "{}",
        status.describe()
    );
    let again = b.pybuild_with_env(&["bundle"], &b_env).success();
    assert!(
        again.stderr.contains("bundle   fresh"),
        "{}",
        again.describe()
    );
    for run in [&fetched, &status, &again] {
        assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD));
    }
    assert_nowhere(&b.path(".pybuild"), PASSWORD);

    // Machine C, read-only, with the bundle's blob corrupted on the server: detected, not
    // shipped; the dependencies PEX still comes from the server, the code layer is built
    // here, and the bundle is the same bytes as A's. Its length changed, so its
    // Content-Length gives it away (one of the same length: `hostile_cache`).
    fs::write(server.blob(&sha256(&bundle)), b"not the bundle").unwrap();
    let refused = format!(
        "the blob {} comes with a Content-Length of 14 bytes",
        sha256(&bundle)
    );
    let puts = server.requests("PUT");
    let c = pinned_app();
    let scratch = tempfile::tempdir().unwrap();
    let machine = fresh_machine(scratch.path());
    let mut c_env = env(&machine);
    c_env.extend([
        ("PYBUILD_REMOTE_CACHE", url.as_str()),
        ("PYBUILD_REMOTE_CACHE_READ_ONLY", "1"),
        ("PYBUILD_CACHE_TRUSTED_KEYS", team_key.as_str()),
    ]);
    let built_here = c.pybuild_with_env(&["-v", "bundle"], &c_env).success();
    assert!(
        built_here.stderr.contains(&refused),
        "{}",
        built_here.describe()
    );
    // Under the early key, then under the late one (the same bytes, whatever the checkout).
    assert_eq!(
        built_here.stderr.matches(&refused).count(),
        2,
        "{}",
        built_here.describe()
    );
    assert!(built_here.step_ran("venv") && built_here.step_ran("bundle"));
    assert!(
        built_here.stderr.contains("fetched from the remote cache"),
        "the dependencies PEX is fetched\n{}",
        built_here.describe()
    );
    assert_eq!(
        fs::read(c.path("dist/uvapp.pex")).unwrap(),
        fs::read(&bundle).unwrap()
    );
    assert_eq!(
        server.requests("PUT"),
        puts,
        "a read-only client never uploads"
    );
}

/// What the server has already is not sent again: a build under a new key whose bundle
/// is the same bytes (an input that does not ship changed) uploads its entry, not the
/// bundle.
#[test]
fn a_blob_the_server_has_is_not_sent_again() {
    let server = Server::start();
    let url = server.url();
    let project = pinned_app();
    let vars = [("PYBUILD_REMOTE_CACHE", url.as_str())];
    project.pybuild_with_env(&["bundle"], &vars).success();
    let (blobs, entries) = (
        server.requests_to("PUT", "/cas/"),
        server.requests_to("PUT", "/ac/"),
    );
    assert!(
        blobs >= 1 && entries >= 1,
        "{blobs} blobs, {entries} entries"
    );
    let bundle = fs::read(project.path("dist/uvapp.pex")).unwrap();

    project.write("notes.txt", "an input the bundle does not carry\n");
    let run = project.pybuild_with_env(&["bundle"], &vars).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    assert_eq!(fs::read(project.path("dist/uvapp.pex")).unwrap(), bundle);
    assert!(
        server.requests_to("PUT", "/ac/") > entries,
        "the new key's entry is uploaded\n{}",
        run.describe()
    );
    assert_eq!(
        server.requests_to("PUT", "/cas/"),
        blobs,
        "a blob the server has was sent again\n{}",
        run.describe()
    );
    assert!(run.stderr.contains(", 0 B sent"), "{}", run.describe());
}

/// A read-only client, by `[cache] read-only` or by the variable, uploads nothing, not
/// even a bundle the server does not have (machine C above builds what is there already),
/// and needs no signing key: one set for the team's writers (here, a file this machine
/// does not have) is not read.
#[test]
fn a_read_only_client_uploads_nothing() {
    let server = Server::start();
    let url = server.url();
    for how in ["project.toml", "the variable"] {
        let project = pinned_app();
        let mut vars = vec![
            ("PYBUILD_REMOTE_CACHE", url.as_str()),
            ("PYBUILD_CACHE_SIGNING_KEY_FILE", "/nonexistent/team.key"),
        ];
        match how {
            "project.toml" => {
                let config = project.read("project.toml") + "\n[cache]\nread-only = true\n";
                project.write("project.toml", &config);
            }
            _ => vars.push(("PYBUILD_REMOTE_CACHE_READ_ONLY", "1")),
        }
        // Code of its own: a bundle no one has uploaded.
        project.write(
            "src/uvapp/cli.py",
            &format!("def main():\n    print({how:?})\n"),
        );
        let run = project.pybuild_with_env(&["bundle"], &vars).success();
        assert!(run.step_ran("bundle"), "{}", run.describe());
        assert_eq!(server.requests("PUT"), 0, "{how}\n{}", run.describe());
        // What the cache did, said in one line: misses alone, here.
        assert!(
            run.stderr
                .contains("remote cache: 0 hit(s), 1 miss(es), 0 B fetched, 0 B sent"),
            "{}",
            run.describe()
        );
        // A no-op asks the cache nothing, and says nothing of it.
        let noop = project.pybuild_with_env(&["bundle"], &vars).success();
        assert!(!noop.stderr.contains("remote cache"), "{}", noop.describe());
    }
}

#[test]
fn a_server_down_before_or_during_a_build_costs_a_warning() {
    let mut server = Server::start();
    let url = server.url();
    server.stop();
    let project = pinned_app();
    let down = project
        .pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &url)])
        .success();
    assert!(
        down.stderr.contains("remote cache unusable"),
        "{}",
        down.describe()
    );
    assert_eq!(
        down.stderr.matches("warning:").count(),
        1,
        "{}",
        down.describe()
    );

    // Up when the build starts, gone while the bundle builds. Other pex options make pex
    // build the dependencies and the bundle again, for seconds: a code edit alone is
    // layered in a tenth of a second, which the wait below could miss whole.
    server.resume();
    project.write("src/uvapp/cli.py", "def main():\n    print('edited')\n");
    let config = project.read("project.toml");
    project.write(
        "project.toml",
        &format!("{config}\n[bundle]\npex-args = [\"--no-compress\"]\n"),
    );
    let child = project.spawn_pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &url)]);
    project.wait_until("the bundle step runs", || {
        fs::read_dir(project.path(".pybuild/tmp")).is_ok_and(|mut d| d.next().is_some())
    });
    server.stop();
    let run = finish(child).success();
    assert!(
        run.stderr.contains("warning: remote cache"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/uvapp.pex", &[]).success().stdout,
        "edited\n"
    );
}

/// `pinned_app` with `scripts` as its `[project.scripts]` lines.
fn with_scripts(scripts: &str) -> crate::support::Project {
    let project = pinned_app();
    let pyproject = project.read("pyproject.toml");
    project.write(
        "pyproject.toml",
        &pyproject.replace("uvapp = \"uvapp.cli:main\"\n", scripts),
    );
    project
}

/// A checkout with its venv checks a fetched bundle whole, dependencies included (against
/// the venv's `RECORD`s): it takes one nobody signed under the early key, where a fresh
/// clone needs a trusted key to vouch for the dependencies. Two console scripts: the
/// bundle, and the early key's output, is the one named after the project.
#[test]
fn a_checkout_with_its_venv_takes_an_unsigned_bundle_it_can_check_whole() {
    let server = Server::start();
    let url = server.url();
    let scripts = "hello = \"uvapp.cli:main\"\nuvapp = \"uvapp.cli:main\"\n";
    with_scripts(scripts)
        .pybuild_with_env(&["bundle"], &[("PYBUILD_REMOTE_CACHE", &url)])
        .success();

    takes_with_its_venv(&with_scripts(scripts), &url);
}

/// `reader`, on a fresh machine with the cache at `url`: set up, its bundle said to be
/// fetched (`status` asks the server too), then fetched, with no warning, and run.
fn takes_with_its_venv(reader: &crate::support::Project, url: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let machine = fresh_machine(scratch.path());
    let mut r_env = env(&machine);
    r_env.push(("PYBUILD_REMOTE_CACHE", url));
    reader.pybuild_with_env(&["setup"], &r_env).success();
    let status = reader.pybuild_with_env(&["status"], &r_env);
    assert!(
        status
            .stdout
            .contains("its result would be fetched from the remote cache"),
        "{}",
        status.describe()
    );
    let run = reader.pybuild_with_env(&["bundle"], &r_env).success();
    assert!(
        run.stderr.contains("bundle   fetched") && !run.stderr.contains("warning:"),
        "{}",
        run.describe()
    );
    assert_eq!(
        reader.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: six 1.15.0\n"
    );
}

/// A PEX pex built from the project's wheel (`strategy = "wheel"`) holds the code inside
/// `.deps/`, with the wheel's layout and metadata and pex's scripts: each checked (against
/// the input files, the venv's `RECORD`s, the scripts pex writes), it is taken.
#[test]
fn a_checkout_with_its_venv_takes_a_bundle_built_from_the_wheel() {
    let server = Server::start();
    let url = server.url();
    let wheel = |project: crate::support::Project| {
        let config = project.read("project.toml") + "\n[bundle]\nstrategy = \"wheel\"\n";
        project.with_file("project.toml", &config)
    };
    let built = wheel(pinned_app())
        .pybuild_with_env(&["-v", "bundle"], &[("PYBUILD_REMOTE_CACHE", &url)])
        .success();
    assert!(
        built.stderr.contains("pex strategy: wheel"),
        "{}",
        built.describe()
    );

    takes_with_its_venv(&wheel(pinned_app()), &url);
}

/// The early key is made when the checkout's files pin the bundle: with one console
/// script, whatever its name, the bundle is known; a `setup.py` may compute the metadata
/// (a version read from anywhere), so the bundle then goes up under its late key alone.
#[test]
fn the_early_key_is_made_only_when_the_checkouts_files_pin_the_bundle() {
    let server = Server::start();
    let url = server.url();
    let project = with_scripts("hello = \"uvapp.cli:main\"\n");
    let entries = || {
        server
            .entries()
            .into_iter()
            .filter(|entry| {
                let bytes = fs::read(entry).unwrap();
                bytes.windows(14).any(|w| w == b"dist/hello.pex")
            })
            .count()
    };
    let remote = [("PYBUILD_REMOTE_CACHE", url.as_str())];
    project.pybuild_with_env(&["bundle"], &remote).success();
    assert_eq!(entries(), 2, "the early and the late key");

    project.write("setup.py", "from setuptools import setup\n\nsetup()\n");
    project.write("src/uvapp/cli.py", "def main():\n    print('edited')\n");
    let run = project.pybuild_with_env(&["bundle"], &remote).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    assert_eq!(entries(), 3, "the late key alone\n{}", run.describe());
}
