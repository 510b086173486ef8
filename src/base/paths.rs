//! Paths named in `project.toml`, resolved once against the project root the way the
//! kernel will: physically, component by component.
//!
//! A lexical check is not enough: `link/` with `link -> ../outside` names a directory
//! outside the project (the trailing slash makes the kernel follow the link), and so does
//! `link/../x` (`..` is taken from the link's target). Every path pybuild writes to or
//! removes comes from [`resolve`], and every removal works on the path it returns, whose
//! last component is not followed unless the configured text asked for it (a trailing `/`,
//! `/.` or `/..`): so a link is removed as a link.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Component, Path, PathBuf};

/// Where a configured path lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// Inside the root (and not the root itself): the physical path, its last component
    /// unresolved.
    Inside(PathBuf),
    /// Outside the root, the root itself, or through a link that cannot be resolved: the
    /// path as far as it resolves.
    Outside(PathBuf),
}

impl Place {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Place::Inside(path) | Place::Outside(path) => path,
        }
    }

    pub(crate) fn inside(&self) -> Option<&Path> {
        match self {
            Place::Inside(path) => Some(path),
            Place::Outside(_) => None,
        }
    }
}

/// Resolves `configured` (relative to `root`, or absolute) physically. `root` must be
/// canonical.
pub(crate) fn resolve(root: &Path, configured: &str) -> Place {
    let components: Vec<Component> = Path::new(configured).components().collect();
    // `dir/`, `dir/.` and `dir/..` name the directory a link points to, not the link.
    // (`Path::components` drops a trailing `.`, so the text is asked too.)
    let follow_last = configured.ends_with('/')
        || configured.ends_with("/.")
        || !matches!(components.last(), Some(Component::Normal(_)) | None);
    let mut current = root.to_path_buf();
    let mut dangling = false;
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        match component {
            Component::Prefix(_) | Component::CurDir => {}
            Component::RootDir => current = PathBuf::from("/"),
            Component::ParentDir => {
                // `current` is physical where it exists, so its parent is the kernel's `..`.
                current.pop();
            }
            Component::Normal(name) => {
                current.push(name);
                if last && !follow_last {
                    break;
                }
                let is_link = current
                    .symlink_metadata()
                    .is_ok_and(|meta| meta.file_type().is_symlink());
                if is_link {
                    match current.canonicalize() {
                        Ok(target) => current = target,
                        // Where a dangling link leads is decided by whoever creates its
                        // target: not ours to write through or remove behind.
                        Err(_) => dangling = true,
                    }
                }
            }
        }
    }
    if !dangling && current.starts_with(root) && current != root {
        Place::Inside(current)
    } else {
        Place::Outside(current)
    }
}

/// Whether `path`, relative to a root or absolute, may lie outside that root: absolute, or
/// with a `..` anywhere (a lock's source `../lib`; `a/../b` counts too, to be safe).
pub(crate) fn leaves_root(path: &str) -> bool {
    Path::new(path).is_absolute()
        || Path::new(path)
            .components()
            .any(|part| part == std::path::Component::ParentDir)
}

/// A relative path to a file, written plainly: no empty, `.` or `..` component, no
/// leading or trailing `/`. What `[bundle] output` must look like.
pub(crate) fn is_plain_file_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Why `part` cannot be one component of a file name: empty, `.` or `..`, or holding a
/// `/`, a NUL, a control character (C0, DEL, C1) or a line or paragraph separator. What a
/// name that becomes part of a file name (`[image] name` in `dist/<name>.oci`) must pass,
/// whatever the configuration's own checks allow.
pub(crate) fn file_name_flaw(part: &str) -> Option<String> {
    if part.is_empty() || part == "." || part == ".." {
        return Some(format!("`{part}` is no file name"));
    }
    if part.contains('/') {
        return Some("it holds a `/`".into());
    }
    part.chars()
        .find(|&c| is_unprintable(c))
        .map(|c| format!("it holds the character U+{:04X}", u32::from(c)))
}

/// A control character (C0, DEL, C1) or a line or paragraph separator: nothing a file name
/// or a descriptor shows as it is.
pub(crate) fn is_unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The folders no output goes in, whatever the configuration says: git's (a file there may
/// be run by git: `.git/hooks/`) and pybuild's own state.
const NEVER_WRITTEN: &[&str] = &[".git", ".pybuild"];

/// The one place an output path is decided: `key` (relative to `root`, canonical) where
/// pybuild may write, or why not. It must be a plain relative path (no `.`, `..`, empty
/// component, NUL or control character: [`file_name_flaw`] for each component), under
/// `dist/` or one of `allowed` (the configured bundle output), in no folder of
/// `forbidden` nor `.git/` or `.pybuild/`, and resolve inside the project with no link on
/// the way leading out (see [`resolve`]). `origin` names the setting the path comes from,
/// for the message (the error is its text: `error` is above this module).
pub(crate) fn output(
    root: &Path,
    key: &str,
    allowed: &[&str],
    forbidden: &[&str],
    origin: &str,
) -> Result<PathBuf, String> {
    let refuse = |why: String| {
        format!(
            "{origin} makes the output path `{}`, where pybuild writes nothing: {why}",
            key.escape_debug()
        )
    };
    if key.starts_with('/') {
        return Err(refuse("it is absolute".into()));
    }
    for part in key.split('/') {
        if let Some(flaw) = file_name_flaw(part) {
            return Err(refuse(flaw));
        }
        if NEVER_WRITTEN
            .iter()
            .any(|never| part.eq_ignore_ascii_case(never))
        {
            return Err(refuse(format!("it is in `{part}/`")));
        }
    }
    if let Some(dir) = forbidden.iter().find(|dir| {
        key.strip_prefix(dir.trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/'))
    }) {
        return Err(refuse(format!("it is in `{dir}`")));
    }
    if !key.starts_with("dist/") && !allowed.contains(&key) {
        return Err(refuse("outputs go in `dist/`".into()));
    }
    match resolve(root, key) {
        Place::Inside(path) => Ok(path),
        Place::Outside(path) => Err(refuse(format!(
            "it leads outside the project, to {}",
            path.display()
        ))),
    }
}

/// The most a file named in `project.toml` (a deploy template, a Spark driver script) may
/// hold. Such a file is text a person wrote (the built-in templates are 1-2 kB); the cap
/// only stops a device (`/dev/zero`) or a mistaken data file from being read whole into
/// memory and into `dist/`.
pub(crate) const CONFIGURED_FILE_CAP: u64 = 1 << 20;

/// The text of the file `rel` that `key` (`[deploy.spark] main`) names: it must be a
/// regular file inside the project (no link out of it: a configured file is shipped into
/// `dist/`, so `/etc/passwd` would be), of at most `cap` bytes, and UTF-8. It is opened
/// without blocking, so a FIFO fails at once instead of hanging, and read with the cap, so a
/// device fails at once too.
pub(crate) fn read_configured(
    root: &Path,
    rel: &str,
    key: &str,
    cap: u64,
) -> Result<String, String> {
    let refuse = |why: String| format!("`{key} = \"{}\"`: {why}", rel.escape_debug());
    let full = root.join(rel);
    let real = full
        .canonicalize()
        .map_err(|err| refuse(format!("cannot read {} ({err})", full.display())))?;
    if !real.starts_with(root) || real == root {
        return Err(refuse(format!(
            "it is {}, outside the project: name a file inside it",
            real.display()
        )));
    }
    let file = fs::OpenOptions::new()
        .read(true)
        // Non-blocking, so a FIFO opens at once; the path is canonical, so a link at its
        // end was put there since: not followed.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|err| refuse(format!("cannot read {} ({err})", real.display())))?;
    let meta = file
        .metadata()
        .map_err(|err| refuse(format!("cannot read {} ({err})", real.display())))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a named pipe"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "no regular file"
        };
        return Err(refuse(format!("{} is {what}", real.display())));
    }
    let too_big = || refuse(format!("{} is larger than {} bytes", real.display(), cap));
    if meta.len() > cap {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| refuse(format!("cannot read {} ({err})", real.display())))?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|_| refuse(format!("{} is not UTF-8 text", real.display())))
}

/// `.pybuild/` under a project root: pybuild's state (see `engine::state`).
pub(crate) fn state_dir(root: &Path) -> PathBuf {
    root.join(".pybuild")
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("project");
        let outside = base.join("outside");
        fs::create_dir_all(root.join("dist")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        symlink("../outside", root.join("link")).unwrap();
        (dir, root, outside)
    }

    #[test]
    fn a_link_named_plainly_is_the_link_itself() {
        let (_dir, root, _) = setup();
        assert_eq!(resolve(&root, "link"), Place::Inside(root.join("link")));
        assert_eq!(
            resolve(&root, "dist/app.pex"),
            Place::Inside(root.join("dist/app.pex"))
        );
        assert_eq!(
            resolve(&root, "new/dir/x"),
            Place::Inside(root.join("new/dir/x"))
        );
    }

    #[test]
    fn every_form_that_goes_through_a_link_lands_outside() {
        let (_dir, root, outside) = setup();
        for form in ["link/", "link/.", "link/x", "link/../x"] {
            let place = resolve(&root, form);
            assert!(
                matches!(&place, Place::Outside(p) if p.starts_with(outside.parent().unwrap())),
                "{form}: {place:?}"
            );
        }
        assert!(matches!(
            resolve(&root, &outside.display().to_string()),
            Place::Outside(_)
        ));
        assert!(matches!(resolve(&root, "../x"), Place::Outside(_)));
        assert!(matches!(resolve(&root, "."), Place::Outside(_)));
        assert!(matches!(resolve(&root, "dist/.."), Place::Outside(_)));
    }

    #[test]
    fn a_dangling_link_on_the_way_is_outside() {
        let (_dir, root, _) = setup();
        symlink("../nowhere", root.join("gone")).unwrap();
        assert!(matches!(resolve(&root, "gone/x.pex"), Place::Outside(_)));
        assert_eq!(resolve(&root, "gone"), Place::Inside(root.join("gone")));
    }

    #[test]
    fn plain_file_paths() {
        assert!(is_plain_file_path("dist/app.pex"));
        for bad in [
            "", "dist/", "dist/.", "./dist/x", "a/../b", "/tmp/x", "a//b",
        ] {
            assert!(!is_plain_file_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_place_gives_its_path_and_only_an_inside_one_is_inside() {
        let (_dir, root, outside) = setup();
        let inside = resolve(&root, "dist/app.pex");
        assert_eq!(inside.path(), root.join("dist/app.pex"));
        assert_eq!(inside.inside(), Some(root.join("dist/app.pex").as_path()));
        let out = resolve(&root, "link/x");
        assert_eq!(out.path(), outside.join("x"));
        assert_eq!(out.inside(), None);
        assert_eq!(state_dir(&root), root.join(".pybuild"));
    }

    #[test]
    fn file_name_flaws() {
        for (bad, why) in [
            ("", "is no file name"),
            (".", "is no file name"),
            ("..", "is no file name"),
            ("a/b", "holds a `/`"),
            ("a\0b", "U+0000"),
            ("a\nb", "U+000A"),
            ("a\u{7f}", "U+007F"),
            ("a\u{85}", "U+0085"),
            ("a\u{2028}", "U+2028"),
            ("a\u{2029}", "U+2029"),
        ] {
            let flaw = file_name_flaw(bad).unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(flaw.contains(why), "{bad:?}: {flaw}");
        }
        for good in ["app", "a.b", "...", "é-ü_1"] {
            assert_eq!(file_name_flaw(good), None, "{good}");
        }
    }

    #[test]
    fn an_output_path_must_be_plain_in_dist_or_allowed_and_inside() {
        let (_dir, root, _) = setup();
        let output = |key: &str, allowed: &[&str], forbidden: &[&str]| {
            super::output(&root, key, allowed, forbidden, "`[bundle] output`")
        };
        assert_eq!(
            output("dist/app.pex", &[], &[]),
            Ok(root.join("dist/app.pex"))
        );
        assert_eq!(
            output("bin/app", &["bin/app"], &[]),
            Ok(root.join("bin/app"))
        );
        for (key, allowed, forbidden, why) in [
            ("/tmp/app.pex", &[][..], &[][..], "it is absolute"),
            ("dist//app.pex", &[], &[], "is no file name"),
            ("dist/../app.pex", &[], &[], "is no file name"),
            ("dist/a\u{7}b", &[], &[], "U+0007"),
            ("dist/.GIT/hooks/x", &[], &[], "it is in `.GIT/`"),
            (
                ".pybuild/app.pex",
                &[".pybuild/app.pex"],
                &[],
                "it is in `.pybuild/`",
            ),
            (
                "dist/src/app.pex",
                &[],
                &["dist/src/"],
                "it is in `dist/src/`",
            ),
            ("bin/app", &[], &[], "outputs go in `dist/`"),
            ("bin/app", &["bin/other"], &[], "outputs go in `dist/`"),
            ("link/x", &["link/x"], &[], "it leads outside the project"),
        ] {
            let refused = output(key, allowed, forbidden).unwrap_err();
            assert!(
                refused.starts_with("`[bundle] output` makes the output path `")
                    && refused.contains(why),
                "{key}: {refused}"
            );
        }
        // A forbidden folder is one by its whole name: `dist/srcs/` is not in `dist/src/`.
        assert!(output("dist/srcs/app.pex", &[], &["dist/src/"]).is_ok());
    }

    #[test]
    fn a_configured_file_is_a_regular_file_inside_within_the_cap() {
        let (_dir, root, outside) = setup();
        let read = |rel: &str, cap: u64| read_configured(&root, rel, "[deploy.spark] main", cap);
        fs::write(root.join("ten.txt"), "0123456789").unwrap();
        assert_eq!(read("ten.txt", 10).as_deref(), Ok("0123456789"));
        let refused = read("ten.txt", 9).unwrap_err();
        assert!(refused.contains("is larger than 9 bytes"), "{refused}");
        // The built-in templates are 1-2 kB.
        fs::write(root.join("job.yaml"), "x".repeat(4096)).unwrap();
        assert_eq!(
            read("job.yaml", CONFIGURED_FILE_CAP).map(|t| t.len()),
            Ok(4096)
        );

        fs::write(outside.join("secret"), "s").unwrap();
        for (rel, why) in [
            ("link/secret", "outside the project"),
            (".", "outside the project"),
            ("missing.txt", "cannot read"),
            ("dist", "is a directory"),
        ] {
            let refused = read(rel, 10).unwrap_err();
            assert!(
                refused.starts_with(&format!("`[deploy.spark] main = \"{rel}\"`: "))
                    && refused.contains(why),
                "{rel}: {refused}"
            );
        }
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("pipe"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        fs::write(root.join("latin1.txt"), b"caf\xe9").unwrap();
        for (rel, why) in [
            ("pipe", "is a named pipe"),
            ("latin1.txt", "is not UTF-8 text"),
        ] {
            let refused = read(rel, 10).unwrap_err();
            assert!(refused.contains(why), "{rel}: {refused}");
        }
        // A device, named inside the folder it is in (no privilege needed to make one).
        let refused = read_configured(Path::new("/dev"), "null", "key", 10).unwrap_err();
        assert!(refused.contains("/dev/null is a device"), "{refused}");
    }
}
