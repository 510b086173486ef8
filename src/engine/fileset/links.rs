//! Links among the inputs. A link into the project is an input like the file it leads to;
//! a link out of it is one only when `[bundle] external-links` allows it, since a bundle
//! would ship whatever it leads to (a key in the home directory). One not allowed is no
//! input, and an error for the build: left out silently, the bundle would lack a file the
//! project has.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use globset::{Glob, GlobSetBuilder};

use super::set::FileSet;
use crate::base::error::UserError;
use crate::engine::listing::Link;

/// `links` as (those that are inputs: inside the project, or out of it as `external_links`
/// allows; those refused).
pub(super) fn split_links(
    root: &Path,
    external_links: &[String],
    links: Vec<Link>,
) -> Result<(Vec<Link>, Vec<Link>)> {
    if links.is_empty() {
        return Ok((links, Vec::new()));
    }
    let real_root =
        fs::canonicalize(root).with_context(|| format!("cannot resolve {}", root.display()))?;
    let mut allowed = GlobSetBuilder::new();
    for pattern in external_links {
        allowed.add(Glob::new(pattern).with_context(|| format!("bad glob `{pattern}`"))?);
    }
    let allowed = allowed.build()?;
    Ok(links
        .into_iter()
        .partition(|link| link.target.starts_with(&real_root) || allowed.is_match(&link.path)))
}

impl FileSet {
    /// An error naming the links out of the project that `[bundle] external-links` does not
    /// allow.
    pub(crate) fn refuse_external_links(&self) -> Result<(), UserError> {
        let Some(first) = self.refused.first() else {
            return Ok(());
        };
        let mut message = format!(
            "{} links to {}, outside the project",
            first.path,
            first.target.display()
        );
        if let [_, more @ ..] = self.refused.as_slice()
            && !more.is_empty()
        {
            let names: Vec<&str> = more.iter().map(|link| link.path.as_str()).collect();
            message.push_str(&format!(" (and so do {})", names.join(", ")));
        }
        Err(UserError::usage(message)
            .hint(format!(
                "to bundle what it leads to, allow it in project.toml: `[bundle] external-links = [\"{}\"]`",
                first.path
            ))
            .hint(format!(
                "otherwise remove the link, or leave it out of the inputs (`[bundle] sources = [\"!{}\"]`, or .gitignore)",
                first.path
            )))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use crate::engine::fileset::project_files;
    use crate::engine::fileset::tests::{age_dirs, file_set, rules, tree};
    use crate::engine::listing::Listing;
    use crate::engine::statcache::StatCache;

    #[test]
    fn links_are_inputs_inside_the_project_and_refused_outside_unless_allowed() {
        let outside = tree(&["id_rsa", "vendored/lib.py"]);
        let dir = tree(&["app/__init__.py", "app/words.py"]);
        let root = dir.path();
        symlink("words.py", root.join("app/alias.py")).unwrap();
        symlink(outside.path().join("id_rsa"), root.join("key.txt")).unwrap();
        symlink(
            outside.path().join("vendored/lib.py"),
            root.join("app/lib.py"),
        )
        .unwrap();
        symlink("gone.py", root.join("app/dangling.py")).unwrap();
        symlink("app", root.join("app-link")).unwrap();

        let set = file_set(root, &rules(&[]));
        assert_eq!(
            set.files,
            ["app/__init__.py", "app/alias.py", "app/words.py"]
        );
        assert_eq!(set.links.len(), 1);
        assert_eq!(
            set.links[0].target,
            root.canonicalize().unwrap().join("app/words.py")
        );
        let err = set.refuse_external_links().unwrap_err();
        assert!(err.usage);
        assert!(
            err.message.starts_with("app/lib.py links to "),
            "{}",
            err.message
        );
        assert!(
            err.message.ends_with("(and so do key.txt)"),
            "{}",
            err.message
        );
        assert!(err.hints[0].contains("external-links = [\"app/lib.py\"]"));

        let mut allowing = rules(&[]);
        allowing.external_links = vec!["app/*.py".into()];
        let set = file_set(root, &allowing);
        assert!(set.files.contains(&"app/lib.py".to_string()));
        assert!(!set.files.contains(&"key.txt".to_string()));
        assert!(
            set.refuse_external_links().is_err(),
            "key.txt is still refused"
        );
        allowing.external_links.push("key.txt".into());
        file_set(root, &allowing).refuse_external_links().unwrap();
    }

    #[test]
    fn links_are_followed_again_when_their_directory_is_not_read() {
        let dir = tree(&["app/__init__.py", "store/extra.txt"]);
        let root = dir.path();
        symlink("../store/extra.txt", root.join("app/extra.txt")).unwrap();
        age_dirs(root);
        let (rules, mut listing, mut hashes) =
            (rules(&[]), Listing::default(), StatCache::default());
        let mut list =
            |listing: &mut Listing| project_files(root, &rules, listing, &mut hashes).unwrap();
        assert!(list(&mut listing).files.contains(&"app/extra.txt".into()));
        listing.mark_saved();

        fs::remove_file(root.join("store/extra.txt")).unwrap();
        let set = list(&mut listing);
        assert!(!set.files.contains(&"app/extra.txt".into()));
        assert!(
            set.left_out.is_empty(),
            "a link to nothing is a deleted file"
        );

        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("store/extra.txt"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let set = list(&mut listing);
        assert!(!set.files.contains(&"app/extra.txt".into()));
        let said: Vec<String> = set.left_out.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said[0]
                .starts_with("app/extra.txt is left out of the inputs: it links to a named pipe"),
            "{said:?}"
        );
        assert_eq!(
            said[1],
            "store/extra.txt is left out of the inputs: it is a named pipe, not a regular file"
        );
    }
}
