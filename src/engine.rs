//! The engine: steps run only when stale. Fingerprints, the stat cache, the listing of the
//! project's files, the state in `.pybuild/`, the lock; it knows no step by name.

pub(crate) mod fileset;
pub(crate) mod fingerprint;
pub(crate) mod listing;
pub(crate) mod lock;
pub(crate) mod reason;
pub(crate) mod remote;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod statcache;
pub(crate) mod state;
pub(crate) mod step;
pub(crate) mod store;
