//! What pybuild knows of the system prerequisites of building C extensions: which package
//! provides a header, a library or a command ([`known`]), how to say it ([`hints`]), and
//! what a failed build's output says is missing ([`diagnostics`]).

pub mod diagnostics;
pub mod hints;
pub mod known;
