//! `[apps.NAME]`: the settings of one app of a uv workspace. Each holds tables named like
//! the top-level sections an app's build reads (`bundle`, `image`, `deploy`), merged over
//! them key by key, so that what all apps share is written once at the top.
//! [`Config::for_app`] makes the configuration one app is built with, checked as the
//! whole file is.

use super::error::ConfigError;
use super::schema::Config;
use super::source::At;
use crate::base::distribution_name::normalize;

impl Config {
    /// The key of `[apps.NAME]` that names `app` (any spelling of the distribution name).
    pub(crate) fn app_key(&self, app: &str) -> Option<&str> {
        let app = normalize(app);
        self.apps
            .keys()
            .find(|key| normalize(key) == app)
            .map(String::as_str)
    }

    /// The configuration the app `app` (a workspace member's distribution name) is built
    /// with: this one, its `[project] name` the app's, its `[apps.NAME]` tables merged over
    /// the top-level sections. An error in the merged sections is said at `[apps.NAME]`.
    pub(crate) fn for_app(&self, app: &str) -> Result<Config, ConfigError> {
        let mut merged = toml::Table::try_from(self).map_err(|err| {
            self.error_at(At::Key(&["project"]), format!("cannot serialise: {err}"))
        })?;
        merged.remove("apps");
        let key = self.app_key(app);
        if let Some(section) = key.and_then(|key| self.apps.get(key)) {
            let sections = [
                ("bundle", &section.bundle),
                ("image", &section.image),
                ("deploy", &section.deploy),
            ];
            for (name, table) in sections {
                if let Some(table) = table {
                    let into = merged
                        .entry(name)
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    if let toml::Value::Table(into) = into {
                        merge(into, table);
                    }
                }
            }
        }
        if let Some(toml::Value::Table(project)) = merged.get_mut("project") {
            project.insert("name".into(), toml::Value::String(app.to_string()));
        }
        let text = toml::to_string(&merged).map_err(|err| {
            self.error_at(At::Key(&["project"]), format!("cannot serialise: {err}"))
        })?;
        let mut config = Config::parse(&self.source.file, &text).map_err(|err| {
            let path = ["apps", key.unwrap_or_default()];
            let at = match key {
                Some(_) => At::Key(&path),
                None => At::Key(&["project"]),
            };
            let mut located = self.error_at(at, format!("for the app {app}: {}", err.message));
            located.hint = err.hint;
            located
        })?;
        // Later errors point into the file the user wrote, not the merged text.
        config.source = self.source.clone();
        Ok(config)
    }
}

/// `from`'s keys over `into`'s, tables merged key by key.
fn merge(into: &mut toml::Table, from: &toml::Table) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(toml::Value::Table(into)), toml::Value::Table(from)) => merge(into, from),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("project.toml"), text).unwrap()
    }

    #[test]
    fn an_apps_tables_are_merged_over_the_top_level_sections() {
        let root = config(
            "[project]\nname = \"ws\"\n\n[bundle]\nkind = \"pex\"\npex-args = [\"--no-strip\"]\n\n\
             [apps.ws-api.bundle]\nconsole-script = \"api\"\n\n[apps.Ws_Worker.image]\ntag = \"w1\"\n",
        );
        let api = root.for_app("ws-api").unwrap();
        assert_eq!(api.project.name, "ws-api");
        assert_eq!(api.bundle.console_script.as_deref(), Some("api"));
        assert_eq!(api.bundle.pex_args, ["--no-strip"]);
        let worker = root.for_app("ws-worker").unwrap();
        assert_eq!(worker.bundle.console_script, None);
        assert_eq!(worker.image.tag.as_deref(), Some("w1"));
        assert!(worker.apps.is_empty());
    }

    #[test]
    fn nested_tables_are_merged_key_by_key_not_replaced() {
        let root = config(
            "[project]\nname = \"ws\"\n\n[deploy.marathon]\ncpus = 0.5\ninstances = 3\n\n\
             [apps.ws-api.deploy.marathon]\ncpus = 1.0\n",
        );
        let marathon = root.for_app("ws-api").unwrap().deploy.marathon;
        assert_eq!(marathon.cpus, 1.0);
        assert_eq!(
            marathon.instances, 3,
            "the top-level key the app does not set"
        );
    }

    #[test]
    fn an_error_in_an_apps_table_is_said_at_that_table() {
        let text = "[project]\nname = \"ws\"\n\n[apps.ws-api.bundle]\npex-args = \"--no-strip\"\n";
        let root = config(text);
        let err = root.for_app("ws-api").unwrap_err();
        assert!(
            err.message.contains("for the app ws-api"),
            "{}",
            err.message
        );
        let (line, _, _) = err.location.unwrap();
        assert_eq!(line, 4, "{}", err.message);
    }

    #[test]
    fn an_unknown_section_in_an_app_is_refused_where_it_is() {
        let text = "[project]\nname = \"ws\"\n\n[apps.ws-api.env]\npath = \".v\"\n";
        let err = Config::parse(Path::new("project.toml"), text).unwrap_err();
        assert!(
            err.message.contains("unknown field `env`"),
            "{}",
            err.message
        );
    }
}
