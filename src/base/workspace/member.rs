//! One member of a uv workspace, as discovery found it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// PEP 503 normalised.
    pub(crate) name: String,
    /// Relative to the root, `/`-separated; `.` for the root itself.
    pub(crate) dir: String,
    /// `[project.scripts]` names, in the file's order.
    pub(crate) scripts: Vec<String>,
    /// The normalised names of the other members it depends on.
    pub(crate) requires: Vec<String>,
    /// Whether uv installs its code: not a virtual member (no `[build-system]`, or
    /// `[tool.uv] package = false`), of which only the dependencies are installed.
    pub(crate) installed: bool,
}
