//! What pybuild knows of the system prerequisites of building C extensions: which package
//! provides a header, a library or a command ([`known`]), how to say it ([`hints`]), and
//! what a failed build's output says is missing ([`diagnostics`]).

pub(crate) mod diagnostics;
pub(crate) mod hints;
pub(crate) mod known;
