//! Which file of the base the image's venv runs: `[image] python` (`python3`) looked up on
//! the image's PATH among the base's `bin/python*` files and links (read from its layers'
//! tar headers by `base::pythons`), its links followed to the file itself, as the kernel
//! would in the container. Pure: no file of this machine is read.

use std::collections::BTreeMap;

/// How many links are followed before giving up (the kernel's limit is 40; Debian's
/// `python3` is one).
const MAX_LINKS: usize = 16;

/// The absolute path in the image of the file `name` runs on the image's `path` (a
/// PATH), given the base's `binaries` (path without the leading `/` → link target, `None`
/// for a file). `None` when it is on none of PATH's folders, or a link leads nowhere known.
pub(crate) fn resolve(
    binaries: &BTreeMap<String, Option<String>>,
    name: &str,
    path: &str,
) -> Option<String> {
    let candidates: Vec<String> = if name.starts_with('/') {
        vec![name.to_string()]
    } else {
        path.split(':')
            .filter(|dir| dir.starts_with('/'))
            .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
            .collect()
    };
    candidates
        .iter()
        .find_map(|candidate| follow(binaries, candidate))
}

/// `path` with its links followed, when it ends at a file among `binaries`.
fn follow(binaries: &BTreeMap<String, Option<String>>, path: &str) -> Option<String> {
    let mut path = normalize(path)?;
    for _ in 0..MAX_LINKS {
        match binaries.get(path.trim_start_matches('/'))? {
            None => return Some(path),
            Some(target) if target.starts_with('/') => path = normalize(target)?,
            Some(target) => {
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                path = normalize(&format!("{dir}/{target}"))?;
            }
        }
    }
    None
}

/// An absolute path with `.` and `..` resolved; `None` above the root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// `3.11` from an interpreter's file name, `python3.11`.
pub(crate) fn version_of(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let minor = name.strip_prefix("python3.")?;
    (!minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())).then(|| format!("3.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> BTreeMap<String, Option<String>> {
        BTreeMap::from([
            (
                "usr/bin/python3".to_string(),
                Some("python3.11".to_string()),
            ),
            ("usr/bin/python3.11".to_string(), None),
            (
                "usr/local/bin/python".to_string(),
                Some("../../bin/python3".to_string()),
            ),
            ("usr/bin/loop".to_string(), Some("loop".to_string())),
        ])
    }

    #[test]
    fn the_name_is_found_on_path_and_its_links_followed() {
        let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        assert_eq!(
            resolve(&debian(), "python3", path).as_deref(),
            Some("/usr/bin/python3.11")
        );
        assert_eq!(
            resolve(&debian(), "python", path).as_deref(),
            Some("/usr/bin/python3.11")
        );
        assert_eq!(
            resolve(&debian(), "/usr/bin/python3", "").as_deref(),
            Some("/usr/bin/python3.11")
        );
        assert_eq!(resolve(&debian(), "python3", "/usr/local/bin"), None);
        assert_eq!(resolve(&debian(), "python2", path), None);
        assert_eq!(resolve(&debian(), "loop", path), None);
    }

    #[test]
    fn the_version_is_read_from_the_file_name() {
        assert_eq!(version_of("/usr/bin/python3.11").as_deref(), Some("3.11"));
        assert_eq!(version_of("/usr/bin/python3"), None);
        assert_eq!(version_of("/usr/bin/python3.11-config"), None);
    }
}
