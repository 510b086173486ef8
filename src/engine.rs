//! The engine: steps run only when stale. Fingerprints, the stat cache, the listing of the
//! project's files, the state in `.pybuild/`, the lock; it knows no step by name.

pub mod fileset;
pub mod fingerprint;
pub mod listing;
pub mod lock;
pub mod reason;
pub mod run;
pub mod session;
pub mod statcache;
pub mod state;
pub mod step;
