//! pybuild driven as a user drives it: the real binary, real venvs, pip and pex, on temp
//! copies of the projects in `tests/fixtures/`.

mod support;

mod cache_server;

mod bundle;
mod check;
mod clean;
mod cli;
mod config;
mod config_safety;
mod containers;
mod deploy;
mod engine;
mod first_contact;
mod hardening;
mod hostile_cache;
mod image;
mod init;
mod inner_loop;
mod inputs;
mod installers;
mod kinds;
mod layers;
mod own_code;
mod path_deps;
mod push;
mod readback;
mod recovery;
mod remote;
mod safety;
mod sbom;
mod shipped;
mod spark;
mod tasks;
mod trust;
mod watch;
mod workspace;
mod workspace_affected;
