//! A project's input files, as `fileset::project_files` found them.

use crate::engine::listing::{LeftOut, Link};

/// The project's input files, and what the user should hear about them.
#[derive(Debug)]
pub(crate) struct FileSet {
    /// Relative, `/`-separated, sorted.
    pub(crate) files: Vec<String>,
    /// The inputs that are links, with the files they lead to.
    pub(crate) links: Vec<Link>,
    /// What the rules keep but cannot be an input: a named pipe, a name not UTF-8.
    pub(crate) left_out: Vec<LeftOut>,
    /// Links out of the project that `external-links` does not allow: not inputs.
    pub(super) refused: Vec<Link>,
}
