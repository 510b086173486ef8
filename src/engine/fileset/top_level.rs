//! The names the project's files can be imported by: part of `develop`'s fingerprint, as an
//! editable install is made for the packages present when it ran.

use std::collections::BTreeSet;

/// The top-level importable names `files` provide (`pkg` for `src/pkg/x.py` or
/// `pkg/x.py`, `mod` for `mod.py`): adding or removing one needs a new editable install.
pub(crate) fn top_level_names(files: &[String]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| f.ends_with(".py"))
        .filter_map(|f| {
            let rel = f.strip_prefix("src/").unwrap_or(f);
            let first = rel.split('/').next()?;
            let name = first.strip_suffix(".py").unwrap_or(first);
            let importable = name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            importable.then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_names_cover_src_and_flat_layouts() {
        let files: Vec<String> = [
            "src/app/cli.py",
            "src/app/sub/x.py",
            "tool.py",
            "README.md",
            "clicker/app.py",
            "my-scripts/run.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names: Vec<String> = top_level_names(&files).into_iter().collect();
        assert_eq!(names, vec!["app", "clicker", "tool"]);
    }
}
