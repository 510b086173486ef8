//! The floor: what every layer above stands on and which knows nothing of them: the
//! project's configuration and root, the process runner, the terminal, errors and their
//! rendering, and what pybuild knows of system prerequisites.

pub(crate) mod config;
pub(crate) mod distribution_name;
pub(crate) mod error;
pub(crate) mod http_agent;
pub(crate) mod outputs;
pub(crate) mod paths;
pub(crate) mod percent;
pub(crate) mod prerequisites;
pub(crate) mod process;
pub(crate) mod project;
pub(crate) mod redact;
pub(crate) mod ui;
pub(crate) mod workspace;
