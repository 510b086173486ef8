//! Whether pybuild may reach the package index in this invocation: `--offline`, or found
//! unreachable once (see `wheelhouse::offline`), and from then on offline.

use std::cell::Cell;

/// Whether pybuild may reach the package index in this invocation.
#[derive(Debug, Default)]
pub(crate) struct Network {
    /// `--offline`, or the index was found unreachable earlier in this invocation.
    offline: Cell<bool>,
    /// Whether the index was probed already (once per invocation is enough).
    probed: Cell<bool>,
}

impl Network {
    pub(crate) fn new(offline: bool) -> Network {
        Network {
            offline: Cell::new(offline),
            probed: Cell::new(false),
        }
    }

    pub(crate) fn is_offline(&self) -> bool {
        self.offline.get()
    }

    /// Whether this is the first time the index is to be probed (once per invocation).
    pub(crate) fn first_probe(&self) -> bool {
        !self.probed.replace(true)
    }

    /// The index cannot be reached: the rest of this invocation builds offline.
    pub(crate) fn go_offline(&self) {
        self.offline.set(true);
    }
}
