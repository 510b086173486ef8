//! Cache keys: the sha256 of everything a step's result depends on, as the step's
//! fingerprint says it, made independent of where the checkout is: the parts that hold when
//! another step last ran (a time, true on one machine only) are left out, and a file under
//! the project's root is named relative to it. Beside the fingerprint: pybuild's version,
//! the platform (OS, architecture, C library) and what the step adds (`extra`).

use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::engine::fingerprint::Fingerprint;

/// The key of `step`'s result, as the `flavour` of key (`late`: after the steps it builds
/// on; `early`: before any runs) whose fingerprint is `fingerprint`.
pub(crate) fn key(
    flavour: &str,
    step: &str,
    fingerprint: &Fingerprint,
    root: &Path,
    extra: &str,
) -> String {
    let mut hasher = Sha256::new();
    let mut add = |text: &str| {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    add("pybuild remote cache 1");
    add(env!("CARGO_PKG_VERSION"));
    add(&platform());
    add(flavour);
    add(step);
    for (name, value) in &fingerprint.parts {
        if !fingerprint.is_run(name) {
            add(name);
            add(value);
        }
    }
    add("\u{ff}");
    let root = root.to_string_lossy();
    for (path, hash) in &fingerprint.files {
        let relative = path
            .strip_prefix(root.as_ref())
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(path);
        add(relative);
        add(hash);
    }
    add("\u{ff}");
    add(extra);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The OS, the architecture and, on glibc, its version: a wheel chosen for one glibc
/// (`manylinux_2_28`) may not be chosen for an older one.
pub(crate) fn platform() -> String {
    let mut platform = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: glibc returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        platform.push_str(&format!(" glibc {}", version.to_string_lossy()));
    }
    platform
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_ignores_where_the_checkout_is_and_when_steps_ran() {
        let at = |root: &str, run: &str| {
            let mut fp = Fingerprint::default();
            fp.part("bundle", "{}");
            fp.ran("venv", run.into());
            fp.file(&format!("{root}/.venv/x/METADATA"), Some("1".into()));
            fp.file("src/a.py", Some("2".into()));
            key("late", "bundle", &fp, Path::new(root), "")
        };
        assert_eq!(at("/home/a/app", "1"), at("/tmp/b/app", "2"));
        let mut other = Fingerprint::default();
        other.part("bundle", "{}");
        assert_ne!(
            at("/r", "1"),
            key("late", "bundle", &other, Path::new("/r"), "")
        );
        assert_ne!(
            key("late", "bundle", &other, Path::new("/r"), ""),
            key("early", "bundle", &other, Path::new("/r"), "")
        );
        assert_eq!(at("/r", "1").len(), 64);
        // A part that is no other step's run (the step's configuration) is in the key.
        let mut configured = Fingerprint::default();
        configured.part("bundle", "{\"kind\":\"shiv\"}");
        assert_ne!(
            key("late", "bundle", &other, Path::new("/r"), ""),
            key("late", "bundle", &configured, Path::new("/r"), "")
        );
    }

    /// A key made on one platform is never taken on another: the platform it names is
    /// the OS and architecture, and glibc's version where it is linked against glibc.
    #[test]
    fn the_platform_names_the_os_the_architecture_and_glibc() {
        let platform = platform();
        let os_arch = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
        assert!(platform.starts_with(&os_arch), "{platform}");
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(
            platform[os_arch.len()..].starts_with(" glibc 2."),
            "{platform}"
        );
    }
}
