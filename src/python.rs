//! The Python world: interpreters, installers (uv, pip), the venv's installed
//! distributions, editable installs, locks and pins, project metadata.

pub mod build;
pub mod detect;
pub mod editable;
pub mod env_lock;
pub mod installed;
pub mod installer;
pub mod interpreter;
pub mod metadata_sources;
pub mod network;
pub mod pins;
pub mod prune;
pub mod uv;
pub mod wheelhouse;
