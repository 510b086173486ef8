//! SCRATCH (replaced by wsmodel's): minimal uv workspace discovery.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::distribution_name::normalize;

pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) members: Vec<Member>,
}

pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) dir: String,
    pub(crate) scripts: Vec<String>,
    pub(crate) requires: Vec<String>,
}

impl Workspace {
    pub(crate) fn find(root: &Path) -> Result<Option<Workspace>> {
        let Ok(text) = std::fs::read_to_string(root.join("pyproject.toml")) else {
            return Ok(None);
        };
        let table: toml::Table = text.parse().context("root pyproject")?;
        let Some(ws) = table
            .get("tool")
            .and_then(|t| t.get("uv"))
            .and_then(|t| t.get("workspace"))
        else {
            return Ok(None);
        };
        let globs: Vec<String> = ws
            .get("members")
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut dirs = Vec::new();
        if table.contains_key("project") {
            dirs.push(".".to_string());
        }
        for glob in globs {
            let (parent, star) = glob.rsplit_once('/').unwrap_or((".", &glob));
            if star == "*" {
                for entry in std::fs::read_dir(root.join(parent))? {
                    let entry = entry?;
                    if entry.path().join("pyproject.toml").is_file() {
                        dirs.push(format!("{parent}/{}", entry.file_name().to_string_lossy()));
                    }
                }
            } else {
                dirs.push(glob.clone());
            }
        }
        let mut members = Vec::new();
        for dir in dirs {
            let text = std::fs::read_to_string(root.join(&dir).join("pyproject.toml"))?;
            let t: toml::Table = text.parse()?;
            let project = t.get("project").context("no project")?;
            let name = normalize(
                project
                    .get("name")
                    .and_then(|n| n.as_str())
                    .context("name")?,
            );
            let scripts = project
                .get("scripts")
                .and_then(|s| s.as_table())
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default();
            let deps: Vec<String> = project
                .get("dependencies")
                .and_then(|d| d.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .map(|s| {
                            normalize(
                                s.split(|c: char| !(c.is_alphanumeric() || "-_.".contains(c)))
                                    .next()
                                    .unwrap_or(s),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            members.push(Member {
                name,
                dir,
                scripts,
                requires: deps,
            });
        }
        let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        for m in &mut members {
            m.requires.retain(|r| names.contains(r));
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(Workspace {
            root: root.to_path_buf(),
            members,
        }))
    }

    pub(crate) fn member(&self, name: &str) -> Option<&Member> {
        let name = normalize(name);
        self.members.iter().find(|m| m.name == name)
    }

    pub(crate) fn apps(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| !m.scripts.is_empty())
    }

    pub(crate) fn closure(&self, name: &str) -> Vec<&Member> {
        let mut out: Vec<&Member> = Vec::new();
        let mut todo = vec![normalize(name)];
        while let Some(n) = todo.pop() {
            if out.iter().any(|m| m.name == n) {
                continue;
            }
            if let Some(m) = self.member(&n) {
                out.push(m);
                todo.extend(m.requires.iter().cloned());
            }
        }
        out
    }

    pub(crate) fn member_at(&self, rel_path: &str) -> Option<&Member> {
        self.members
            .iter()
            .filter(|m| m.dir == "." || rel_path.starts_with(&format!("{}/", m.dir)))
            .max_by_key(|m| m.dir.len())
    }
}
