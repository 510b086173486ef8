//! Paths named in `project.toml`, resolved once against the project root the way the
//! kernel will: physically, component by component.
//!
//! A lexical check is not enough: `link/` with `link -> ../outside` names a directory
//! outside the project (the trailing slash makes the kernel follow the link), and so does
//! `link/../x` (`..` is taken from the link's target). Every path pybuild writes to or
//! removes comes from [`resolve`], and every removal works on the path it returns, whose
//! last component is not followed unless the configured text asked for it (a trailing `/`,
//! `/.` or `/..`): so a link is removed as a link.

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

/// A relative path to a file, written plainly: no empty, `.` or `..` component, no
/// leading or trailing `/`. What `[bundle] output` must look like.
pub(crate) fn is_plain_file_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
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
}
