//! Whether a path not listed yet would be an input: `watch` asks of each file or directory
//! created, or renamed into place, after
//! [`project_files`](crate::engine::fileset::project_files) ran, to tell a new input from a
//! tool's output without listing the project again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use globset::GlobSet;
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::exclusions::Exclusions;
use super::patterns::split_patterns;
use super::rules::Rules;

/// The listing's rules, applied to one path from the root down: the built-in exclusions on
/// every component of the path, a directory holding the environment marker, `.gitignore` files (the
/// nearest with a say decides, an ignored directory hides all below it) and
/// `.git/info/exclude`, then `[bundle] sources`.
pub(crate) struct Admission {
    root: PathBuf,
    exclusions: Exclusions,
    env_marker: Option<&'static str>,
    include: Option<GlobSet>,
    /// The `!pattern`s of `[bundle] sources`, with their globs (without the `!`) in order.
    exclude: Option<(GlobSet, Vec<String>)>,
    /// Parsed `.gitignore` of each directory asked about (relative path, "" for the root).
    gitignores: HashMap<String, Option<Gitignore>>,
    info_exclude: Option<Option<Gitignore>>,
}

impl Admission {
    pub(crate) fn new(root: &Path, rules: &Rules) -> Result<Admission> {
        let (include, exclude) = split_patterns(&rules.sources)?;
        let excluding: Vec<String> = rules
            .sources
            .iter()
            .filter_map(|pattern| pattern.strip_prefix('!').map(str::to_string))
            .collect();
        let exclude = exclude.map(|set| (set, excluding));
        Ok(Admission {
            root: root.to_path_buf(),
            exclusions: Exclusions::new(rules),
            env_marker: rules.tool_files.env_marker,
            include,
            exclude,
            gitignores: HashMap::new(),
            info_exclude: None,
        })
    }

    /// Forgets the `.gitignore` files read so far (one of them changed).
    pub(crate) fn forget_gitignores(&mut self) {
        self.gitignores.clear();
        self.info_exclude = None;
    }

    /// Whether `rel` (a directory if `is_dir`) would be listed, or for a directory, walked.
    pub(crate) fn admits(&mut self, rel: &str, is_dir: bool) -> bool {
        self.rule_leaving_out(rel, is_dir).is_none()
    }

    /// The rule that leaves `rel` (a directory if `is_dir`) out of the inputs, said for the
    /// user (`.gitignore:3 (\`cli.py\`)`, `` `[bundle] sources` pattern `!**` ``), or `None`
    /// when it would be listed: a build whose bundle lacks a file names what left it out.
    pub(crate) fn rule_leaving_out(&mut self, rel: &str, is_dir: bool) -> Option<Rule> {
        let names: Vec<&str> = rel.split('/').collect();
        let mut parent = String::new();
        let mut ignored = None;
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            let dir = is_dir || !last;
            let path = if parent.is_empty() {
                name.to_string()
            } else {
                format!("{parent}/{name}")
            };
            if dir && self.exclusions.dir(&parent, name, i + 1) {
                return Some(Rule::BuiltIn(format!(
                    "pybuild's own rule for {path}/ (build outputs, tool state, the venv)"
                )));
            }
            if let Some(marker) = self.env_marker
                && dir
                && self.root.join(&path).join(marker).is_file()
            {
                return Some(Rule::BuiltIn(format!(
                    "{path}/{marker} (an environment is no input)"
                )));
            }
            if !dir && self.exclusions.file(&path) {
                return Some(Rule::BuiltIn(format!(
                    "pybuild's own rule for {path} (project.toml, compiled, editor or output files)"
                )));
            }
            if ignored.is_none() {
                ignored = self.ignored(&parent, &path, dir);
            }
            parent = path;
        }
        if let Some(pattern) = self.exclude.as_ref().and_then(|(set, patterns)| {
            let first = set.matches(rel).into_iter().min()?;
            patterns.get(first).cloned()
        }) {
            return Some(Rule::Sources(pattern));
        }
        let included = self.include.as_ref().is_some_and(|set| set.is_match(rel));
        // An ignored directory may hold files that `sources` adds back.
        if (is_dir && self.include.is_some()) || included {
            return None;
        }
        ignored.map(Rule::Ignored)
    }

    /// The `.gitignore` rule (or `.git/info/exclude`'s) in `parent` and above that ignores
    /// `path`, if one does.
    fn ignored(&mut self, parent: &str, path: &str, is_dir: bool) -> Option<IgnoreRule> {
        let full = self.root.join(path);
        let mut dirs: Vec<&str> = vec![""];
        dirs.extend(
            parent
                .match_indices('/')
                .map(|(i, _)| &parent[..i])
                .chain((!parent.is_empty()).then_some(parent)),
        );
        for dir in dirs.into_iter().rev() {
            let root = &self.root;
            let gitignore = self.gitignores.entry(dir.to_string()).or_insert_with(|| {
                let dir = root.join(dir);
                let file = dir.join(".gitignore");
                file.is_file().then(|| parse_gitignore(&dir, &file))
            });
            if let Some(decided) = gitignore.as_ref().and_then(|g| decide(g, &full, is_dir)) {
                return decided.map(|rule| rule.shown_from(root));
            }
        }
        let root = &self.root;
        let info_exclude = self.info_exclude.get_or_insert_with(|| {
            let file = root.join(".git/info/exclude");
            file.is_file().then(|| parse_gitignore(root, &file))
        });
        info_exclude
            .as_ref()
            .and_then(|g| decide(g, &full, is_dir))
            .flatten()
            .map(|rule| rule.shown_from(root))
    }
}

/// What leaves a path out of the inputs; its `Display` says it for the user.
pub(crate) enum Rule {
    /// pybuild's own exclusions (build outputs, tool state, a venv), said whole.
    BuiltIn(String),
    /// A line of a `.gitignore` or of `.git/info/exclude`.
    Ignored(IgnoreRule),
    /// A `!pattern` of `[bundle] sources` (without its `!`).
    Sources(String),
}

/// An ignore file's line that ignores a path.
pub(crate) struct IgnoreRule {
    /// The ignore file, if the rule came from one.
    file: Option<PathBuf>,
    /// The ignore file as the user knows it: relative to the project's root.
    shown: String,
    line: String,
}

impl IgnoreRule {
    fn shown_from(mut self, root: &Path) -> IgnoreRule {
        if let Some(file) = &self.file {
            self.shown = file
                .strip_prefix(root)
                .unwrap_or(file)
                .display()
                .to_string();
        }
        self
    }
}

impl std::fmt::Display for Rule {
    /// `src/.gitignore:3 (`cli.py`)` (the line's number found again in the file, which
    /// is read only now: `admits` asks of every path `watch` sees), or the pattern.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::BuiltIn(what) => f.write_str(what),
            Rule::Sources(pattern) => {
                write!(f, "`[bundle] sources` pattern `!{pattern}` in project.toml")
            }
            Rule::Ignored(IgnoreRule {
                file: None, line, ..
            }) => {
                write!(f, "the ignore rule `{line}`")
            }
            Rule::Ignored(IgnoreRule {
                file: Some(file),
                shown,
                line,
            }) => {
                let number = std::fs::read_to_string(file).ok().and_then(|text| {
                    let at = text.lines().position(|l| l.trim() == line)?;
                    Some(at + 1)
                });
                match number {
                    Some(number) => write!(f, "{shown}:{number} (`{line}`)"),
                    None => write!(f, "{shown} (`{line}`)"),
                }
            }
        }
    }
}

fn parse_gitignore(dir: &Path, file: &Path) -> Gitignore {
    let mut builder = GitignoreBuilder::new(dir);
    // A malformed line is skipped, as git does (and as the listing does).
    let _ = builder.add(file);
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

/// `Some(Some(rule))` if ignored, `Some(None)` if whitelisted, `None` if `gitignore` has no
/// say.
fn decide(gitignore: &Gitignore, path: &Path, is_dir: bool) -> Option<Option<IgnoreRule>> {
    match gitignore.matched(path, is_dir) {
        Match::Ignore(glob) => Some(Some(IgnoreRule {
            file: glob.from().map(Path::to_path_buf),
            shown: String::new(),
            line: glob.original().to_string(),
        })),
        Match::Whitelist(_) => Some(None),
        Match::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fileset::tests::{list, rules, tree};
    use std::fs;

    #[test]
    fn admission_agrees_with_the_listing() {
        let dir = tree(&[
            "src/app/__init__.py",
            "src/app/gen/x.py",
            "src/app/keep/x.py",
            "logs/today.log",
            "other-venv/pyvenv.cfg",
        ]);
        let root = dir.path();
        fs::write(root.join(".gitignore"), "logs/\n*.tmp\n").unwrap();
        fs::write(root.join("src/app/.gitignore"), "gen/\n!keep.tmp\n").unwrap();
        let rules = rules(&["src/app/gen/wanted.py"]);
        let mut admission = Admission::new(root, &rules).unwrap();
        for (rel, is_dir, listed) in [
            ("src/app/new.py", false, true),
            ("src/app/sub", true, true),
            ("src/app/save.tmp", false, false),
            ("src/app/keep.tmp", false, true),
            ("src/app/gen/other.py", false, false),
            ("src/app/gen/wanted.py", false, true),
            ("logs/more.log", false, false),
            ("dist/app.pex", false, false),
            ("build", true, false),
            ("docs/build", true, true),
            ("src/app/__pycache__", true, false),
            ("src/app.egg-info", true, false),
            (".venv", true, false),
            ("other-venv", true, false),
            ("out/app.pex", false, false),
            ("project.toml", false, false),
            ("src/app/.cli.py.swp", false, false),
            ("src/app/cli.py~", false, false),
            ("src/app/.#cli.py", false, false),
        ] {
            assert_eq!(admission.admits(rel, is_dir), listed, "{rel}");
        }
        // What the listing says of the files that exist.
        for rel in list(root, &rules) {
            assert!(admission.admits(&rel, false), "{rel}");
        }
    }

    #[test]
    fn the_rule_leaving_a_file_out_is_named() {
        let dir = tree(&["src/app/__init__.py", "src/app/cli.py", "src/app/gen/x.py"]);
        let root = dir.path();
        fs::write(root.join(".gitignore"), "# generated\n*.tmp\n").unwrap();
        fs::write(root.join("src/app/.gitignore"), "\ngen/\ncli.py\n").unwrap();
        let mut admission = Admission::new(root, &rules(&["!src/app/__init__.py"])).unwrap();
        let mut why = |rel: &str| {
            admission
                .rule_leaving_out(rel, false)
                .map(|rule| rule.to_string())
        };
        assert_eq!(
            why("src/app/cli.py").as_deref(),
            Some("src/app/.gitignore:3 (`cli.py`)")
        );
        assert_eq!(
            why("src/app/gen/x.py").as_deref(),
            Some("src/app/.gitignore:2 (`gen/`)")
        );
        assert_eq!(
            why("src/app/__init__.py").as_deref(),
            Some("`[bundle] sources` pattern `!src/app/__init__.py` in project.toml")
        );
        assert_eq!(why("src/app/words.py"), None);
        assert!(
            why("build/lib/app.py")
                .unwrap()
                .contains("pybuild's own rule for build/")
        );
    }
}
