//! `pybuild deploy`: the Marathon app definition passes Marathon's own JSON schema (its
//! last published AppDefinition.json, vendored in tests/fixtures/marathon/ under its
//! Apache-2.0 license) with Draft 4, the Kubernetes manifests pass `kubernetes-validate`
//! (offline), each carries the values of project.toml, is cached like any step, and a
//! project's own template replaces the built-in one; a missing or wrong template is named.

use std::path::Path;

use crate::containers::{base_reference, tool_venv};
use crate::support::{Project, Run, SAMPLE_CONFIG};

/// Validates `document` (JSON) against Marathon's AppDefinition schema.
fn marathon_schema_check(project: &Project, python: &Path, document: &Path) -> Run {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marathon/AppDefinition.json");
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  jsonschema.Draft4Validator.check_schema(schema)\n\
                  jsonschema.Draft4Validator(schema).validate(json.load(open(sys.argv[2])))\n";
    project.run_program(
        python,
        &[
            "-c",
            script,
            schema.to_str().unwrap(),
            document.to_str().unwrap(),
        ],
    )
}

#[test]
fn marathon_and_kubernetes_descriptors_pass_their_schemas() {
    let validators = tool_venv("validators", &["jsonschema", "kubernetes-validate"]);
    let python = validators.join("bin/python");
    let config = format!(
        "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\nport = 8000\n\n\
         [deploy.marathon]\ncpus = 0.25\ninstances = 2\nargs = [\"--port\", \"$PORT0\"]\n\
         labels = {{ HAPROXY_GROUP = \"external\" }}\nurl = \"https://artifacts.example.com/greet.pex\"\n\n\
         [deploy.kubernetes]\nreplicas = 3\n",
        base_reference()
    );
    let project = Project::sample().with_file("project.toml", &config);

    let run = project.pybuild(&["deploy", "marathon"]).success();
    assert!(
        !run.stderr.contains("\nimage "),
        "marathon needs no image\n{}",
        run.describe()
    );
    let app = project.path("dist/greeter.marathon.json");
    marathon_schema_check(&project, &python, &app).success();
    let definition: serde_json::Value =
        serde_json::from_str(&project.read("dist/greeter.marathon.json")).unwrap();
    assert_eq!(definition["id"], "/greeter");
    assert_eq!(definition["cpus"], 0.25);
    assert_eq!(definition["instances"], 2);
    assert_eq!(definition["labels"]["HAPROXY_GROUP"], "external");
    assert_eq!(
        definition["fetch"][0]["uri"],
        "https://artifacts.example.com/greet.pex"
    );
    let cmd = definition["cmd"].as_str().unwrap();
    assert!(cmd.ends_with("./greet.pex --port $PORT0"), "{cmd}");
    assert_eq!(definition["healthChecks"][0]["portIndex"], 0);
    // The schema is no formality: a wrong type fails it.
    project.write(
        "broken.json",
        &project
            .read("dist/greeter.marathon.json")
            .replace("\"cpus\": 0.25", "\"cpus\": \"a lot\""),
    );
    let broken = marathon_schema_check(&project, &python, &project.path("broken.json"));
    assert_ne!(broken.code, 0, "{}", broken.describe());
    std::fs::remove_file(project.path("broken.json")).unwrap();

    let run = project.pybuild(&["deploy", "marathon"]).success();
    assert!(!run.step_ran("deploy-marathon"), "{}", run.describe());

    let run = project.pybuild(&["deploy", "kubernetes"]).success();
    assert!(run.step_ran("image"), "{}", run.describe());
    let manifests = project.path("dist/greeter.kubernetes.yaml");
    let validated = project.run_program(
        &python,
        &[
            "-m",
            "kubernetes_validate",
            "--strict",
            manifests.to_str().unwrap(),
        ],
    );
    assert_eq!(
        validated.code,
        0,
        "{}\n{}",
        validated.describe(),
        project.read("dist/greeter.kubernetes.yaml")
    );
    let text = project.read("dist/greeter.kubernetes.yaml");
    for expected in [
        "replicas: 3",
        "image: \"greeter:1.2.3\"",
        "containerPort: 8000",
        "readinessProbe:\n            tcpSocket:\n              port: http",
        "livenessProbe:\n            tcpSocket:\n              port: http",
        "mountPath: \"/pex_root\"",
        "kind: Service",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }

    // The project's own template, then one naming a value that does not exist.
    project.write(
        "deploy/app.json",
        "{\"id\": {{id}}, \"cmd\": {{cmd}}, \"instances\": {{instances}}}\n",
    );
    let own = config.replace(
        "[deploy.marathon]\n",
        "[deploy.marathon]\ntemplate = \"deploy/app.json\"\n",
    );
    project.write("project.toml", &own);
    project.pybuild(&["deploy", "marathon"]).success();
    marathon_schema_check(&project, &python, &app).success();
    let definition: serde_json::Value =
        serde_json::from_str(&project.read("dist/greeter.marathon.json")).unwrap();
    assert_eq!(definition.as_object().unwrap().len(), 3, "{definition}");
    project.write("deploy/app.json", "{\"id\": {{id}}, \"size\": {{size}}}\n");
    let run = project.pybuild(&["deploy", "marathon"]).failure(2);
    assert!(
        run.stderr.contains("deploy/app.json uses `{{size}}`"),
        "{}",
        run.describe()
    );
    std::fs::remove_file(project.path("deploy/app.json")).unwrap();
    let run = project.pybuild(&["deploy", "marathon"]).failure(2);
    assert!(
        run.stderr
            .contains("`[deploy.marathon] template = \"deploy/app.json\"`: cannot read"),
        "{}",
        run.describe()
    );
    // The descriptor the last good run wrote is still whole.
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&project.read("dist/greeter.marathon.json"))
            .unwrap()["instances"],
        2
    );

    // `clean` removes every product, the image layout's directories with them.
    project.pybuild(&["clean"]).success();
    for product in [
        "dist/greet.pex",
        "dist/greeter.marathon.json",
        "dist/greeter.kubernetes.yaml",
        "dist/greeter.oci",
        "dist",
    ] {
        assert!(!project.path(product).exists(), "{product} left by clean");
    }
}
