//! [`Detected`]: what `init` learns from an existing project (see `detect`), the one type
//! the readers fill and `template` renders.

/// Where the project keeps its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `src/` holds a package (a directory with `__init__.py`) or a `.py` module.
    Src,
    /// Anything else: packages at the root, or nothing recognisable.
    Flat,
}

/// What `detect` found; `None` and empty mean "not stated anywhere".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    /// The distribution name.
    pub(crate) name: Option<String>,
    /// `(script name, "module:func")`, in the order of the file that declares them.
    pub(crate) console_scripts: Vec<(String, String)>,
    /// The requirement files the app runs with, `requirements.txt` before its variants.
    pub(crate) requirements: Vec<String>,
    /// The requirement files of development (tests, linters, docs): the venv's tools.
    pub(crate) dev_requirements: Vec<String>,
    /// The requirement files `init` cannot sort, named in a comment.
    pub(crate) other_requirements: Vec<String>,
    /// The environment lock at the root (`uv.lock`, `pylock.toml`), which the venv is
    /// synced to instead of the requirement files.
    pub(crate) env_lock: Option<&'static str>,
    pub(crate) layout: Layout,
    /// `X.Y`, only when the project allows a single minor version of Python.
    pub(crate) python: Option<String>,
    /// The metadata files that were read, in order of precedence.
    pub(crate) sources: Vec<&'static str>,
    /// What makes the project compile an extension of its own (a source file, or
    /// `setup.py`'s `ext_modules`): it needs a C compiler and `Python.h`.
    pub(crate) compiled: Option<String>,
    /// The distributions the project depends on, by normalised name (see `dependencies`).
    pub(crate) dependencies: Vec<String>,
}
