//! `pybuild push` against a real registry (CNCF distribution, Debian's `docker-registry`)
//! started by each test on a loopback port, its access log read to see what was sent: the
//! pushed manifest is the local one under both tags, an edit uploads only the code layer
//! and the config, a push with nothing changed sends nothing, another repository mounts every blob, and
//! `deploy kubernetes` names the image pushed by digest; a registry that is down, or
//! refuses the credentials (TLS with a certificate the test makes, htpasswd auth), fails
//! the push with exit 1 and a message naming it, the password never shown.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::containers::{base_reference, run};
use crate::support::{Project, SAMPLE_CONFIG, free_port};

/// A registry serving from a temp folder until dropped (the image tests pull bases from it).
pub struct Registry {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// TLS and htpasswd auth for a registry: the certificate, its key, the htpasswd file.
pub struct Secured {
    cert: PathBuf,
    key: PathBuf,
    htpasswd: PathBuf,
}

impl Registry {
    pub fn start(secured: Option<&Secured>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        if let Some(secured) = secured {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                secured.cert.display(),
                secured.key.display(),
                secured.htpasswd.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        fs::write(&config_file, config).unwrap();
        let log = dir.path().join("registry.log");
        let out = fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_file)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start docker-registry (.ci/run installs it)");
        let registry = Registry {
            child,
            port,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the registry did not start:\n{}",
                fs::read_to_string(&registry.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The requests the registry logged, `METHOD PATH STATUS`, in order.
    fn requests(&self) -> Vec<String> {
        // The access log's combined format: `... "PUT /v2/... HTTP/1.1" 201 ...`.
        let text = fs::read_to_string(&self.log).unwrap();
        text.lines()
            .filter_map(|line| {
                let (_, rest) = line.split_once('"')?;
                let (request, rest) = rest.split_once('"')?;
                let mut words = request.split(' ');
                let (method, path) = (words.next()?, words.next()?);
                if !path.starts_with("/v2/") {
                    return None;
                }
                let status = rest.split_whitespace().next()?;
                Some(format!("{method} {path} {status}"))
            })
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The blob uploads among `requests`: each finished by a `PUT` answered 201.
fn uploads(requests: &[String]) -> Vec<&String> {
    (requests.iter())
        .filter(|r| r.starts_with("PUT ") && r.contains("/blobs/uploads/") && r.ends_with(" 201"))
        .collect()
}

fn local_digest(project: &Project) -> String {
    let index: serde_json::Value =
        serde_json::from_str(&project.read("dist/greeter.oci/index.json")).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The digest the registry holds `reference` under, as skopeo reads it back.
fn remote_digest(project: &Project, reference: &str, extra: &[&str]) -> String {
    let mut args = vec!["inspect", "--raw"];
    args.extend_from_slice(extra);
    let image = format!("docker://{reference}");
    args.push(&image);
    let raw = project
        .run_program(Path::new("/usr/bin/skopeo"), &args)
        .success();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    fs::write(&file, raw.stdout.as_bytes()).unwrap();
    let sum = run("sha256sum", &[file.to_str().unwrap()], None);
    format!("sha256:{}", sum.stdout.split_whitespace().next().unwrap())
}

fn project_pushing_to(repository: &str, extra: &str) -> Project {
    let config = format!(
        "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\nrepository = \"{repository}\"\n{extra}",
        base_reference()
    );
    Project::sample().with_file("project.toml", &config)
}

#[test]
fn the_image_is_pushed_by_digest_and_an_edit_sends_only_its_code_and_config() {
    let registry = Registry::start(None);
    let repository = format!("{}/team/greeter", registry.host());
    let project = project_pushing_to(&repository, "");
    let run = project.pybuild(&["push"]).success();
    let digest = local_digest(&project);
    let reference = format!("{repository}@{digest}");
    assert!(run.stderr.contains(&reference), "{}", run.describe());
    assert_eq!(project.read("dist/greeter.pushed").trim(), reference);
    // Both tags hold the very manifest of the layout.
    let tls = ["--tls-verify=false"];
    for tag in ["1.2.3", "latest"] {
        let fetched = remote_digest(&project, &format!("{repository}:{tag}"), &tls);
        assert_eq!(fetched, digest, "{repository}:{tag}");
    }
    // Three layers and the config, each uploaded once.
    let first = registry.requests();
    assert_eq!(uploads(&first).len(), 4, "{first:#?}");

    // Nothing changed: the step is fresh and the registry hears nothing.
    let run = project.pybuild(&["push"]).success();
    assert!(!run.step_ran("push"), "{}", run.describe());
    assert_eq!(
        registry.requests().len(),
        first.len(),
        "a fresh push sent requests"
    );
    let status = project.pybuild(&["status", "push"]).success();
    assert!(
        status
            .stdout
            .lines()
            .chain(status.stderr.lines())
            .any(|l| l.starts_with("push") && l.contains("fresh")),
        "{}",
        status.describe()
    );

    // An edit: the code layer and the config go up, the base and dependencies stay.
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    let run = project.pybuild(&["push"]).success();
    assert!(run.step_ran("push"), "{}", run.describe());
    let after = registry.requests();
    let sent = uploads(&after[first.len()..]);
    assert_eq!(sent.len(), 2, "{:#?}", &after[first.len()..]);
    let edited = local_digest(&project);
    assert_ne!(edited, digest);
    assert_eq!(
        remote_digest(&project, &format!("{repository}:latest"), &tls),
        edited
    );

    // Another repository of the same registry: every blob mounted from the last one.
    let other = format!("{}/team/greeter-staging", registry.host());
    let before = registry.requests().len();
    let run = project
        .pybuild_with_env(&["push"], &[("PYBUILD_IMAGE_REPOSITORY", &other)])
        .success();
    assert!(
        run.stderr.contains(&format!("{other}@{edited}")),
        "{}",
        run.describe()
    );
    let requests = registry.requests();
    let moved = &requests[before..];
    assert!(uploads(moved).is_empty(), "{moved:#?}");
    let mounts = (moved.iter()).filter(|r| r.contains("mount=") && r.ends_with(" 201"));
    assert_eq!(mounts.count(), 4, "{moved:#?}");

    // The Deployment names the image pushed, by digest, while it is the image built.
    project.pybuild(&["deploy", "kubernetes"]).success();
    let deployment = project.read("dist/greeter.kubernetes.yaml");
    assert!(
        deployment.contains(&format!("image: \"{other}@{edited}\"")),
        "{deployment}"
    );
    project.write("src/greeter/words.py", "def word():\n    return \"hey\"\n");
    project.pybuild(&["deploy", "kubernetes"]).success();
    let deployment = project.read("dist/greeter.kubernetes.yaml");
    assert!(!deployment.contains("@sha256:"), "{deployment}");
}

#[test]
fn a_registry_that_is_down_fails_the_push_naming_it_and_keeps_the_image() {
    let port = free_port();
    let project = project_pushing_to(&format!("127.0.0.1:{port}/team/greeter"), "");
    // A repository that cannot be one: refused before any step runs.
    let bad = [("PYBUILD_IMAGE_REPOSITORY", "127.0.0.1/Team/Greeter")];
    let run = project.pybuild_with_env(&["push"], &bad).failure(2);
    assert!(
        run.stderr
            .contains("`PYBUILD_IMAGE_REPOSITORY` = \"127.0.0.1/Team/Greeter\"")
            && !run.stderr.contains("venv "),
        "{}",
        run.describe()
    );
    project.pybuild(&["image"]).success();
    let index = project.read("dist/greeter.oci/index.json");
    let run = project.pybuild(&["push"]).failure(1);
    assert!(
        run.stderr
            .contains(&format!("cannot reach the registry 127.0.0.1:{port}")),
        "{}",
        run.describe()
    );
    assert_eq!(project.read("dist/greeter.oci/index.json"), index);
    assert!(!project.path("dist/greeter.pushed").exists());
    // Not recorded as pushed: the next push tries again.
    let run = project.pybuild(&["push"]).failure(1);
    assert!(
        run.stderr.contains("push     running"),
        "{}",
        run.describe()
    );
}

#[test]
fn credentials_from_the_auth_file_reach_a_tls_registry_and_a_wrong_one_is_refused() {
    // A CA, and the registry's certificate signed by it for 127.0.0.1.
    let certs = tempfile::tempdir().unwrap();
    let file = |name: &str| certs.path().join(name).to_str().unwrap().to_string();
    let (ca, ca_key, cert, key) = (
        file("ca.crt"),
        file("ca-key.pem"),
        file("cert.pem"),
        file("key.pem"),
    );
    let openssl = |args: &[&str]| run("openssl", args, None);
    let subject = |cn: &str| format!("/CN={cn}");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &subject("pybuild test CA"),
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    let csr = file("cert.csr");
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &subject("127.0.0.1"),
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    let ext = file("ext.cnf");
    fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    let (cert, key) = (PathBuf::from(cert), PathBuf::from(key));
    let htpasswd = certs.path().join("htpasswd");
    let line = run("htpasswd", &["-Bbn", "alice", "right-Passw0rd"], None);
    fs::write(&htpasswd, line.stdout.trim()).unwrap();
    let registry = Registry::start(Some(&Secured {
        cert,
        key,
        htpasswd,
    }));
    let repository = format!("{}/team/greeter", registry.host());
    let project = project_pushing_to(&repository, "");
    let auth_file = certs.path().join("auth.json");
    let auth = |user_password: &str| {
        let b64 = base64_of(user_password);
        fs::write(
            &auth_file,
            format!(
                r#"{{"auths": {{"{}": {{"auth": "{b64}"}}}}}}"#,
                registry.host()
            ),
        )
        .unwrap();
        b64
    };
    let env = [("REGISTRY_AUTH_FILE", auth_file.to_str().unwrap())];

    // A certificate no root here vouches for: refused, the way out named.
    let wrong = auth("alice:wrong-Secret9");
    let run = project.pybuild_with_env(&["push"], &env).failure(1);
    assert!(
        run.stderr
            .contains(&format!("cannot reach the registry {}", registry.host()))
            && run.stderr.contains("ca-file"),
        "{}",
        run.describe()
    );

    // SSL_CERT_FILE names the CA: TLS holds, and the wrong password is refused.
    let with_ca = [env[0], ("SSL_CERT_FILE", ca.as_str())];
    let run = project.pybuild_with_env(&["push"], &with_ca).failure(1);
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(
        shown.contains(&format!("the registry {}", registry.host())) && shown.contains("401"),
        "{}",
        run.describe()
    );
    assert!(
        shown.contains(auth_file.to_str().unwrap()),
        "{}",
        run.describe()
    );
    assert!(
        !shown.contains("wrong-Secret9") && !shown.contains(&wrong),
        "{}",
        run.describe()
    );
    let logs = fs::read_dir(project.path(".pybuild/logs"))
        .into_iter()
        .flatten();
    for log in logs.flatten() {
        let text = fs::read_to_string(log.path()).unwrap_or_default();
        assert!(!text.contains("wrong-Secret9"), "{}", log.path().display());
    }

    // `[image] ca-file` names it, and the right password is taken.
    let config = project.read("project.toml");
    project.write("project.toml", &format!("{config}ca-file = \"{ca}\"\n"));
    auth("alice:right-Passw0rd");
    let run = project.pybuild_with_env(&["push"], &env).success();
    let digest = local_digest(&project);
    assert!(
        run.stderr.contains(&format!("{repository}@{digest}")),
        "{}",
        run.describe()
    );
    let creds = "--creds=alice:right-Passw0rd";
    let cert_dir = format!("--cert-dir={}", certs.path().display());
    let fetched = remote_digest(
        &project,
        &format!("{repository}:latest"),
        &[creds, &cert_dir],
    );
    assert_eq!(fetched, digest);
}

fn base64_of(text: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", "printf %s \"$1\" | base64 -w0", "sh", text])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
