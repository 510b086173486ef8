//! Which of the two ways this build makes the PEX (`[bundle] strategy`): layered when
//! the project's wheel would be nothing but copies of its files and metadata, which the
//! layer reproduces; the wheel build for anything a layer cannot (compiled sources,
//! custom build steps, a build backend pybuild does not know, an editable install whose
//! layout cannot be read), which `auto` falls back to and `layered` refuses.

use std::fs;
use std::path::Path;

use anyhow::Result;

use crate::base::config::Strategy;
use crate::base::error::UserError;
use crate::python::build::Build;
use crate::python::editable::{Editable, Layout};
use crate::python::env::Env;
use crate::python::requirement::Requirement;
use crate::steps::bundle::backend::Target;

/// Build backends whose wheel of a pure-Python project is its packages plus metadata.
const PLAIN_BACKENDS: &[&str] = &[
    "setuptools.build_meta",
    "setuptools.build_meta:__legacy__",
    "hatchling.build",
    "flit_core.buildapi",
    "pdm.backend",
    "poetry.core.masonry.api",
    "uv_build",
];

/// Sources that a build compiles: their presence means the wheel holds more than copies.
/// Not Rust's or Go's: the plain backends never compile them, only a plugin that
/// `setup.py` names (`rust_extensions`, `build_golang`) or a backend of its own (maturin),
/// so such a file alone is data (pre-commit ships Go and Rust templates).
const COMPILED_SUFFIXES: &[&str] = &[
    ".c", ".cc", ".cpp", ".cxx", ".pyx", ".pxd", ".f", ".f90", ".swg",
];

/// `setup.py` words that mean a custom build.
const CUSTOM_BUILD_WORDS: &[&str] = &[
    "ext_modules",
    "Extension(",
    "cmdclass",
    "cffi_modules",
    "rust_extensions",
    "build_golang",
];

/// How this build makes the PEX.
#[derive(Debug)]
pub(super) enum Plan {
    Layered {
        editable: Editable,
        packages: Vec<(String, String)>,
        /// In a workspace, the members the app depends on, laid out as its own code.
        libs: Vec<Lib>,
        entry_point: String,
        /// Files a version hook wrote into the tree (see [`hook_outputs`]), relative to
        /// the root: the layer takes them from there.
        generated: Vec<String>,
    },
    /// The wheel build, why when `auto` chose it, and the project's requirements (from
    /// the editable install, when there is one: its closure is then taken from the venv).
    Wheel {
        why: Option<String>,
        requires: Option<Vec<String>>,
    },
}

impl Plan {
    pub(super) fn describe(&self) -> String {
        match self {
            Plan::Layered { .. } => "layered".into(),
            Plan::Wheel { why: None, .. } => "wheel".into(),
            Plan::Wheel { why: Some(why), .. } => format!("wheel ({why})"),
        }
    }
}

/// A member of the workspace an app depends on: its code goes into the layer from the
/// staged inputs, as the app's does, never from the venv (whose editable install would
/// have pex build it from the member's folder as it is when the dependencies PEX is
/// made, and keep that for as long as the venv's versions stay).
#[derive(Debug)]
pub(super) struct Lib {
    pub(super) editable: Editable,
    pub(super) packages: Vec<(String, String)>,
}

/// How this build makes the PEX: layered unless `strategy` or the project says otherwise.
pub(super) fn plan(
    cx: &Build,
    site_packages: &Path,
    target: &Target,
    files: &[String],
    stage: &Path,
) -> Result<Plan> {
    let name = &cx.project.config.project.name;
    // Read once: the layer is made from it, the wheel build takes its requirements.
    let env = cx.env_at(site_packages);
    let editable = env.editable(name, &cx.project.root).cloned();
    let requires = editable.as_ref().map(|editable| {
        let mut requires = editable.requires.clone();
        // An app's wheel is built with its members': their requirements are its own.
        if let Some(app) = &cx.project.app {
            for (lib, _) in &app.libs {
                requires.extend(
                    env.find(lib)
                        .map(|dist| dist.requires())
                        .unwrap_or_default(),
                );
            }
            requires.retain(|r| Requirement::parse(r).is_none_or(|r| !app.has_member(r.name())));
            requires.dedup();
        }
        requires
    });
    let wheel = |why| Ok(Plan::Wheel { why, requires });
    let strategy = cx.project.config.bundle.strategy;
    if strategy == Strategy::Wheel {
        return wheel(None);
    }
    let dir = cx.project.app.as_ref().map_or(".", |app| app.dir.as_str());
    let layered = editable
        .ok_or_else(|| format!("no editable install of {name} in the venv"))
        .and_then(|editable| {
            let function = target.function().map_err(|err| err.to_string())?;
            let libs = libs(cx, &env, files, stage)?;
            layer_plan(editable, function, files, stage, dir, &cx.project.root)
                .map(|plan| plan.with_libs(libs))
        });
    match (layered, strategy) {
        (Ok(plan), _) => Ok(plan),
        (Err(why), Strategy::Layered) => Err(UserError::usage(format!(
            "`[bundle] strategy = \"layered\"` in project.toml, but the project cannot be layered: {why}"
        ))
        .hint("set `strategy = \"auto\"` (or \"wheel\") to build the project's wheel instead")
        .into()),
        (Err(why), _) => wheel(Some(why)),
    }
}

/// The workspace members the app depends on, each with its layout, or why one cannot be
/// layered.
fn libs(cx: &Build, env: &Env, files: &[String], stage: &Path) -> Result<Vec<Lib>, String> {
    let Some(app) = &cx.project.app else {
        return Ok(Vec::new());
    };
    let mut libs = Vec::new();
    for (name, dir) in &app.libs {
        let editable = env
            .find(name)
            .and_then(|dist| Editable::read(dist, env.site_packages(), &cx.project.root))
            .ok_or_else(|| {
                format!("no editable install of the workspace member {name} in the venv")
            })?;
        let plan = layer_plan(editable, String::new(), files, stage, dir, &cx.project.root)
            .map_err(|why| format!("the workspace member {name}: {why}"))?;
        let Plan::Layered {
            editable,
            packages,
            generated,
            ..
        } = plan
        else {
            unreachable!("layer_plan plans layers");
        };
        if let Some(file) = generated.first() {
            return Err(format!(
                "the workspace member {name}'s build writes {file}, which a layer of an app does not take"
            ));
        }
        libs.push(Lib { editable, packages });
    }
    Ok(libs)
}

impl Plan {
    fn with_libs(mut self, with: Vec<Lib>) -> Plan {
        if let Plan::Layered { libs, .. } = &mut self {
            *libs = with;
        }
        self
    }
}

/// The layered plan for the member in `dir` (`.` for the project), or why it needs its
/// wheel built.
fn layer_plan(
    editable: Editable,
    entry_point: String,
    files: &[String],
    stage: &Path,
    dir: &str,
    root: &Path,
) -> Result<Plan, String> {
    let prefix = match dir {
        "." => String::new(),
        dir => format!("{dir}/"),
    };
    let files: Vec<&String> = files.iter().filter(|f| f.starts_with(&prefix)).collect();
    let stage = &stage.join(dir);
    if let Some(file) = files
        .iter()
        .find(|f| COMPILED_SUFFIXES.iter().any(|s| f.ends_with(s)))
    {
        return Err(format!("{file} is compiled by the project's build"));
    }
    if let Ok(setup) = fs::read_to_string(stage.join("setup.py"))
        && let Some(word) = CUSTOM_BUILD_WORDS.iter().find(|w| setup.contains(*w))
    {
        return Err(format!("setup.py uses `{word}`"));
    }
    if let Some(backend) = build_backend(stage)?
        && !PLAIN_BACKENDS.contains(&backend.as_str())
    {
        return Err(format!(
            "build backend {backend} may do more than copy files"
        ));
    }
    let packages = match &editable.layout {
        Layout::Packages(packages) => packages.clone(),
        Layout::Unknown(why) => return Err(why.clone()),
    };
    let generated: Vec<String> = hook_outputs_in(stage)?
        .into_iter()
        .map(|file| format!("{prefix}{file}"))
        .collect();
    if let Some(missing) = generated.iter().find(|file| !root.join(file).is_file()) {
        return Err(format!(
            "the build writes {missing}, which the editable install did not leave in the project"
        ));
    }
    Ok(Plan::Layered {
        editable,
        packages,
        libs: Vec::new(),
        entry_point,
        generated,
    })
}

/// `[build-system] build-backend` of the staged `pyproject.toml`, when it names one.
fn build_backend(stage: &Path) -> Result<Option<String>, String> {
    let Ok(text) = fs::read_to_string(stage.join("pyproject.toml")) else {
        return Ok(None);
    };
    let table: toml::Table = text
        .parse()
        .map_err(|err| format!("pyproject.toml does not parse: {err}"))?;
    hook_outputs(&table)?;
    Ok(table
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(|b| b.as_str())
        .map(str::to_string))
}

/// Build hooks whose only work is to write the version, from version control, into a
/// file: hatch-vcs's `vcs` hook (its `version-file`).
const VERSION_HOOKS: &[&str] = &["vcs"];

/// The files the project's build writes besides copying (relative to the root), when
/// only known version writers do: hatch-vcs's `version-file`, setuptools-scm's
/// `version_file` / `write_to`. The editable install wrote them into the tree with the
/// venv's version, so the layer takes them from there. Any other hatch build hook may
/// do more than write a file: the reason, then.
pub(super) fn hook_outputs(pyproject: &toml::Table) -> Result<Vec<String>, String> {
    let tool = pyproject.get("tool");
    let mut written = Vec::new();
    let build = tool
        .and_then(|t| t.get("hatch"))
        .and_then(|h| h.get("build"));
    let hook_tables = [
        build.and_then(|b| b.get("hooks")),
        build
            .and_then(|b| b.get("targets"))
            .and_then(|t| t.get("wheel"))
            .and_then(|w| w.get("hooks")),
    ];
    for hooks in hook_tables.into_iter().flatten() {
        let Some(hooks) = hooks.as_table() else {
            return Err("pyproject.toml configures hatch build hooks".into());
        };
        for (name, hook) in hooks {
            if !enabled(name, hook) {
                continue;
            }
            if !VERSION_HOOKS.contains(&name.as_str()) {
                return Err(format!(
                    "pyproject.toml configures the hatch build hook `{name}`, which may do more than copy files"
                ));
            }
            if let Some(file) = hook.get("version-file").and_then(|f| f.as_str()) {
                written.push(file.to_string());
            }
        }
    }
    let scm = tool.and_then(|t| t.get("setuptools_scm"));
    for key in ["version_file", "write_to"] {
        if let Some(file) = scm.and_then(|s| s.get(key)).and_then(|f| f.as_str()) {
            written.push(file.to_string());
        }
    }
    written.sort();
    written.dedup();
    Ok(written)
}

/// Whether hatch runs the build hook `name`: unless it says `enable-by-default = false`
/// and neither `HATCH_BUILD_HOOKS_ENABLE` nor `HATCH_BUILD_HOOK_ENABLE_<NAME>` turns it
/// on (isort's optional `mypyc` hook).
fn enabled(name: &str, hook: &toml::Value) -> bool {
    if hook.get("enable-by-default").and_then(toml::Value::as_bool) != Some(false) {
        return true;
    }
    let own = format!(
        "HATCH_BUILD_HOOK_ENABLE_{}",
        name.to_uppercase().replace('-', "_")
    );
    let on =
        |key: &str| std::env::var(key).is_ok_and(|value| matches!(value.as_str(), "1" | "true"));
    on("HATCH_BUILD_HOOKS_ENABLE") || on(&own)
}

/// [`hook_outputs`] of the `pyproject.toml` in `dir`; none without one.
pub(super) fn hook_outputs_in(dir: &Path) -> Result<Vec<String>, String> {
    let Ok(text) = fs::read_to_string(dir.join("pyproject.toml")) else {
        return Ok(Vec::new());
    };
    let table: toml::Table = text
        .parse()
        .map_err(|err| format!("pyproject.toml does not parse: {err}"))?;
    hook_outputs(&table)
}

/// `[build-system] requires` of the staged project (setuptools' defaults without one):
/// a wheel build needs them in the wheelhouse.
pub(super) fn build_requires(stage: &Path) -> Vec<String> {
    fs::read_to_string(stage.join("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| {
            let requires = table.get("build-system")?.get("requires")?.as_array()?;
            Some(
                requires
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect(),
            )
        })
        .unwrap_or_else(|| vec!["setuptools>=40.8.0".into(), "wheel".into()])
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn editable(layout: Layout) -> Editable {
        Editable {
            dist_info: PathBuf::from("/nonexistent/app-1.0.dist-info"),
            dist_info_name: "app-1.0.dist-info".into(),
            requires: vec!["six".into()],
            layout,
        }
    }

    #[test]
    fn hooks_off_by_default_and_version_hooks_keep_the_layer() {
        let table = |text: &str| text.parse::<toml::Table>().unwrap();
        let off =
            table("[tool.hatch.build.targets.wheel.hooks.mypyc]\nenable-by-default = false\n");
        assert_eq!(hook_outputs(&off), Ok(vec![]));
        let vcs = table(
            "[tool.hatch.build.hooks.vcs]\nversion-file = \"src/a/_v.py\"\n\
             [tool.setuptools_scm]\nwrite_to = \"a/_w.py\"\n",
        );
        assert_eq!(
            hook_outputs(&vcs),
            Ok(vec!["a/_w.py".to_string(), "src/a/_v.py".into()])
        );
        let custom = table("[tool.hatch.build.hooks.custom]\npath = \"hatch_build.py\"\n");
        assert!(hook_outputs(&custom).unwrap_err().contains("`custom`"));
    }

    #[test]
    fn go_and_rust_files_alone_are_data() {
        let stage = tempfile::tempdir().unwrap();
        let packages = Layout::Packages(vec![("app".into(), "app".into())]);
        let files = vec![
            "app/__init__.py".to_string(),
            "app/resources/main.go".into(),
            "app/resources/main.rs".into(),
        ];
        let plan = layer_plan(
            editable(packages.clone()),
            "app:main".into(),
            &files,
            stage.path(),
            ".",
            stage.path(),
        );
        assert!(matches!(plan, Ok(Plan::Layered { .. })), "{plan:?}");
        fs::write(
            stage.path().join("setup.py"),
            "setup(build_golang={'root': 'x'})",
        )
        .unwrap();
        let why = layer_plan(
            editable(packages),
            "app:main".into(),
            &files,
            stage.path(),
            ".",
            stage.path(),
        )
        .unwrap_err();
        assert!(why.contains("build_golang"), "{why}");
    }

    #[test]
    fn compiled_sources_and_custom_builds_need_the_wheel() {
        let stage = tempfile::tempdir().unwrap();
        let packages = Layout::Packages(vec![("app".into(), "src/app".into())]);
        let entry = || "app.cli:main".to_string();
        let files = vec!["src/app/__init__.py".to_string(), "src/app/fast.c".into()];
        let why = layer_plan(
            editable(packages.clone()),
            entry(),
            &files,
            stage.path(),
            ".",
            stage.path(),
        )
        .unwrap_err();
        assert!(why.contains("src/app/fast.c"), "{why}");

        let files = vec!["src/app/__init__.py".to_string()];
        fs::write(
            stage.path().join("setup.py"),
            "setup(ext_modules=[Extension('x', ['x.c'])])",
        )
        .unwrap();
        let why = layer_plan(
            editable(packages.clone()),
            entry(),
            &files,
            stage.path(),
            ".",
            stage.path(),
        )
        .unwrap_err();
        assert!(why.contains("ext_modules"), "{why}");

        fs::write(stage.path().join("setup.py"), "setup()").unwrap();
        fs::write(
            stage.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"maturin\"]\nbuild-backend = \"maturin\"\n",
        )
        .unwrap();
        let why = layer_plan(
            editable(packages.clone()),
            entry(),
            &files,
            stage.path(),
            ".",
            stage.path(),
        )
        .unwrap_err();
        assert!(why.contains("maturin"), "{why}");
        assert_eq!(build_requires(stage.path()), ["maturin"]);

        fs::remove_file(stage.path().join("pyproject.toml")).unwrap();
        let plan = layer_plan(
            editable(packages),
            entry(),
            &files,
            stage.path(),
            ".",
            stage.path(),
        )
        .unwrap();
        assert!(matches!(plan, Plan::Layered { entry_point, .. } if entry_point == "app.cli:main"));
        assert_eq!(
            build_requires(stage.path()),
            ["setuptools>=40.8.0", "wheel"]
        );
    }
}
