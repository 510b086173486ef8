//! The members from their pyproject.toml files: names, scripts, which member requires
//! which, and the checks that refuse what pybuild cannot bundle.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use anyhow::Result;
use toml::Spanned;

use super::member::Member;
use super::pyproject::{Read, requirement};
use crate::base::distribution_name::{is_valid, normalize};

/// A member's pyproject.toml, with its normalised name and its directory.
struct Named {
    name: String,
    dir: String,
    file: Read,
}

/// The members, sorted by name, from each member's directory and pyproject.toml; checked.
pub(super) fn members(read: Vec<(String, Read)>) -> Result<Vec<Member>> {
    let named = named(read)?;
    let names: BTreeSet<&str> = named.iter().map(|member| member.name.as_str()).collect();
    let extras = extras_naming_members(&named, &names);
    let mut requires_at = BTreeMap::new();
    let mut members: Vec<Member> = named
        .iter()
        .map(|member| {
            let (requires, spans) = requires(member, &names, &extras);
            requires_at.insert(member.name.as_str(), spans);
            Member {
                name: member.name.clone(),
                dir: member.dir.clone(),
                scripts: scripts(&member.file)
                    .into_iter()
                    .map(|script| script.get_ref().clone())
                    .collect(),
                requires,
                installed: member.file.virtual_because().is_none(),
            }
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let file_of = |name: &str| {
        &named
            .iter()
            .find(|member| member.name == name)
            .expect("every member was named")
            .file
    };
    check_scripts(&members, file_of)?;
    if let Some(cycle) = find_cycle(&members) {
        let span = requires_at[cycle[0].as_str()].get(&cycle[1]).cloned();
        return Err(file_of(&cycle[0])
            .error(
                span,
                format!(
                    "workspace members depend on each other in a cycle: {}",
                    cycle.join(" → ")
                ),
            )
            .hint("break the cycle: move what both need into a library neither depends on")
            .into());
    }
    check_virtual(&members, file_of)?;
    Ok(members)
}

/// Each file's name, checked: one there, and no other member's.
fn named(read: Vec<(String, Read)>) -> Result<Vec<Named>> {
    let mut named: Vec<Named> = Vec::new();
    for (dir, file) in read {
        let Some(project) = file.project() else {
            return Err(file
                .error(None, "workspace member has no `[project]` table".to_string())
                .hint("give it a `[project]` with a `name`, or leave its directory out of `[tool.uv.workspace] members`")
                .into());
        };
        let Some(name) = project.get_ref().name.as_ref() else {
            return Err(file
                .error(
                    Some(project.span()),
                    "workspace member has no `[project] name`".to_string(),
                )
                .into());
        };
        if !is_valid(name.get_ref()) {
            return Err(file
                .error(
                    Some(name.span()),
                    format!("`{}` is not a valid project name", name.get_ref().escape_debug()),
                )
                .hint("a name is letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit (PEP 508)")
                .into());
        }
        let name = normalize(name.get_ref());
        if let Some(first) = named.iter().find(|other| other.name == name) {
            let first = first.file.place(first.file.name_span());
            return Err(file
                .error(
                    file.name_span(),
                    format!("two workspace members are named `{name}`: this one and {first}"),
                )
                .hint("rename one of them: a workspace's members must have distinct names")
                .into());
        }
        named.push(Named { name, dir, file });
    }
    Ok(named)
}

/// By member and extra (normalised), the other members its optional dependencies name.
fn extras_naming_members<'a>(
    named: &'a [Named],
    names: &BTreeSet<&str>,
) -> BTreeMap<&'a str, BTreeMap<String, Vec<String>>> {
    named
        .iter()
        .map(|member| {
            let by_extra = member
                .file
                .project()
                .into_iter()
                .flat_map(|project| &project.get_ref().optional_dependencies)
                .map(|(extra, requirements)| {
                    let members = requirements
                        .iter()
                        .filter_map(|text| requirement(text.get_ref()))
                        .map(|(dep, _)| dep)
                        .filter(|dep| names.contains(dep.as_str()) && *dep != member.name)
                        .collect();
                    (normalize(extra), members)
                })
                .collect();
            (member.name.as_str(), by_extra)
        })
        .collect()
}

/// The other members `member`'s dependencies name, directly or through the extras they
/// ask of a member, in the file's order; and where each is first named.
fn requires(
    member: &Named,
    names: &BTreeSet<&str>,
    extras: &BTreeMap<&str, BTreeMap<String, Vec<String>>>,
) -> (Vec<String>, BTreeMap<String, Range<usize>>) {
    let mut requires: Vec<String> = Vec::new();
    let mut spans = BTreeMap::new();
    let dependencies = member
        .file
        .project()
        .into_iter()
        .flat_map(|project| &project.get_ref().dependencies);
    for text in dependencies {
        let Some((dep, asked)) = requirement(text.get_ref()) else {
            continue;
        };
        if !names.contains(dep.as_str()) || dep == member.name {
            continue;
        }
        let via_extras: Vec<String> = asked
            .iter()
            .filter_map(|extra| extras.get(dep.as_str())?.get(extra))
            .flatten()
            .filter(|other| **other != member.name)
            .cloned()
            .collect();
        for required in std::iter::once(dep).chain(via_extras) {
            spans.entry(required.clone()).or_insert_with(|| text.span());
            if !requires.contains(&required) {
                requires.push(required);
            }
        }
    }
    (requires, spans)
}

/// `[project.scripts]`'s names, in the file's order.
fn scripts(file: &Read) -> Vec<&Spanned<String>> {
    let mut scripts: Vec<&Spanned<String>> = file
        .project()
        .into_iter()
        .flat_map(|project| project.get_ref().scripts.keys())
        .collect();
    scripts.sort_by_key(|script| script.span().start);
    scripts
}

/// One console script, one member: both bundles would be `dist/<script>.pex`.
fn check_scripts<'a>(members: &'a [Member], file_of: impl Fn(&str) -> &'a Read) -> Result<()> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for member in members {
        for script in &member.scripts {
            let Some(first) = owner.insert(script, &member.name) else {
                continue;
            };
            let span_of = |file: &Read| {
                scripts(file)
                    .into_iter()
                    .find(|key| key.get_ref() == script)
                    .map(Spanned::span)
            };
            let first_file = file_of(first);
            let first_place = first_file.place(span_of(first_file));
            let file = file_of(&member.name);
            return Err(file
                .error(
                    span_of(file),
                    format!(
                        "console script `{script}` is defined by two workspace members, `{}` and `{first}` ({first_place}): both bundles would be dist/{script}.pex",
                        member.name
                    ),
                )
                .hint("rename the script in one of them")
                .into());
        }
    }
    Ok(())
}

/// A virtual member ships no code: refused where its code is needed.
fn check_virtual<'a>(members: &'a [Member], file_of: impl Fn(&str) -> &'a Read) -> Result<()> {
    for member in members {
        let file = file_of(&member.name);
        let Some(why) = file.virtual_because() else {
            continue;
        };
        let needed_by = members
            .iter()
            .find(|other| other.requires.contains(&member.name));
        let need = match (member.scripts.first(), needed_by) {
            (Some(script), _) => format!("it defines the console script `{script}`"),
            (None, Some(other)) => format!("`{}` depends on it", other.name),
            (None, None) => continue,
        };
        return Err(file
            .error(
                why.span,
                format!(
                    "workspace member `{}` {}, so uv installs its dependencies but not its code, and pybuild cannot bundle it ({need})",
                    member.name, why.what
                ),
            )
            .hint(why.fix)
            .into());
    }
    Ok(())
}

/// A cycle among the members' `requires`, as names from a member back to itself.
fn find_cycle(members: &[Member]) -> Option<Vec<String>> {
    fn visit<'a>(
        members: &'a [Member],
        member: &'a Member,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|name| *name == member.name) {
            let mut cycle: Vec<String> =
                path[start..].iter().map(|name| name.to_string()).collect();
            cycle.push(member.name.clone());
            return Some(cycle);
        }
        if done.contains(member.name.as_str()) {
            return None;
        }
        path.push(&member.name);
        for name in &member.requires {
            if let Some(next) = members.iter().find(|other| other.name == *name)
                && let Some(cycle) = visit(members, next, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(&member.name);
        None
    }
    let mut done = BTreeSet::new();
    members
        .iter()
        .find_map(|member| visit(members, member, &mut Vec::new(), &mut done))
}
