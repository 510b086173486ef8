//! The Python world: interpreters, installers (uv, pip), the venv's installed
//! distributions, editable installs, locks and pins, project metadata.

pub(crate) mod build;
pub(crate) mod byproducts;
pub(crate) mod closure;
pub(crate) mod detect;
pub(crate) mod editable;
pub(crate) mod env;
pub(crate) mod env_lock;
pub(crate) mod installed;
pub(crate) mod installed_wheel;
pub(crate) mod installer;
pub(crate) mod interpreter;
pub(crate) mod metadata_sources;
pub(crate) mod network;
pub(crate) mod own_requirement;
pub(crate) mod path_deps;
pub(crate) mod pins;
pub(crate) mod prune;
pub(crate) mod requirement;
pub(crate) mod sources;
pub(crate) mod uv;
pub(crate) mod uv_lock;
pub(crate) mod wheelhouse;
