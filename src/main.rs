use std::process::ExitCode;

fn main() -> ExitCode {
    // A reader that stops early (`pybuild status | head -3`) closes the pipe: end quietly,
    // as cat, cargo and uv do, instead of panicking on the failed write (Rust ignores
    // SIGPIPE by default). The children pybuild starts get the default back anyway.
    // SAFETY: setting a signal's disposition to its default before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    ExitCode::from(pybuild::run())
}
