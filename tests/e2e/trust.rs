//! Whoever may write to the remote cache must not choose what its readers run: each attack
//! of a writer (a trojaned dependency under the honest keys, a code layer swapped under the
//! honest early key, a poisoned dependencies PEX) is caught on the reader, not shipped and
//! not offered to the machine-wide layer cache; signed entries, and readers that take only
//! those of the keys they trust. Against a real nginx (`cache_server`); every writer and
//! reader is a machine of its own (fresh `HOME`, pybuild and pex caches), so nothing
//! poisoned reaches the caches the other tests share.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache_server::{Server, env, fresh_machine, keygen, pinned_app};
use crate::support::{Project, Run};

const TROJAN: &str = "TROJAN-six-was-here";

/// A machine of its own under `scratch` (see `fresh_machine`), with the server and `extra`.
fn machine(scratch: &Path, server: &Server, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = fresh_machine(scratch);
    pairs.push(("PYBUILD_REMOTE_CACHE".into(), server.url()));
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs
}

fn bundle(project: &Project, pairs: &[(String, String)]) -> Run {
    project.pybuild_with_env(&["bundle"], &env(pairs)).success()
}

/// Appends `line` to the file `rel` of `project`'s site-packages, its `RECORD` untouched.
fn trojan(project: &Project, rel: &str, line: &str) {
    let file = project.site_packages().join(rel);
    let text = fs::read_to_string(&file).unwrap() + &format!("\n{line}\n");
    // A new file: the venv's may be a hard link into uv's cache, which other tests share.
    fs::remove_file(&file).unwrap();
    fs::write(&file, text).unwrap();
}

/// The text of the members of the zip `pex` whose names end with `suffix`, joined.
fn members(pex: &Path, suffix: &str) -> String {
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(''.join(z.read(n).decode('utf-8', 'replace') for n in z.namelist() if n.endswith(sys.argv[2])))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(pex)
        .arg(suffix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The dependencies PEXes the machine under `scratch` offers its other checkouts.
fn shared_layers(scratch: &Path) -> Vec<PathBuf> {
    fs::read_dir(scratch.join("pybuild/layers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pex"))
        .collect()
}

/// The entries on the server naming the bundle (not the dependencies PEX's).
fn bundle_entries(server: &Server) -> Vec<PathBuf> {
    server
        .entries()
        .into_iter()
        .filter(|entry| {
            let bytes = fs::read(entry).unwrap();
            bytes.windows(14).any(|w| w == b"dist/uvapp.pex")
        })
        .collect()
}

#[test]
fn keygen_writes_a_private_key_and_prints_only_the_public_one() {
    let project = pinned_app();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.key");
    let out = file.to_str().unwrap();
    let run = project
        .pybuild(&["cache", "keygen", "team-1", "--out", out])
        .success();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.describe());
    let (name, public) = run.stdout.trim().split_once(':').unwrap();
    assert_eq!(name, "team-1");
    // 32 bytes, standard base64.
    assert_eq!(public.len(), 44, "{public}");
    assert!(public.ends_with('='));
    assert!(
        public[..43]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    );
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = fs::read_to_string(&file).unwrap();
    let (secret_name, secret_key) = secret.trim().split_once(':').unwrap();
    assert_eq!(secret_name, "team-1");
    assert_eq!(secret_key.len(), 88, "64 bytes");
    assert!(!run.stdout.contains(secret_key) && !run.stderr.contains(secret_key));

    // An existing key is kept, unless --force.
    let again = project
        .pybuild(&["cache", "keygen", "team-1", "--out", out])
        .failure(2);
    assert!(again.stderr.contains("exists"), "{}", again.describe());
    assert_eq!(fs::read_to_string(&file).unwrap(), secret);
    let forced = project
        .pybuild(&["cache", "keygen", "team-1", "--out", out, "--force"])
        .success();
    assert_ne!(forced.stdout, run.stdout);
    assert_ne!(fs::read_to_string(&file).unwrap(), secret);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A key others may read is refused before anything is built, naming it and its setting.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let refused = project
        .pybuild_with_env(
            &["bundle"],
            &[
                ("PYBUILD_REMOTE_CACHE", "http://127.0.0.1:9"),
                ("PYBUILD_CACHE_SIGNING_KEY_FILE", out),
            ],
        )
        .failure(2);
    assert!(
        refused.stderr.contains(out) && refused.stderr.contains("PYBUILD_CACHE_SIGNING_KEY_FILE"),
        "{}",
        refused.describe()
    );

    // A malformed trusted key is a configuration error at its place.
    project.write(
        "project.toml",
        "[project]\nname = \"uvapp\"\n\n[env]\ntools = [\"pex==2.105.2\"]\n\n[cache]\ntrusted-keys = [\"team-1:not-base64\"]\n",
    );
    let bad = project.pybuild(&["status"]).failure(2);
    assert!(
        bad.stderr.contains("project.toml:8:17") && bad.stderr.contains("trusted-keys"),
        "{}",
        bad.describe()
    );
}

#[test]
fn a_trojaned_dependency_uploaded_under_the_honest_keys_is_not_shipped_nor_shared() {
    let server = Server::start();
    let scratch = tempfile::tempdir().unwrap();

    // The writer's venv has a trojaned six.py, its RECORD untouched: the same keys.
    let writer = pinned_app();
    let w_env = machine(&scratch.path().join("writer"), &server, &[]);
    writer.pybuild_with_env(&["setup"], &env(&w_env)).success();
    trojan(&writer, "six.py", &format!("print({TROJAN:?})"));
    bundle(&writer, &w_env);
    let shipped = writer.exec("dist/uvapp.pex", &[]).success();
    assert!(
        shipped.stdout.contains(TROJAN),
        "the attack works on the writer"
    );
    assert!(!bundle_entries(&server).is_empty());

    // An honest reader: its venv is what the lock says; nothing of the writer's is taken.
    let reader = pinned_app();
    let r_scratch = scratch.path().join("reader");
    let r_env = machine(&r_scratch, &server, &[]);
    let run = bundle(&reader, &r_env);
    assert!(
        run.stderr.contains("six.py differs from the venv's"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("the fetched dependencies PEX is not what this venv holds"),
        "the poisoned dependencies PEX is refused\n{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("the fetched dist/uvapp.pex is not what this checkout builds"),
        "the poisoned bundle is refused\n{}",
        run.describe()
    );
    assert!(run.step_ran("bundle") && !run.stderr.contains("(fetched)"));
    let out = reader.exec("dist/uvapp.pex", &[]).success();
    assert_eq!(out.stdout, "uvapp: six 1.15.0\n");
    assert!(!members(&reader.path("dist/uvapp.pex"), "six.py").contains(TROJAN));
    let layers = shared_layers(&r_scratch);
    assert!(!layers.is_empty(), "the reader's own layer is shared");
    for layer in layers {
        assert!(
            !members(&layer, "six.py").contains(TROJAN),
            "{} holds the trojan",
            layer.display()
        );
    }
    // A poisoned layer already in the machine-wide cache (fetched unchecked by an older
    // pybuild) is not taken either.
    let planted = scratch.path().join("planted");
    let shared = planted.join("pybuild/layers");
    fs::create_dir_all(&shared).unwrap();
    for entry in fs::read_dir(writer.path(".pybuild/layers"))
        .unwrap()
        .flatten()
    {
        fs::copy(entry.path(), shared.join(entry.file_name())).unwrap();
    }
    let other = pinned_app();
    let mut o_env = fresh_machine(&planted);
    o_env.push(("PYBUILD_REMOTE_CACHE_READ_ONLY".into(), "1".into()));
    let run = other.pybuild_with_env(&["bundle"], &env(&o_env)).success();
    assert!(
        run.stderr.contains("is not what this venv holds") && run.stderr.contains("six.py"),
        "{}",
        run.describe()
    );
    assert_eq!(
        other.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: six 1.15.0\n"
    );
}

#[test]
fn a_code_layer_swapped_under_the_honest_keys_is_not_shipped() {
    let server = Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let honest = pinned_app();
    let (key_file, team) = keygen(&honest, keys.path(), "team");
    let signing = [("PYBUILD_CACHE_SIGNING_KEY_FILE", key_file.to_str().unwrap())];
    bundle(
        &honest,
        &machine(&scratch.path().join("a"), &server, &signing),
    );
    let honest_entries = bundle_entries(&server);
    assert_eq!(honest_entries.len(), 2, "the early and the late key");

    // An attacker with write access (and even the team's key) builds other code and puts
    // its entry under the honest keys.
    let attacker = pinned_app();
    attacker.write(
        "src/uvapp/cli.py",
        "import six\n\n\ndef main():\n    print(\"EVIL\")\n",
    );
    bundle(
        &attacker,
        &machine(&scratch.path().join("m"), &server, &signing),
    );
    let evil: Vec<PathBuf> = bundle_entries(&server)
        .into_iter()
        .filter(|entry| !honest_entries.contains(entry))
        .collect();
    assert!(!evil.is_empty());
    let evil_entry = fs::read(&evil[0]).unwrap();
    for entry in &honest_entries {
        fs::write(entry, &evil_entry).unwrap();
    }

    // A reader trusting the team's key, with no venv: the signature is for another key.
    let fresh = pinned_app();
    let run = bundle(
        &fresh,
        &machine(
            &scratch.path().join("b"),
            &server,
            &[
                ("PYBUILD_CACHE_TRUSTED_KEYS", &team),
                ("PYBUILD_REMOTE_CACHE_READ_ONLY", "1"),
            ],
        ),
    );
    assert!(
        run.stderr.contains("signature by `team` does not verify"),
        "{}",
        run.describe()
    );
    assert_eq!(
        fresh.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: six 1.15.0\n"
    );

    // A reader with a venv and no trusted key: the code layer is checked against the sources.
    let reader = pinned_app();
    let r_env = machine(
        &scratch.path().join("c"),
        &server,
        &[("PYBUILD_REMOTE_CACHE_READ_ONLY", "1")],
    );
    reader.pybuild_with_env(&["setup"], &env(&r_env)).success();
    let run = bundle(&reader, &r_env);
    assert!(
        run.stderr
            .contains("uvapp/cli.py differs from the project's src/uvapp/cli.py"),
        "{}",
        run.describe()
    );
    assert!(run.step_ran("bundle") && !run.stderr.contains("(fetched)"));
    assert_eq!(
        reader.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: six 1.15.0\n"
    );
}

#[test]
fn a_reader_takes_only_entries_signed_by_a_key_it_trusts() {
    let server = Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let probe = pinned_app();
    let (team_file, team) = keygen(&probe, keys.path(), "team");
    let (other_file, _) = keygen(&probe, keys.path(), "other");
    let reader_env = |name: &str| {
        machine(
            &scratch.path().join(name),
            &server,
            &[
                ("PYBUILD_CACHE_TRUSTED_KEYS", &team),
                ("PYBUILD_REMOTE_CACHE_READ_ONLY", "1"),
            ],
        )
    };
    let refuses = |why: &str, name: &str| {
        let reader = pinned_app();
        let run = bundle(&reader, &reader_env(name));
        assert!(run.stderr.contains(why), "{}", run.describe());
        assert_eq!(
            run.stderr.matches("warning:").count(),
            1,
            "{}",
            run.describe()
        );
        assert!(run.step_ran("bundle") && !run.stderr.contains("(fetched)"));
    };

    // Signed by a key the readers do not trust.
    let writer = pinned_app();
    let signing = [(
        "PYBUILD_CACHE_SIGNING_KEY_FILE",
        other_file.to_str().unwrap(),
    )];
    bundle(
        &writer,
        &machine(&scratch.path().join("w1"), &server, &signing),
    );
    refuses("it is signed by `other`, a key not trusted here", "r1");

    // Unsigned, under the same keys.
    bundle(
        &pinned_app(),
        &machine(&scratch.path().join("w2"), &server, &[]),
    );
    refuses("it is unsigned", "r2");

    // Signed by the team: a fresh clone takes it with no venv.
    let signing = [(
        "PYBUILD_CACHE_SIGNING_KEY_FILE",
        team_file.to_str().unwrap(),
    )];
    bundle(
        &pinned_app(),
        &machine(&scratch.path().join("w3"), &server, &signing),
    );
    let reader = pinned_app();
    let r_env = reader_env("r3");
    let run = bundle(&reader, &r_env);
    assert!(
        run.stderr.contains("bundle   fetched"),
        "{}",
        run.describe()
    );
    assert!(!run.stderr.contains("warning:"), "{}", run.describe());
    assert!(!reader.path(".venv").exists());
    assert_eq!(
        reader.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: six 1.15.0\n"
    );

    // Without a trusted key, a fresh clone does not ask for it, and `status` says why.
    let untrusting = pinned_app();
    let mut u_env = fresh_machine(&scratch.path().join("r4"));
    u_env.push(("PYBUILD_REMOTE_CACHE".into(), server.url()));
    let status = untrusting
        .pybuild_with_env(&["status"], &env(&u_env))
        .success();
    assert!(
        status
            .stderr
            .contains("no venv here to check its dependencies against")
            && status.stderr.contains("trusted-keys"),
        "{}",
        status.describe()
    );
}

#[test]
fn a_clone_with_an_edited_source_of_the_same_size_and_time_fetches_no_other_bundle() {
    let server = Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let a = pinned_app();
    let (key_file, team) = keygen(&a, keys.path(), "team");
    let signing = [("PYBUILD_CACHE_SIGNING_KEY_FILE", key_file.to_str().unwrap())];
    bundle(&a, &machine(&scratch.path().join("a"), &server, &signing));

    let b = pinned_app();
    let cli = "src/uvapp/cli.py";
    let edited = a.read(cli).replace("uvapp: six", "uvapp: SIX");
    assert_eq!(edited.len(), a.read(cli).len());
    b.write(cli, &edited);
    let time = filetime::FileTime::from_last_modification_time(&fs::metadata(a.path(cli)).unwrap());
    filetime::set_file_mtime(b.path(cli), time).unwrap();
    let run = bundle(
        &b,
        &machine(
            &scratch.path().join("b"),
            &server,
            &[("PYBUILD_CACHE_TRUSTED_KEYS", &team)],
        ),
    );
    // Not even asked for and refused: its keys are not A's.
    assert!(!run.stderr.contains("warning:"), "{}", run.describe());
    assert!(run.step_ran("bundle") && !run.stderr.contains("(fetched)"));
    assert_eq!(
        b.exec("dist/uvapp.pex", &[]).success().stdout,
        "uvapp: SIX 1.15.0\n"
    );
}

/// pex's runtime in a fetched PEX (`.bootstrap/`) is the venv's pex's, file by file: a
/// writer whose pex was trojaned, its `RECORD` untouched (so the same keys), ships it to
/// no reader.
#[test]
fn a_trojaned_pex_runtime_uploaded_under_the_honest_keys_is_not_shipped() {
    const PEX_TROJAN: &str = "TROJAN-pex-was-here";
    let server = Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let writer = pinned_app();
    let w_env = machine(&scratch.path().join("writer"), &server, &[]);
    writer.pybuild_with_env(&["setup"], &env(&w_env)).success();
    trojan(&writer, "pex/__init__.py", &format!("# {PEX_TROJAN}"));
    bundle(&writer, &w_env);
    let runtime = ".bootstrap/pex/__init__.py";
    assert!(
        members(&writer.path("dist/uvapp.pex"), runtime).contains(PEX_TROJAN),
        "the attack works on the writer"
    );

    let reader = pinned_app();
    let r_env = machine(&scratch.path().join("reader"), &server, &[]);
    let run = bundle(&reader, &r_env);
    assert!(
        run.stderr.contains("differs from the venv's pex"),
        "{}",
        run.describe()
    );
    assert!(run.step_ran("bundle") && !run.stderr.contains("(fetched)"));
    assert!(!members(&reader.path("dist/uvapp.pex"), runtime).contains(PEX_TROJAN));
}
