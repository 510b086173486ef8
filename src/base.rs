//! The floor: what every layer above stands on and which knows nothing of them: the
//! project's configuration and root, the process runner, the terminal, errors and their
//! rendering, and what pybuild knows of system prerequisites.

pub mod config;
pub mod error;
pub mod paths;
pub mod prerequisites;
pub mod process;
pub mod project;
pub mod redact;
pub mod ui;
