//! `pybuild sbom`: the CycloneDX document of the image, checked by CycloneDX's own Python
//! library (`sbom_check.py`): valid 1.6 JSON, its PyPI packages exactly the bundle
//! manifest's, each hash that of the RECORD it names as the bundle carries it, its Debian
//! packages exactly those the base's `var/lib/dpkg/status` says are installed; the same
//! bytes when made again, a timestamp only with `SOURCE_DATE_EPOCH`.

use std::fs;
use std::path::Path;

use crate::containers::{BASE_TAG, base_image, base_reference, layer_digests, run, tool_venv};
use crate::support::{Project, SAMPLE_CONFIG};

/// The venv with cyclonedx-python-lib (and its JSON schema validation).
pub fn cyclonedx() -> std::path::PathBuf {
    tool_venv(
        "cyclonedx",
        &["cyclonedx-python-lib[json-validation]==11.*"],
    )
}

/// Runs `sbom_check.py` on the project's SBOM: its `ok …` line.
pub fn check_sbom(project: &Project) -> String {
    let base = base_image();
    let bottom = &layer_digests(&base, BASE_TAG)[0];
    let blob = base.join("blobs/sha256").join(&bottom["sha256:".len()..]);
    // Outside the project: a file in it would be an input of the bundle.
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let out = run(
        "tar",
        &["-xzOf", blob.to_str().unwrap(), "./var/lib/dpkg/status"],
        None,
    );
    fs::write(&status, out.stdout).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/sbom_check.py");
    let python = cyclonedx().join("bin/python");
    let path = |rel: &str| project.path(rel).to_str().unwrap().to_string();
    let run = project.run_program(
        &python,
        &[
            script.to_str().unwrap(),
            &path("dist/greeter.cdx.json"),
            &path("dist/greet.manifest.json"),
            &path("dist/greet.pex"),
            status.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.describe());
    run.stdout.trim().to_string()
}

#[test]
fn the_sbom_is_the_manifests_distributions_and_the_bases_debian_packages() {
    let config = format!(
        "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\n",
        base_reference()
    );
    let project = Project::sample().with_file("project.toml", &config);
    let run = project.pybuild(&["sbom"]).success();
    assert!(run.step_ran("sbom"), "{}", run.describe());
    let checked = check_sbom(&project);
    // greeter and six, six's RECORD hashed; the base's dozens of packages.
    let deb: usize = (checked.rsplit(' ').nth(1).unwrap()).parse().unwrap();
    assert!(
        checked.starts_with("ok 2 pypi (1 hashed) ") && deb > 50,
        "{checked}"
    );
    let first = project.read("dist/greeter.cdx.json");
    assert!(!first.contains("\"timestamp\""), "{first}");
    assert!(first.contains("\"expression\"") || first.contains("\"name\": \"MIT\""));

    // Fresh when nothing changed; made again, the same bytes.
    let run = project.pybuild(&["sbom"]).success();
    assert!(!run.step_ran("sbom"), "{}", run.describe());
    fs::remove_file(project.path("dist/greeter.cdx.json")).unwrap();
    project.pybuild(&["sbom"]).success();
    assert_eq!(project.read("dist/greeter.cdx.json"), first);

    // A fixed SOURCE_DATE_EPOCH is the one time it says.
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    project.pybuild_with_env(&["sbom"], &epoch).success();
    let dated = project.read("dist/greeter.cdx.json");
    assert!(
        dated.contains("\"timestamp\": \"2023-11-14T22:13:20Z\""),
        "{dated}"
    );
    assert_ne!(serial(&dated), serial(&first));
}

fn serial(document: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(document).unwrap();
    json["serialNumber"].as_str().unwrap().to_string()
}
