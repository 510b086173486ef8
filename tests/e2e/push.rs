//! `pybuild push` against a real registry (CNCF distribution, Debian's `docker-registry`)
//! started by each test on a loopback port, its access log read to see what was sent: the
//! pushed manifest is the local one under both tags, an edit uploads only the code layer
//! and the config, a push with nothing changed sends nothing, another repository mounts every blob, and
//! `deploy kubernetes` names the image pushed by digest, the SBOM is the image's referrer
//! under the referrers tag (the registry has no referrers API); a registry that is down, or
//! refuses the credentials (TLS with a certificate the test makes, htpasswd auth), fails
//! the push with exit 1 and a message naming it, the password never shown.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::containers::{base_reference, run};
use crate::support::{Project, SAMPLE_CONFIG, free_port, settled_log};

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
        let tail = secured.map_or_else(String::new, |secured| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                secured.cert.display(),
                secured.key.display(),
                secured.htpasswd.display()
            )
        });
        Registry::serve(&tail)
    }

    /// A registry (plain HTTP, on loopback) whose clients need a token from `tokens`.
    fn start_with_tokens(tokens: &TokenService) -> Registry {
        Registry::serve(&format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {}\n    \
             issuer: {}\n    rootcertbundle: {}\n",
            tokens.port,
            TokenService::SERVICE,
            TokenService::ISSUER,
            tokens.cert.display()
        ))
    }

    /// A registry with `tail` after its `http: addr:` line.
    fn serve(tail: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        config.push_str(tail);
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
        // The registry logs a request after answering it (see `settled_log`).
        let text = settled_log(&self.log);
        // The access log's combined format: `... "PUT /v2/... HTTP/1.1" 201 ...`.
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

/// A registry token service (`token_server.py`) until dropped: it signs tokens for
/// [`TokenService::USER`] and [`TokenService::PASSWORD`] with a key made for the test,
/// whose certificate the registry trusts, and logs what each request asked for.
struct TokenService {
    child: Child,
    port: u16,
    cert: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TokenService {
    const SERVICE: &str = "pybuild-test-registry";
    const ISSUER: &str = "pybuild-test-issuer";
    const USER: &str = "alice";
    const PASSWORD: &str = "right-Passw0rd";

    fn start() -> TokenService {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name);
        let (key, cert, log) = (file("key.pem"), file("cert.pem"), file("tokens.log"));
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=pybuild test token signer",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
            ],
            None,
        );
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/token_server.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .args([&key, &cert])
            .args([Self::ISSUER, Self::SERVICE, Self::USER, Self::PASSWORD])
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no token service"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TokenService {
            child,
            port,
            cert,
            log,
            _dir: dir,
        }
    }

    /// What each request asked for: `{service, scopes, user, granted}`, in order.
    fn requests(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for TokenService {
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

/// The SBOM `registry` holds as a referrer of the image `digest` in the repository
/// `name`, found as a client of a registry without the referrers API finds it: the image
/// index under the referrers tag `sha256-<hex>` lists an artifact of type
/// `application/vnd.cyclonedx+json`, whose `subject` is the image and whose layer is the
/// SBOM.
fn referrer(registry: &Registry, name: &str, digest: &str) -> String {
    let base = format!("http://{}/v2/{name}", registry.host());
    let get = |path: &str, accept: &str| {
        let accept = format!("Accept: {accept}");
        let url = format!("{base}/{path}");
        run("curl", &["-sSf", "-H", &accept, &url], None).stdout
    };
    let json = |text: String| -> serde_json::Value { serde_json::from_str(&text).unwrap() };
    // Distribution 2.8 has no referrers API: what is found is the fallback tag.
    let api = format!("{base}/referrers/{digest}");
    let status = run(
        "curl",
        &["-s", "-o", "/dev/null", "-w", "%{http_code}", &api],
        None,
    );
    assert_eq!(status.stdout, "404", "{api}");
    let tag = digest.replacen(':', "-", 1);
    let index = json(get(
        &format!("manifests/{tag}"),
        "application/vnd.oci.image.index.v1+json",
    ));
    let artifacts: Vec<&serde_json::Value> = (index["manifests"].as_array().unwrap().iter())
        .filter(|m| m["artifactType"] == "application/vnd.cyclonedx+json")
        .collect();
    assert_eq!(artifacts.len(), 1, "{index}");
    let artifact = artifacts[0]["digest"].as_str().unwrap();
    let manifest = json(get(
        &format!("manifests/{artifact}"),
        "application/vnd.oci.image.manifest.v1+json",
    ));
    assert_eq!(manifest["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(manifest["subject"]["digest"], digest, "{manifest}");
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.cyclonedx+json");
    get(
        &format!("blobs/{}", layer["digest"].as_str().unwrap()),
        "*/*",
    )
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
    // Three layers and the config, each uploaded once; the SBOM and the empty config
    // of its artifact manifest.
    let first = registry.requests();
    assert_eq!(uploads(&first).len(), 6, "{first:#?}");
    // The SBOM is a referrer of the image, found through the referrers tag.
    let sbom = referrer(&registry, "team/greeter", &digest);
    assert_eq!(sbom, project.read("dist/greeter.cdx.json"));

    // Nothing changed: the step is fresh and the registry hears nothing.
    let heard = registry.requests().len();
    let run = project.pybuild(&["push"]).success();
    assert!(!run.step_ran("push"), "{}", run.describe());
    assert_eq!(
        registry.requests().len(),
        heard,
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
    assert_eq!(referrer(&registry, "team/greeter", &edited), sbom);

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
    assert_eq!(mounts.count(), 6, "{moved:#?}");
    assert_eq!(referrer(&registry, "team/greeter-staging", &edited), sbom);

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

#[test]
fn a_token_service_grants_the_push_its_scope_and_a_wrong_password_is_refused_once() {
    let tokens = TokenService::start();
    let registry = Registry::start_with_tokens(&tokens);
    let repository = format!("{}/team/greeter", registry.host());
    let project = project_pushing_to(&repository, "");
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("auth.json");
    let auth = |password: &str| {
        let b64 = base64_of(&format!("{}:{password}", TokenService::USER));
        let text = format!(
            r#"{{"auths": {{"{}": {{"auth": "{b64}"}}}}}}"#,
            registry.host()
        );
        fs::write(&auth_file, text).unwrap();
        b64
    };
    let env = [("REGISTRY_AUTH_FILE", auth_file.to_str().unwrap())];

    // The push asks the realm for a token for its repository, pull and push, no more.
    auth(TokenService::PASSWORD);
    let run = project.pybuild_with_env(&["push"], &env).success();
    let digest = local_digest(&project);
    assert!(
        run.stderr.contains(&format!("{repository}@{digest}")),
        "{}",
        run.describe()
    );
    let asked = tokens.requests();
    assert!(!asked.is_empty(), "no token was asked for");
    for request in &asked {
        assert_eq!(
            request["service"],
            serde_json::json!([TokenService::SERVICE])
        );
        assert_eq!(
            request["scopes"],
            serde_json::json!(["repository:team/greeter:pull,push"])
        );
        assert_eq!(request["user"], TokenService::USER);
        assert_eq!(request["granted"], true);
    }
    // The registry took every request with the token: none refused after it was given.
    let requests = registry.requests();
    let refused_after = (requests.iter().skip_while(|r| r.ends_with(" 401")))
        .filter(|r| r.ends_with(" 401") || r.ends_with(" 403"))
        .count();
    assert_eq!(refused_after, 0, "{requests:#?}");
    let creds = format!("--creds={}:{}", TokenService::USER, TokenService::PASSWORD);
    let fetched = remote_digest(
        &project,
        &format!("{repository}:latest"),
        &["--tls-verify=false", &creds],
    );
    assert_eq!(fetched, digest);

    // A wrong password: the token service refuses it, and the push fails with one
    // message naming the registry, the scope and the auth file, the secrets never shown.
    let wrong = auth("wrong-Secret9");
    let other = [
        env[0],
        (
            "PYBUILD_IMAGE_REPOSITORY",
            &format!("{}/team/other", registry.host()),
        ),
    ];
    let before = tokens.requests().len();
    let run = project.pybuild_with_env(&["push"], &other).failure(1);
    let asked = tokens.requests();
    assert_eq!(asked.len(), before + 1, "{asked:#?}");
    assert_eq!(asked[before]["granted"], false);
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(shown.matches("error:").count(), 1, "{}", run.describe());
    assert!(
        run.stderr.contains(&format!(
            "the registry {} refused to give a token for `repository:team/other:pull,push`",
            registry.host()
        )) && run.stderr.contains("401"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(auth_file.to_str().unwrap()),
        "{}",
        run.describe()
    );
    let mut texts = vec![shown];
    let logs = fs::read_dir(project.path(".pybuild/logs"))
        .into_iter()
        .flatten();
    texts.extend(
        logs.flatten()
            .map(|l| fs::read_to_string(l.path()).unwrap_or_default()),
    );
    for text in texts {
        for secret in ["wrong-Secret9", &wrong, TokenService::PASSWORD, "eyJ"] {
            assert!(!text.contains(secret), "{secret} shown:\n{text}");
        }
    }
}
