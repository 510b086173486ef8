//! Which directories are members: the `[tool.uv.workspace] members` globs, one path
//! component at a time (`**` any number of them), less what `exclude` matches, as uv
//! matches them.

use std::path::Path;

use anyhow::Result;
use toml::Spanned;

use super::pyproject::{PYPROJECT, Read};

/// The directories (relative, `/`-separated) the `members` globs match, less `exclude`'s,
/// each once, in order.
pub(super) fn member_dirs(root: &Path, root_file: &Read) -> Result<Vec<String>> {
    let Some(workspace) = root_file
        .parsed
        .tool
        .uv
        .workspace
        .as_ref()
        .map(Spanned::get_ref)
    else {
        return Ok(Vec::new());
    };
    let bad = |span: std::ops::Range<usize>, message: String| {
        anyhow::Error::from(root_file.error(Some(span), message))
    };
    let mut excludes = Vec::new();
    for pattern in &workspace.exclude {
        let glob = components(pattern.get_ref())
            .and_then(|parts| {
                globset::GlobBuilder::new(&parts.join("/"))
                    .build()
                    .map_err(|err| format!("bad glob: {err}"))
            })
            .map_err(|why| {
                bad(
                    pattern.span(),
                    format!("`[tool.uv.workspace] exclude`: {why}"),
                )
            })?;
        excludes.push(glob.compile_matcher());
    }
    let mut dirs: Vec<String> = Vec::new();
    for pattern in workspace
        .members
        .iter()
        .flat_map(|members| members.get_ref())
    {
        let components = components(pattern.get_ref()).map_err(|why| {
            bad(
                pattern.span(),
                format!("`[tool.uv.workspace] members`: {why}"),
            )
        })?;
        let matched = expand(root, &components).map_err(|err| {
            bad(
                pattern.span(),
                format!("`[tool.uv.workspace] members` holds a bad glob: {err}"),
            )
        })?;
        for rel in matched {
            let dir = if rel.is_empty() { ".".to_string() } else { rel };
            if dirs.contains(&dir) || excludes.iter().any(|glob| glob.is_match(&dir)) {
                continue;
            }
            let path = root.join(&dir);
            if !path.is_dir() {
                continue;
            }
            if !path.join(PYPROJECT).is_file() {
                if is_hidden(&path) || holds_no_kept_file(&path) {
                    continue;
                }
                return Err(bad(
                    pattern.span(),
                    format!(
                        "`{}` matches {dir}/, which has no {PYPROJECT} (uv refuses it too)",
                        pattern.get_ref()
                    ),
                ));
            }
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

/// A glob's components, with `.` and empty ones dropped; an absolute glob or one leading
/// out of the root is refused (pybuild bundles what is under the root).
fn components(pattern: &str) -> std::result::Result<Vec<String>, String> {
    if pattern.starts_with('/') {
        return Err(format!(
            "`{pattern}` is absolute; give it relative to the workspace root"
        ));
    }
    let parts: Vec<String> = pattern
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .map(str::to_string)
        .collect();
    if parts.iter().any(|part| part == "..") {
        return Err(format!("`{pattern}` leads out of the workspace root"));
    }
    Ok(parts)
}

/// The relative paths (`""` for the root) matching `components`, one directory level per
/// component, `**` any number of levels, in sorted order.
fn expand(root: &Path, components: &[String]) -> std::result::Result<Vec<String>, globset::Error> {
    let mut current = vec![String::new()];
    for component in components {
        let mut next = Vec::new();
        if component == "**" {
            for rel in current {
                descendants(root, rel, &mut next);
            }
        } else if !component.contains(['*', '?', '[', '{']) {
            next = current
                .into_iter()
                .map(|rel| join(&rel, component))
                .filter(|rel| root.join(rel).exists())
                .collect();
        } else {
            let glob = globset::GlobBuilder::new(component)
                .literal_separator(true)
                .build()?
                .compile_matcher();
            for rel in current {
                for name in child_names(&root.join(&rel), false) {
                    if glob.is_match(&name) {
                        next.push(join(&rel, &name));
                    }
                }
            }
        }
        current = next;
    }
    Ok(current)
}

/// `rel` and every directory below it, depth first, sorted.
fn descendants(root: &Path, rel: String, out: &mut Vec<String>) {
    let children = child_names(&root.join(&rel), true);
    out.push(rel.clone());
    for name in children {
        descendants(root, join(&rel, &name), out);
    }
}

/// The sorted names in `dir` (only the directories with `dirs_only`).
fn child_names(dir: &Path, dirs_only: bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| !dirs_only || entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

/// Whether `dir` holds no file but those git ignores (uv skips such a directory: what a
/// removed member left, such as `__pycache__`).
fn holds_no_kept_file(dir: &Path) -> bool {
    ignore::WalkBuilder::new(dir)
        .hidden(false)
        .build()
        .all(|entry| entry.is_ok_and(|entry| entry.file_type().is_some_and(|kind| kind.is_dir())))
}
