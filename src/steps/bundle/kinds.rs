//! The bundle kinds, one file each: adding a kind is its file and one line here.

use crate::base::config::BundleKind;
use crate::steps::bundle::backend::Backend;
use crate::steps::bundle::{pex, pyinstaller, shiv, zipapp};

/// The backend of each `[bundle] kind`.
pub(crate) fn backend(kind: BundleKind) -> &'static dyn Backend {
    match kind {
        BundleKind::Pex => &pex::Pex,
        BundleKind::Shiv => &shiv::Shiv,
        BundleKind::Pyinstaller => &pyinstaller::PyInstaller,
        BundleKind::Zipapp => &zipapp::Zipapp,
    }
}
