//! `pybuild deploy spark`: the recipe it writes runs the job for real, in local mode
//! (pyspark from a venv made once, Java 17 from Debian), the driver and the executors'
//! Python being the bundle PEX, so the dependency the executors import is the PEX's.
//! A PEX that would not take pyspark from the cluster is refused, naming the key.

use std::process::Command;

use crate::containers::tool_venv;
use crate::support::{Project, Run};

#[test]
fn a_spark_job_runs_its_code_and_dependencies_from_the_pex() {
    let pyspark = tool_venv("pyspark", &["pyspark"]);
    let project = Project::fixture("spark-job");
    let run = project.pybuild(&["deploy", "spark"]).success();
    assert!(
        run.stderr.contains("→ dist/squares.spark-submit.sh"),
        "{}",
        run.describe()
    );

    let path = format!(
        "{}:{}",
        pyspark.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = tempfile::tempdir().unwrap();
    let output = Command::new(project.path("dist/squares.spark-submit.sh"))
        .env("PATH", path)
        .env("PEX_ROOT", work.path().join("pex"))
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let run = Run::from(output).success();
    assert!(
        run.stdout
            .contains("sum of squares: 285; six 1.17.0 from pex"),
        "{}",
        run.describe()
    );

    // Without `--inherit-path=fallback` (or with pybuild's default `--venv`) the executors
    // could not import pyspark.
    project.write("project.toml", "[project]\nname = \"squares\"\n");
    let run = project.pybuild(&["deploy", "spark"]).failure(2);
    assert!(
        run.stderr
            .contains("not built with `--inherit-path=fallback`"),
        "{}",
        run.describe()
    );
}
