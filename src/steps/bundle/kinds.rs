//! The bundle kinds, one file each: adding a kind is its file, its `mod` line in
//! `bundle.rs` and one line in [`KINDS`].
//!
//! `[bundle] kind` is a name (`config::BundleKind`): project.toml is loaded a layer below
//! the steps and cannot know their kinds, so a name no backend answers to is refused here,
//! at its place in project.toml, when a build is planned (`graph::plan`): before any step
//! runs, as the errors found when project.toml is loaded.

use anyhow::Result;

use crate::base::config::{At, Config, nearest};
use crate::steps::bundle::backend::Backend;

/// Every kind's backend, each named by its [`Backend::name`]; the first is the default.
const KINDS: &[&dyn Backend] = &[
    &super::pex::Pex,
    &super::shiv::Shiv,
    &super::pyinstaller::PyInstaller,
    &super::zipapp::Zipapp,
];

/// The backend of `[bundle] kind`.
pub(crate) fn backend(config: &Config) -> Result<&'static dyn Backend> {
    let kind = config.bundle.kind.as_str();
    if let Some(backend) = KINDS.iter().find(|backend| backend.name() == kind) {
        return Ok(*backend);
    }
    let names: Vec<&str> = KINDS.iter().map(|backend| backend.name()).collect();
    let listed: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    let mut err = config.error_at(
        At::Value(&["bundle", "kind"]),
        format!(
            "unknown bundle kind `{kind}`, expected one of {}",
            listed.join(", ")
        ),
    );
    if let Some(best) = nearest(kind, &names) {
        err = err.hint(format!("did you mean `{best}`?"));
    }
    Err(err.into())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::base::config::ConfigError;

    fn parse(source: &str) -> Config {
        Config::parse(Path::new("project.toml"), source).unwrap()
    }

    fn config(kind: &str) -> Config {
        parse(&format!(
            "[project]\nname = \"a\"\n\n[bundle]\nkind = \"{kind}\"\n"
        ))
    }

    #[test]
    fn each_kind_is_found_by_its_name_and_the_default_is_first() {
        for kind in ["pex", "shiv", "pyinstaller", "zipapp"] {
            assert_eq!(backend(&config(kind)).unwrap().name(), kind);
        }
        for kind in KINDS {
            assert_eq!(backend(&config(kind.name())).unwrap().name(), kind.name());
        }
        let default = parse("[project]\nname = \"a\"\n");
        assert_eq!(backend(&default).unwrap().name(), KINDS[0].name());
    }

    #[test]
    fn an_unknown_kind_is_located_with_the_nearest_and_the_list() {
        let err = backend(&config("shive")).err().unwrap();
        let err = err.downcast_ref::<ConfigError>().unwrap();
        let (line, column, text) = err.location.clone().unwrap();
        assert_eq!((line, column, text.as_str()), (5, 8, "kind = \"shive\""));
        let listed: Vec<String> = KINDS.iter().map(|k| format!("`{}`", k.name())).collect();
        assert_eq!(
            err.message,
            format!(
                "unknown bundle kind `shive`, expected one of {}",
                listed.join(", ")
            )
        );
        assert!(
            err.message
                .contains("`pex`, `shiv`, `pyinstaller`, `zipapp`")
        );
        assert_eq!(err.hint.as_deref(), Some("did you mean `shiv`?"));
        let err = backend(&config("docker")).err().unwrap();
        assert_eq!(err.downcast_ref::<ConfigError>().unwrap().hint, None);
    }
}
