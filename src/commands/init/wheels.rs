//! Whether a distribution installs from a wheel on this interpreter and platform, asked
//! cheaply: one run of the interpreter that will make the venv, which reads its own wheel
//! tags (`packaging.tags`, or pip's copy of it) and asks PyPI's JSON API once per name for
//! the files of the latest release, 5 s at most each. Anything that stops it from telling
//! (no network, an index other than PyPI, no `packaging`) is an answer too, with the reason.

use std::path::Path;

use crate::args;
use crate::base::process::{CommandFailed, Runner};
use crate::base::ui::Printer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wheel {
    /// The latest release has a wheel for these tags (`cp311-cp311-manylinux_2_17_x86_64`).
    Fits { version: String, tag: String },
    /// The latest release has no wheel for this interpreter, whose most specific tag is
    /// `tag`: the installer builds it from source.
    None { version: String, tag: String },
    /// Why pybuild cannot tell.
    Unknown(String),
}

/// The interpreter's most specific tag, then one line per name: `name TAB verdict TAB
/// version TAB tag`, verdict being `fits`, `none` or `unknown` (then the reason).
const SCRIPT: &str = r#"
import json, sys, urllib.request
try:
    from packaging import tags
except ImportError:
    try:
        from pip._vendor.packaging import tags
    except ImportError:
        tags = None
names = sys.argv[1:]
if tags is None:
    for name in names:
        print(name, "unknown", "the interpreter has neither packaging nor pip to tell its wheel tags", sep="\t")
    sys.exit()
supported = [str(t) for t in tags.sys_tags()]
order = {t: i for i, t in enumerate(supported)}
for name in names:
    url = "https://pypi.org/pypi/%s/json" % name
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.load(response)
    except Exception as e:
        print(name, "unknown", "cannot ask PyPI (%s)" % e, sep="\t")
        continue
    version = data["info"]["version"]
    best = None
    for f in data["urls"]:
        filename = f["filename"]
        if f.get("yanked") or not filename.endswith(".whl"):
            continue
        py, abi, plat = filename[:-4].split("-")[-3:]
        for tag in ("%s-%s-%s" % t for t in ((p, a, o) for p in py.split(".") for a in abi.split(".") for o in plat.split("."))):
            if tag in order and (best is None or order[tag] < order[best]):
                best = tag
    print(name, "fits" if best else "none", version, best or supported[0], sep="\t")
"#;

/// What `python` would install for each of `names` (distribution names), run in the
/// project's directory `dir` (an interpreter found on PATH may be a shim that picks the
/// version by the directory's `.python-version`). Never fails: a failure to ask is
/// [`Wheel::Unknown`], its reason on one line.
pub(crate) fn lookup(
    python: &Path,
    dir: &Path,
    names: &[&str],
    printer: &Printer,
) -> Vec<(String, Wheel)> {
    let unknown = |why: String| {
        names
            .iter()
            .map(|name| (name.to_string(), Wheel::Unknown(why.clone())))
            .collect()
    };
    if let Some(index) = other_index() {
        return unknown(format!("pybuild asks PyPI only, and the index is {index}"));
    }
    // Not in the project: `.pybuild/` is made by the first build, not by `init`.
    let Ok(scratch) = tempfile::tempdir() else {
        return unknown("no temporary directory to run the interpreter in".into());
    };
    let runner = Runner::new(scratch.path(), scratch.path(), scratch.path(), printer);
    let mut arguments = args!["-c", SCRIPT].to_vec();
    arguments.extend(names.iter().map(Into::into));
    let output = match runner.capture_in(dir, python, &arguments) {
        Ok(output) => output,
        Err(err) => {
            let said = err
                .downcast_ref::<CommandFailed>()
                .and_then(|failed| failed.tail.iter().rev().find(|l| !l.trim().is_empty()))
                .map(|line| format!(": {}", line.trim()))
                .unwrap_or_default();
            return unknown(one_line(&format!(
                "{} failed: {err:#}{said}",
                python.display()
            )));
        }
    };
    let mut answers = parse(&output);
    for name in names {
        if !answers.iter().any(|(n, _)| n == name) {
            answers.push((
                name.to_string(),
                Wheel::Unknown("the interpreter did not answer".into()),
            ));
        }
    }
    answers
}

/// `text` with every run of whitespace, line breaks included, as one space: a reason
/// ends up in a one-line comment of `project.toml`.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse(output: &str) -> Vec<(String, Wheel)> {
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let wheel = match fields[..] {
                [_, "fits", version, tag] => Wheel::Fits {
                    version: version.into(),
                    tag: tag.into(),
                },
                [_, "none", version, tag] => Wheel::None {
                    version: version.into(),
                    tag: tag.into(),
                },
                [_, "unknown", why] => Wheel::Unknown(one_line(why)),
                _ => return None,
            };
            Some((fields[0].to_string(), wheel))
        })
        .collect()
}

/// The package index the installers are told to use instead of PyPI, if any.
fn other_index() -> Option<String> {
    ["UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|url| !url.is_empty() && !url.contains("://pypi.org/"))
        .map(|url| crate::base::redact::redact(&url).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scripts_answers() {
        let output = "lxml\tfits\t5.3.0\tcp311-cp311-manylinux_2_17_x86_64\n\
                      python-ldap\tnone\t3.4.4\tcp311-cp311-manylinux_2_36_x86_64\n\
                      pyodbc\tunknown\tcannot ask PyPI (timed out)\n";
        assert_eq!(
            parse(output),
            [
                (
                    "lxml".into(),
                    Wheel::Fits {
                        version: "5.3.0".into(),
                        tag: "cp311-cp311-manylinux_2_17_x86_64".into()
                    }
                ),
                (
                    "python-ldap".into(),
                    Wheel::None {
                        version: "3.4.4".into(),
                        tag: "cp311-cp311-manylinux_2_36_x86_64".into()
                    }
                ),
                (
                    "pyodbc".into(),
                    Wheel::Unknown("cannot ask PyPI (timed out)".into())
                ),
            ]
        );
    }
}
