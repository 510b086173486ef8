//! The checks of each value's own text, made when the configuration loads: what becomes a
//! path, an argument, an environment variable, a file name, a DNS label or an id must be
//! one (see `names`), or it is refused at its place in project.toml. Nothing may hold a
//! NUL byte (no path, argument or environment can), a path or name no control or line
//! separator, an environment value no line break; numbers must mean something (`cpus`
//! finite and positive, a port not 0), and what names a program must not be empty.

use std::collections::BTreeMap;

use super::error::ConfigError;
use super::names::{forbidden_in, is_env_name, line_break_in};
use super::schema::Config;
use super::source::At;
use super::task::TaskRun;

/// Refuses the first value whose text cannot be what it is used as.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    if let Some((span, _)) = config.source.find_text(|text| text.contains('\0')) {
        return Err(config
            .source
            .error_in(span, "a NUL byte: no path, argument or value can hold one"));
    }
    let check = Check { config };
    check.project()?;
    check.env_and_bundle()?;
    check.image()?;
    check.deploy()?;
    check.tasks()
}

/// The checks, with the configuration they read (`ship_check` adds those of `[image]`
/// and `[deploy]`).
pub(super) struct Check<'a> {
    pub(super) config: &'a Config,
}

impl Check<'_> {
    pub(super) fn fail(&self, at: At, message: String) -> ConfigError {
        self.config.error_at(at, message)
    }

    /// A path, a name or a one-line value: no control character or line separator.
    pub(super) fn plain(&self, at: At, key: &str, text: &str) -> Result<(), ConfigError> {
        match forbidden_in(text) {
            Some(c) => Err(self.fail(
                at,
                format!(
                    "`{key}` holds {c:?}, a control character or line separator: it must be one plain line"
                ),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn plain_all(
        &self,
        keys: &[&str],
        key: &str,
        items: &[String],
    ) -> Result<(), ConfigError> {
        for (index, item) in items.iter().enumerate() {
            self.plain(At::Item(keys, index), key, item)?;
        }
        Ok(())
    }

    /// What names a program or a place: not empty, no blank around it.
    pub(super) fn word(&self, at: At, key: &str, text: &str) -> Result<(), ConfigError> {
        if text.trim().is_empty() || text.trim() != text {
            return Err(self.fail(
                at,
                format!(
                    "`{key}` must be a name without blanks around it, not `{}`",
                    text.escape_debug()
                ),
            ));
        }
        self.plain(at, key, text)
    }

    pub(super) fn port(
        &self,
        keys: &[&str],
        key: &str,
        port: Option<u16>,
    ) -> Result<(), ConfigError> {
        if port == Some(0) {
            return Err(self.fail(
                At::Value(keys),
                format!("`{key}` must be a TCP port from 1 to 65535, not 0"),
            ));
        }
        Ok(())
    }

    /// An environment: names without `=`, values of one line.
    pub(super) fn environment(
        &self,
        section: &[&str],
        what: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        for (name, value) in env {
            let keys: Vec<&str> = section.iter().copied().chain([name.as_str()]).collect();
            if !is_env_name(name) {
                return Err(self
                    .fail(
                        At::Key(&keys),
                        format!(
                            "`{what}` names the variable `{}`, which no environment can hold",
                            name.escape_debug()
                        ),
                    )
                    .hint("a variable's name has no `=`, space or control character"));
            }
            if let Some(c) = line_break_in(value) {
                return Err(self.fail(
                    At::Value(&keys),
                    format!("`{what}.{name}` holds {c:?}: an environment value is one line"),
                ));
            }
        }
        Ok(())
    }

    /// Labels: keys and values of one line, keys not empty.
    pub(super) fn labels(
        &self,
        section: &[&str],
        what: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        for (key, value) in labels {
            let keys: Vec<&str> = section.iter().copied().chain([key.as_str()]).collect();
            if key.is_empty() {
                return Err(self.fail(At::Key(&keys), format!("`{what}` has an empty label name")));
            }
            self.plain(At::Key(&keys), what, key)?;
            self.plain(At::Value(&keys), &format!("{what}.{key}"), value)?;
        }
        Ok(())
    }

    fn project(&self) -> Result<(), ConfigError> {
        let project = &self.config.project;
        if let Some(python) = &project.python {
            self.word(At::Value(&["project", "python"]), "project.python", python)?;
        }
        Ok(())
    }

    fn env_and_bundle(&self) -> Result<(), ConfigError> {
        let config = self.config;
        self.word(At::Value(&["env", "path"]), "env.path", &config.env.path)?;
        self.plain_all(
            &["env", "requirements"],
            "env.requirements",
            &config.env.requirements,
        )?;
        self.plain_all(&["env", "tools"], "env.tools", &config.env.tools)?;
        let check = &config.check;
        self.plain_all(&["check", "commands"], "check.commands", &check.commands)?;
        self.plain_all(&["check", "headers"], "check.headers", &check.headers)?;
        self.plain_all(
            &["check", "pkg-config"],
            "check.pkg-config",
            &check.pkg_config,
        )?;
        let bundle = &config.bundle;
        for (key, value) in [
            ("console-script", &bundle.console_script),
            ("output", &bundle.output),
        ] {
            if let Some(value) = value {
                self.plain(At::Value(&["bundle", key]), &format!("bundle.{key}"), value)?;
            }
        }
        self.plain_all(&["bundle", "sources"], "bundle.sources", &bundle.sources)?;
        self.plain_all(
            &["bundle", "external-links"],
            "bundle.external-links",
            &bundle.external_links,
        )?;
        if let Some(remote) = &config.cache.remote {
            self.word(At::Value(&["cache", "remote"]), "cache.remote", remote)?;
        }
        Ok(())
    }

    fn tasks(&self) -> Result<(), ConfigError> {
        for (name, task) in &self.config.tasks {
            let keys = |key: &'static str| ["tasks", name.as_str(), key];
            match &task.run {
                Some(TaskRun::Shell(line)) if line.trim().is_empty() => {
                    return Err(self
                        .fail(
                            At::Value(&keys("run")),
                            format!("`tasks.{name}.run` is empty: it would run nothing"),
                        )
                        .hint("write the command, or remove `run` and keep `deps`"));
                }
                Some(TaskRun::Argv(argvs)) => {
                    for argv in argvs {
                        if argv
                            .first()
                            .is_some_and(|program| program.trim().is_empty())
                        {
                            return Err(self.fail(
                                At::Value(&keys("run")),
                                format!(
                                    "`tasks.{name}.run` holds a command whose program is empty"
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
            if let Some(cwd) = &task.cwd {
                self.plain(At::Value(&keys("cwd")), &format!("tasks.{name}.cwd"), cwd)?;
            }
            self.plain_all(
                &keys("sources"),
                &format!("tasks.{name}.sources"),
                &task.sources,
            )?;
            self.plain_all(
                &keys("outputs"),
                &format!("tasks.{name}.outputs"),
                &task.outputs,
            )?;
            self.environment(&keys("env"), &format!("tasks.{name}.env"), &task.env)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::base::config::load::parse_text;

    fn refused(text: &str) -> (usize, usize, String) {
        let err = parse_text(&format!("[project]\nname = \"app\"\n{text}")).unwrap_err();
        let (line, column, _) = err.location.clone().expect("a place");
        (line, column, err.message)
    }

    #[test]
    fn nul_anywhere_is_refused_at_its_place() {
        let (line, column, message) = refused("[env]\ntools = [\"ok\", \"a\\u0000b\"]\n");
        assert_eq!((line, column), (4, 16));
        assert!(message.contains("NUL"), "{message}");
        assert_eq!(
            refused("[tasks.a]\nrun = \"x\"\nenv = { \"K\\u0000\" = \"v\" }\n").0,
            5
        );
    }

    #[test]
    fn values_that_cannot_be_what_they_are_used_as() {
        for (text, line, what) in [
            ("[deploy.marathon]\ncpus = nan\n", 4, "above 0"),
            ("[deploy.marathon]\ncpus = -1.0\n", 4, "above 0"),
            ("[image]\nport = 0\n", 4, "not 0"),
            ("[deploy.kubernetes]\nport = 0\n", 4, "not 0"),
            ("python = \"\"\n", 3, "project.python"),
            ("[image]\npython = \" \"\n", 4, "image.python"),
            ("[image]\nenv = { \"A=B\" = \"x\" }\n", 4, "A=B"),
            (
                "[tasks.a]\nenv = { \"A\" = \"x\\ny\" }\nrun = \"x\"\n",
                4,
                "one line",
            ),
            ("[tasks.a]\nrun = \"  \"\n", 4, "empty"),
            ("[tasks.a]\nrun = [[\"\", \"x\"]]\n", 4, "program is empty"),
            ("[env]\npath = \".venv\\n\"\n", 4, "env.path"),
            (
                "[tasks.a]\nrun = \"x\"\ncwd = \"a\\u2028b\"\n",
                5,
                "control",
            ),
        ] {
            let (found, _, message) = refused(text);
            assert_eq!(found, line, "{text}: {message}");
            assert!(message.contains(what), "{text}: {message}");
        }
    }

    #[test]
    fn names_are_checked_where_they_are_written() {
        for (text, line, what) in [
            ("[image]\nname = \"../evil\"\n", 4, "image.name"),
            ("[image]\nname = \"app\\u0085\"\n", 4, "image.name"),
            ("[image]\ntag = \"1+x\"\n", 4, "image.tag"),
            ("[deploy.kubernetes]\nname = \"My_App\"\n", 4, "DNS label"),
            ("[deploy.marathon]\nid = \"/a/../b\"\n", 4, "Marathon id"),
            (
                "[deploy.kubernetes.labels]\n\"a b\" = \"x\"\n",
                4,
                "label name",
            ),
            (
                "[deploy.kubernetes.labels]\ntier = \"x\\u007f\"\n",
                4,
                "label value",
            ),
            ("[deploy.marathon.labels]\nx = \"a\\u2029\"\n", 4, "control"),
            (
                "[deploy.spark.conf]\n\"spark.app.name=x\" = \"y\"\n",
                4,
                "Spark property",
            ),
        ] {
            let (found, _, message) = refused(text);
            assert_eq!(found, line, "{text}: {message}");
            assert!(message.contains(what), "{text}: {message}");
        }
        let err = parse_text("[project]\nname = \"a.b\"\n[deploy.kubernetes]\nreplicas = 2\n")
            .unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().0, 3);
        assert!(err.message.contains("would be `a.b`"), "{}", err.message);
        parse_text("[project]\nname = \"a.b\"\n[deploy.kubernetes]\nname = \"ab\"\n").unwrap();
        let err = parse_text("[project]\nname = \"my/app\"\n[image]\nport = 1\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 2);
        parse_text("[project]\nname = \"my/app\"\n").unwrap();
    }

    #[test]
    fn the_usual_values_pass() {
        parse_text(
            "[project]\nname = \"My_App\"\npython = \"3.11\"\n[image]\nport = 8080\n\
             env = { PYTHONUNBUFFERED = \"1\" }\nlabels = { \"org.opencontainers.image.title\" = \"x y\" }\n\
             [deploy.marathon]\nid = \"/team/my-app\"\ncpus = 0.25\nhealth-path = \"\"\n\
             [deploy.kubernetes]\nname = \"my-app\"\nlabels = { \"example.com/tier\" = \"web\", team = \"\" }\n\
             [deploy.spark.conf]\n\"spark.executor.memory\" = \"2g\"\n\
             [tasks.a]\nrun = \"echo a\\necho b\"\nenv = { A = \"tab\\there\" }\n",
        )
        .unwrap();
    }
}
