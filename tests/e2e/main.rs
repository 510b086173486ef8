//! pybuild driven as a user drives it: the real binary, real venvs, pip and pex, on temp
//! copies of the projects in `tests/fixtures/`.

mod support;

mod bundle;
mod check;
mod clean;
mod cli;
mod config;
mod engine;
mod init;
mod inputs;
mod installers;
mod kinds;
mod layers;
mod recovery;
mod remote;
mod safety;
mod shipped;
mod tasks;
mod watch;
