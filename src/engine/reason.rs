//! Why a step is stale, as data: what `--explain` and `status` say in words (`detail`),
//! and what `status --json` gives machines (`kind`, with the `path` of a file or the `key`
//! of a fingerprint part or another step it is about).

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Reason {
    pub(crate) kind: Kind,
    /// The input or output file, relative to the root (absolute when outside it).
    pub(crate) path: Option<String>,
    /// The fingerprint part (`interpreter`, `bundle`, a tool) or the step it is about.
    pub(crate) key: Option<String>,
    /// The reason in words, as `--explain` and `status` show it.
    pub(crate) detail: String,
}

/// What made a step stale. The names are part of `status --json` (its `version` changes
/// when one is renamed or removed; new ones may be added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// It never ran.
    FirstRun,
    /// It started but did not finish (failed, killed, or its record was lost).
    Unfinished,
    /// An input file (`path`) or fingerprint part (`key`) that was not there.
    Added,
    /// An input file (`path`) or fingerprint part (`key`) that changed, or, with neither,
    /// inputs whose recorded details are gone.
    Changed,
    /// An input file (`path`) or fingerprint part (`key`) that is no longer there.
    Removed,
    /// The step it builds on (`key`) ran since.
    DependencyRan,
    /// The step it builds on (`key`) has no finished run.
    DependencyNotRun,
    /// The step it builds on (`key`) is stale, so it will run again after that one.
    DependencyStale,
    /// An output it recorded (`path`) is gone.
    OutputMissing,
    /// An output it recorded (`path`) was modified.
    OutputModified,
    /// Its result is damaged although its record holds (the venv's interpreter is gone).
    Damaged,
    /// A task with neither `sources` nor `outputs` runs every time.
    AlwaysRuns,
    /// Its result is in the remote cache: it would be fetched, not built.
    Cached,
    /// Its freshness cannot be told before the steps before it run (`detail` says why).
    Unknown,
}

impl Reason {
    pub(crate) fn new(kind: Kind, detail: impl Into<String>) -> Reason {
        Reason {
            kind,
            path: None,
            key: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn path(mut self, path: &str) -> Reason {
        self.path = Some(path.to_string());
        self
    }

    pub(crate) fn key(mut self, key: &str) -> Reason {
        self.key = Some(key.to_string());
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}
