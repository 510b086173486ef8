//! `[deploy.TARGET]`: the values `pybuild deploy TARGET` puts in its descriptors (see
//! `steps/deploy.rs`). Every key has a default; `template` replaces the built-in template
//! with the project's own file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct DeploySection {
    #[serde(default)]
    pub(crate) marathon: MarathonSection,
    #[serde(default)]
    pub(crate) kubernetes: KubernetesSection,
    #[serde(default)]
    pub(crate) spark: SparkSection,
}

/// A Marathon app running the PEX its agents fetch.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct MarathonSection {
    /// The app's id. Default: `/` and the project's name.
    pub(crate) id: Option<String>,
    /// Where the agents fetch the bundle from. Default: the bundle's `file://` URL.
    pub(crate) url: Option<String>,
    /// Arguments after the bundle; `$PORT0` is the port Marathon gives the task.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    #[serde(default = "default_cpus")]
    pub(crate) cpus: f64,
    /// Memory, in MiB.
    #[serde(default = "default_mem")]
    pub(crate) mem: u32,
    #[serde(default = "default_instances")]
    pub(crate) instances: u32,
    /// The HTTP path of the health check on `$PORT0`; `""` for none.
    #[serde(default = "default_health_path")]
    pub(crate) health_path: String,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Such as an autoscaler's labels.
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) template: Option<String>,
}

impl Default for MarathonSection {
    fn default() -> Self {
        MarathonSection {
            id: None,
            url: None,
            args: Vec::new(),
            cpus: default_cpus(),
            mem: default_mem(),
            instances: default_instances(),
            health_path: default_health_path(),
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            template: None,
        }
    }
}

/// A Deployment of the image `pybuild image` makes, and a Service in front of it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct KubernetesSection {
    /// The Deployment's and Service's name. Default: the image's name.
    pub(crate) name: Option<String>,
    /// The image reference the cluster pulls. Default: `<image name>:<tag>`.
    pub(crate) image: Option<String>,
    #[serde(default = "default_instances")]
    pub(crate) replicas: u32,
    /// The Service's port. Default: `[image] port`, else 8080.
    pub(crate) port: Option<u16>,
    #[serde(default = "default_cpu_request")]
    pub(crate) cpu: String,
    #[serde(default = "default_memory_request")]
    pub(crate) memory: String,
    #[serde(default = "default_service_type")]
    pub(crate) service_type: String,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) template: Option<String>,
}

impl Default for KubernetesSection {
    fn default() -> Self {
        KubernetesSection {
            name: None,
            image: None,
            replicas: default_instances(),
            port: None,
            cpu: default_cpu_request(),
            memory: default_memory_request(),
            service_type: default_service_type(),
            labels: BTreeMap::new(),
            template: None,
        }
    }
}

/// A `spark-submit` recipe whose executors run the job's Python from the PEX.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct SparkSection {
    #[serde(default = "default_master")]
    pub(crate) master: String,
    /// The driver script, relative to the root. Default: one pybuild writes that calls the
    /// bundle's entry point.
    pub(crate) main: Option<String>,
    /// Arguments after the driver script.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// Extra `--conf KEY=VALUE`.
    #[serde(default)]
    pub(crate) conf: BTreeMap<String, String>,
    pub(crate) template: Option<String>,
}

impl Default for SparkSection {
    fn default() -> Self {
        SparkSection {
            master: default_master(),
            main: None,
            args: Vec::new(),
            conf: BTreeMap::new(),
            template: None,
        }
    }
}

fn default_cpus() -> f64 {
    0.5
}

fn default_mem() -> u32 {
    256
}

fn default_instances() -> u32 {
    1
}

fn default_health_path() -> String {
    "/".into()
}

fn default_cpu_request() -> String {
    "250m".into()
}

fn default_memory_request() -> String {
    "256Mi".into()
}

fn default_service_type() -> String {
    "ClusterIP".into()
}

fn default_master() -> String {
    "local[*]".into()
}
