//! The `[check]` entries `init` writes: for each dependency of the project that is a usual
//! suspect (`base::prerequisites::known`), what it needs to build from source, set when no wheel of it
//! fits this interpreter and platform (or when pybuild cannot tell, saying why), and left
//! commented out when one does. A comment names the dependency behind every entry.

use std::path::Path;

use super::wheels::{self, Wheel};
use crate::base::prerequisites::hints::Kind;
use crate::base::prerequisites::known::{self, Known};
use crate::base::ui::Printer;

/// A dependency `init` knows the prerequisites of, and what its installer would do.
struct Suspect {
    name: String,
    known: &'static Known,
    wheel: Wheel,
    /// Why the project itself compiles, when this is the project.
    own: Option<String>,
}

/// The project's own extension needs what every compiled extension does, nothing else.
static OWN: Known = Known {
    names: &[],
    commands: &[],
    headers: &[],
    pkg_config: &[],
};

impl Suspect {
    /// Whether its prerequisites are checked: unless a wheel surely fits.
    fn builds(&self) -> bool {
        self.own.is_some() || !matches!(self.wheel, Wheel::Fits { .. })
    }

    /// What `init` says of it, on one line (it is also a comment in `project.toml`).
    fn verdict(&self) -> String {
        wheels::one_line(&self.verdict_text())
    }

    fn verdict_text(&self) -> String {
        let name = &self.name;
        if let Some(why) = &self.own {
            return format!("{name}, this project, compiles an extension ({why})");
        }
        match &self.wheel {
            Wheel::None { version, tag } => format!(
                "{name} {version}: no wheel on PyPI for this interpreter ({tag}): it is built \
                 from source"
            ),
            Wheel::Fits { version, tag } => format!(
                "{name} {version}: a wheel fits this interpreter ({tag}), nothing to build; \
                 what it needs from source is left commented out"
            ),
            Wheel::Unknown(why) => format!(
                "{name}: pybuild cannot tell whether a wheel fits ({why}), so what it needs \
                 from source is checked"
            ),
        }
    }
}

/// The body of `[check]` for the dependencies in `dependencies` that pybuild knows, with
/// one line per such dependency for the user; `None` when there is none. Runs `python`
/// (the interpreter the venv will be made from) once to ask about wheels, or says why
/// it cannot.
pub(crate) fn section(
    dependencies: &[String],
    own: Option<(&str, &str)>,
    python: Result<&Path, &str>,
    dir: &Path,
    printer: &Printer,
) -> Option<(String, Vec<String>)> {
    let found: Vec<(&String, &'static Known)> = dependencies
        .iter()
        .filter_map(|name| Some((name, known::find(name)?)))
        .collect();
    let own = own.map(|(name, why)| Suspect {
        name: name.to_string(),
        known: &OWN,
        wheel: Wheel::Unknown(String::new()),
        own: Some(why.to_string()),
    });
    if found.is_empty() {
        let own = own?;
        let said = vec![own.verdict()];
        return Some((render(&[own]), said));
    }
    let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
    let answers = match python {
        Ok(python) => wheels::lookup(python, dir, &names, printer),
        Err(why) => names
            .iter()
            .map(|name| (name.to_string(), Wheel::Unknown(why.to_string())))
            .collect(),
    };
    let suspects: Vec<Suspect> = found
        .into_iter()
        .map(|(name, known)| Suspect {
            name: name.clone(),
            known,
            wheel: answers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, wheel)| wheel.clone())
                .unwrap_or_else(|| Wheel::Unknown("the interpreter did not answer".into())),
            own: None,
        })
        .chain(own)
        .collect();
    let said = suspects.iter().map(Suspect::verdict).collect();
    Some((render(&suspects), said))
}

/// Each key's doc line, as the template shows it, and its commented default.
const KEYS: [(Kind, &str, &str); 3] = [
    (
        Kind::Command,
        "# Commands that must be on PATH.",
        "# commands = []        # e.g. [\"cc\"]",
    ),
    (
        Kind::Header,
        "# C headers the compiler must find.",
        "# headers = []         # e.g. [\"Python.h\", \"ldap.h\"]",
    ),
    (
        Kind::PkgConfig,
        "# pkg-config packages that must be installed.",
        "# pkg-config = []      # e.g. [\"libpq\"]",
    ),
];

fn render(suspects: &[Suspect]) -> String {
    let mut out = String::from(
        "# Written by `pybuild init` for the dependencies it knows to need system packages\n\
         # when they are built from source:\n",
    );
    for suspect in suspects {
        out.push_str(&format!("# - {}\n", suspect.verdict()));
    }
    for (kind, doc, default) in KEYS {
        out.push_str(doc);
        out.push('\n');
        // Each entry once, with the dependencies that need it.
        let mut entries: Vec<(&str, Vec<&str>)> = Vec::new();
        for suspect in suspects.iter().filter(|s| s.builds()) {
            for (_, name) in suspect
                .known
                .entries()
                .into_iter()
                .filter(|(k, _)| *k == kind)
            {
                match entries.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, needers)) => needers.push(&suspect.name),
                    None => entries.push((name, vec![suspect.name.as_str()])),
                }
            }
        }
        if entries.is_empty() {
            out.push_str(default);
            out.push('\n');
        } else {
            out.push_str(&format!("{} = [\n", kind.key()));
            let width = entries.iter().map(|(n, _)| n.len() + 3).max().unwrap_or(0);
            for (name, needers) in &entries {
                let value = format!("{name:?},");
                out.push_str(&format!("    {value:width$}  # {}\n", needers.join(", ")));
            }
            out.push_str("]\n");
        }
        for suspect in suspects.iter().filter(|s| !s.builds()) {
            let names: Vec<String> = suspect
                .known
                .entries()
                .into_iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, name)| format!("{name:?}"))
                .collect();
            if !names.is_empty() {
                out.push_str(&format!(
                    "# {}, if built from source: {} = [{}]\n",
                    suspect.name,
                    kind.key(),
                    names.join(", ")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::config::Config;

    fn suspect(name: &str, wheel: Wheel) -> Suspect {
        Suspect {
            name: name.into(),
            known: known::find(name).unwrap(),
            wheel,
            own: None,
        }
    }

    #[test]
    fn entries_of_what_builds_are_set_and_of_what_has_a_wheel_commented_out() {
        let suspects = [
            suspect(
                "python-ldap",
                Wheel::None {
                    version: "3.4.4".into(),
                    tag: "cp311-cp311-manylinux_2_36_x86_64".into(),
                },
            ),
            suspect(
                "psycopg2",
                Wheel::Unknown("cannot ask PyPI (offline)".into()),
            ),
            suspect(
                "lxml",
                Wheel::Fits {
                    version: "5.3.0".into(),
                    tag: "cp311-cp311-manylinux_2_17_x86_64".into(),
                },
            ),
        ];
        let body = render(&suspects);
        let text = format!("[project]\nname = \"x\"\n\n[check]\n{body}");
        let config = Config::parse(Path::new("project.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}\n{text}"));
        assert_eq!(config.check.commands, ["cc", "pg_config"]);
        assert_eq!(
            config.check.headers,
            ["Python.h", "lber.h", "ldap.h", "sasl/sasl.h"]
        );
        assert!(config.check.pkg_config.is_empty(), "{text}");
        assert!(
            text.contains("    \"cc\",         # python-ldap, psycopg2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# lxml, if built from source: pkg-config = [\"libxml-2.0\", \"libxslt\"]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# - python-ldap 3.4.4: no wheel on PyPI for this interpreter (cp311-cp311-manylinux_2_36_x86_64): it is built from source\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# - psycopg2: pybuild cannot tell whether a wheel fits (cannot ask PyPI (offline))"
            ),
            "{text}"
        );
    }

    #[test]
    fn nothing_known_writes_nothing() {
        let none = section(
            &["click".into()],
            None,
            Err("--offline"),
            Path::new("."),
            &Printer::silent(),
        );
        assert!(none.is_none());
    }
}
