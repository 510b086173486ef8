//! Reading `project.toml` into a [`Config`]: the file must be UTF-8 and parse against the
//! schema; toml's error is located in the text and, for an unknown key or value, hinted
//! with the nearest valid name. What parses is then validated: its sections (`validate`),
//! then its tasks (`task_check`), then each value's text (`value_check`).

use std::path::Path;

use super::error::{ConfigError, nearest};
use super::schema::Config;
use super::source::Source;
use super::{task_check, validate, value_check};

/// The name of the file a project is configured in, at its root.
pub(crate) const FILE_NAME: &str = "project.toml";

impl Config {
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|err| ConfigError {
            file: path.to_path_buf(),
            message: format!("cannot read: {err}"),
            location: None,
            hint: None,
        })?;
        let source = String::from_utf8(bytes).map_err(|err| {
            let at = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes());
            // The lossy text has the same bytes before the first invalid one.
            ConfigError::at(
                path,
                &text,
                Some(at..at + 1),
                "not valid UTF-8 (TOML files are UTF-8)".into(),
            )
        })?;
        Config::parse(path, &source)
    }

    pub(crate) fn parse(path: &Path, source: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(source).map_err(|err| {
            let message = err.message().trim().to_string();
            let hint = nearest_name_hint(&message);
            ConfigError {
                hint,
                ..ConfigError::at(path, source, err.span(), message)
            }
        })?;
        config.source = Source::new(path, source);
        validate::validate(&config)?;
        task_check::validate(&config)?;
        value_check::validate(&config)?;
        Ok(config)
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and "unknown variant"),
/// suggest the expected name closest to the unknown one.
fn nearest_name_hint(message: &str) -> Option<String> {
    let (kind, rest) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).map(|rest| (*prefix, rest)))?;
    let (unknown, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let what = if kind.contains("field") {
        "key"
    } else {
        "value"
    };
    match nearest(unknown, &candidates) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !candidates.is_empty() => Some(format!(
            "valid {what}s here: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}

/// For the tests of this folder: `project.toml` holding `source`.
#[cfg(test)]
pub(super) fn parse_text(source: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("project.toml"), source)
}

/// For the tests of this folder: a minimal `project.toml` ending with `tasks`.
#[cfg(test)]
pub(super) fn parse_tasks(tasks: &str) -> Result<Config, ConfigError> {
    parse_text(&format!("[project]\nname = \"app\"\n\n{tasks}"))
}

#[cfg(test)]
mod tests {

    use super::parse_text as parse;

    #[test]
    fn misspelt_key_names_place_and_nearest_key() {
        let err = parse("[project]\nname = \"app\"\n\n[env]\ntols = [\"flake8\"]\n").unwrap_err();
        let (line, column, text) = err.location.clone().unwrap();
        assert_eq!((line, column), (5, 1));
        assert_eq!(text, "tols = [\"flake8\"]");
        assert_eq!(err.hint.as_deref(), Some("did you mean `tools`?"));
        assert!(
            err.to_string()
                .starts_with("project.toml:5:1: unknown field `tols`")
        );
    }

    #[test]
    fn wrong_type_is_located() {
        let err = parse("[project]\nname = \"app\"\n[env]\ntools = \"flake8\"\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 4);
        assert!(err.message.contains("sequence"), "{}", err.message);
    }

    #[test]
    fn bad_enum_value_suggests() {
        let err = parse("[project]\nname = \"a\"\n[develop]\nmode = \"pipp\"\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `pip`?"));
    }
}
