//! How errors reach the user: one place renders them, one place maps them to exit codes.
//!
//! `error: <what failed>`, then a `caused by:` line per cause, then what a failed command
//! printed last and where its full log is, then `hint:` lines (with what the command's
//! output says the system lacks, see `prerequisites::diagnostics`); the credentials of any URL in
//! them masked (see `redact`).
//! Exit codes: a failed task's own code, 2 for usage and configuration errors, 1 for
//! everything else.

use std::fmt;

use crate::base::config::ConfigError;
use crate::base::process::CommandFailed;
use crate::base::redact::redact;

pub(crate) const EXIT_FAILURE: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

/// An error a user can fix, with what to do about it.
#[derive(Debug, Clone)]
pub(crate) struct UserError {
    pub(crate) message: String,
    pub(crate) hints: Vec<String>,
    /// A usage or configuration mistake (exit 2) rather than a failure (exit 1).
    pub(crate) usage: bool,
}

impl UserError {
    pub(crate) fn failure(message: impl Into<String>) -> UserError {
        UserError {
            message: message.into(),
            hints: Vec::new(),
            usage: false,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> UserError {
        UserError {
            usage: true,
            ..UserError::failure(message)
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> UserError {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    // A task is the user's command: its exit code is the answer a script waits for.
    if let Some(failed) = err.chain().find_map(|c| c.downcast_ref::<TaskFailed>()) {
        return failed.code;
    }
    if is_usage(err) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// Whether `err` is a usage or configuration mistake (exit 2), the user's to fix, rather
/// than a failure.
pub(crate) fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<ConfigError>()
            || cause.downcast_ref::<UserError>().is_some_and(|e| e.usage)
            || cause.downcast_ref::<clap::Error>().is_some()
    })
}

pub(crate) fn render(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}\n");
    let mut hints = Vec::new();
    for cause in err.chain().skip(1) {
        out.push_str(&format!("caused by: {cause}\n"));
    }
    for cause in err.chain() {
        if let Some(failed) = cause.downcast_ref::<CommandFailed>() {
            if !failed.tail.is_empty() {
                out.push_str("output (last lines):\n");
                for line in &failed.tail {
                    out.push_str(&format!("  | {line}\n"));
                }
            }
            if let Some(log) = &failed.log {
                hints.push(format!("full output: {}", log.display()));
            }
            hints.extend(crate::base::prerequisites::diagnostics::explain(failed));
        }
        if let Some(config) = cause.downcast_ref::<ConfigError>() {
            hints.extend(config.hint.clone());
        }
        if let Some(user) = cause.downcast_ref::<UserError>() {
            hints.extend(user.hints.iter().cloned());
        }
    }
    // A `UserError` given as context (`err.context(user_error)`) is not reachable through
    // the chain's downcasts, only through anyhow's own.
    if let Some(user) = err.downcast_ref::<UserError>()
        && !err.chain().any(|cause| {
            cause
                .downcast_ref::<UserError>()
                .is_some_and(|found| std::ptr::eq(found, user))
        })
    {
        hints.extend(user.hints.iter().cloned());
    }
    for hint in hints {
        out.push_str(&format!("hint: {hint}\n"));
    }
    redact(&out).into_owned()
}

/// A task's command failed; pybuild exits with its code.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` exited with code {code}")]
pub(crate) struct TaskFailed {
    pub(crate) command: String,
    pub(crate) code: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_of_a_user_error_given_as_context_are_shown_once() {
        let inner = anyhow::anyhow!("pip failed");
        let err = inner
            .context(UserError::failure("building offline").hint("go online once"))
            .context("step `bundle` failed");
        let text = render(&err);
        assert!(text.contains("caused by: building offline\n"), "{text}");
        assert_eq!(text.matches("hint: go online once\n").count(), 1, "{text}");

        let err = anyhow::Error::from(UserError::usage("bad").hint("fix it"));
        assert_eq!(render(&err).matches("hint: fix it\n").count(), 1);
    }

    #[test]
    fn credentials_are_masked_in_messages_tails_and_hints() {
        let failed = CommandFailed {
            command: "pip wheel".into(),
            status: "exited with code 1".into(),
            code: Some(1),
            log: None,
            tail: vec!["cannot fetch https://bob:hunter2@mirror/simple/x".into()],
        };
        let err = anyhow::Error::from(failed).context(
            UserError::failure("index http://alice:S3cr3t@h/ down")
                .hint("use http://alice:S3cr3t@h/"),
        );
        let text = render(&err);
        assert!(
            !text.contains("S3cr3t") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("http://alice:****@h/"), "{text}");
        assert!(text.contains("https://bob:****@mirror/"), "{text}");
    }
}
