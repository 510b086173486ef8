//! The checks of each value's own text, made when the configuration loads: what becomes a
//! path, an argument, an environment variable, a file name, a DNS label or an id must be
//! one (see `names`), or it is refused at its place in project.toml. Nothing may hold a
//! NUL byte (no path, argument or environment can), a path or name no control or line
//! separator, an environment value no line break; numbers must mean something (`cpus`
//! finite and positive, a port not 0), and what names a program must not be empty.

use std::collections::BTreeMap;

use super::error::ConfigError;
use super::names::{
    forbidden_in, is_dns_label, is_env_name, is_image_name, is_label_key, is_label_value,
    is_marathon_id, is_tag, line_break_in,
};
use super::schema::Config;
use super::source::At;
use super::task::TaskRun;

/// The service types a Kubernetes Service can have.
const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

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

struct Check<'a> {
    config: &'a Config,
}

impl Check<'_> {
    fn fail(&self, at: At, message: String) -> ConfigError {
        self.config.error_at(at, message)
    }

    /// A path, a name or a one-line value: no control character or line separator.
    fn plain(&self, at: At, key: &str, text: &str) -> Result<(), ConfigError> {
        match forbidden_in(text) {
            Some(c) => Err(self.fail(
                at,
                format!("`{key}` holds the control character {c:?}: it must be one plain line"),
            )),
            None => Ok(()),
        }
    }

    fn plain_all(&self, keys: &[&str], key: &str, items: &[String]) -> Result<(), ConfigError> {
        for (index, item) in items.iter().enumerate() {
            self.plain(At::Item(keys, index), key, item)?;
        }
        Ok(())
    }

    /// What names a program or a place: not empty, no blank around it.
    fn word(&self, at: At, key: &str, text: &str) -> Result<(), ConfigError> {
        if text.trim().is_empty() || text.trim() != text {
            return Err(self.fail(
                at,
                format!("`{key}` must be a name without blanks around it, not `{text}`"),
            ));
        }
        self.plain(at, key, text)
    }

    fn port(&self, keys: &[&str], key: &str, port: Option<u16>) -> Result<(), ConfigError> {
        if port == Some(0) {
            return Err(self.fail(
                At::Value(keys),
                format!("`{key}` must be a TCP port from 1 to 65535, not 0"),
            ));
        }
        Ok(())
    }

    /// An environment: names without `=`, values of one line.
    fn environment(
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
    fn labels(
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

    fn image(&self) -> Result<(), ConfigError> {
        let image = &self.config.image;
        match &image.name {
            Some(name) if !is_image_name(name) => {
                return Err(self
                    .fail(
                        At::Value(&["image", "name"]),
                        format!(
                            "`image.name`: `{}` cannot name an image: it must be lowercase letters and \
                             digits joined by `.`, `_`, `__` or `-` (an image name and a file name)",
                            name.escape_debug()
                        ),
                    )
                    .hint("write it like `my-app`"));
            }
            Some(_) => {}
            // The default, made of the project's name (`image::name` in the steps), checked
            // here when the file configures an image or a deployment (the steps check it
            // again): a project that ships none may have any distribution name.
            None if self.config.source.writes(&["image"])
                || self.config.source.writes(&["deploy"]) =>
            {
                let derived = self.image_name();
                if !is_image_name(&derived) {
                    return Err(self
                        .fail(
                            At::Value(&["project", "name"]),
                            format!(
                                "the image's name would be `{derived}`, which is no image name"
                            ),
                        )
                        .hint("set `name` in `[image]`, like `my-app`"));
                }
            }
            None => {}
        }
        if let Some(tag) = &image.tag
            && !is_tag(tag)
        {
            return Err(self.fail(
                At::Value(&["image", "tag"]),
                format!(
                    "`image.tag` must be letters, digits, `_`, `.` and `-` (not first), at most 128, not `{}`",
                    tag.escape_debug()
                ),
            ));
        }
        if let Some(base) = &image.base {
            self.word(At::Value(&["image", "base"]), "image.base", base)?;
        }
        self.word(
            At::Value(&["image", "python"]),
            "image.python",
            &image.python,
        )?;
        let pex_root = &image.pex_root;
        if !pex_root.starts_with('/') || pex_root.split('/').any(|part| part == "..") {
            return Err(self.fail(
                At::Value(&["image", "pex-root"]),
                format!("`image.pex-root` must be an absolute path in the image, without `..`, not `{pex_root}`"),
            ));
        }
        self.plain(
            At::Value(&["image", "pex-root"]),
            "image.pex-root",
            pex_root,
        )?;
        self.environment(&["image", "env"], "image.env", &image.env)?;
        self.port(&["image", "port"], "image.port", image.port)?;
        self.labels(&["image", "labels"], "image.labels", &image.labels)
    }

    /// The image's name: `[image] name`, else made of the project's name as the steps
    /// make it (`image::name`).
    fn image_name(&self) -> String {
        match &self.config.image.name {
            Some(name) => name.clone(),
            None => self.config.project.name.to_lowercase().replace('_', "-"),
        }
    }

    /// A deploy target's `key` left to its default, `name`, made of the image's name:
    /// checked when the file writes the target's table (there, it is what ships).
    fn derived(
        &self,
        target: &str,
        key: &str,
        name: String,
        valid: bool,
    ) -> Result<(), ConfigError> {
        if valid || !self.config.source.writes(&["deploy", target]) {
            return Ok(());
        }
        let what = match target {
            "marathon" => "Marathon id",
            _ => "DNS label",
        };
        Err(self
            .fail(
                At::Key(&["deploy", target]),
                format!(
                    "`deploy.{target}.{key}` would be `{name}`, made of the image's name, which is no {what}"
                ),
            )
            .hint(format!("set `{key}` in `[deploy.{target}]`")))
    }

    fn deploy(&self) -> Result<(), ConfigError> {
        let deploy = &self.config.deploy;
        let marathon = &deploy.marathon;
        if marathon.id.is_none() {
            let id = format!("/{}", self.image_name());
            let valid = is_marathon_id(&id);
            self.derived("marathon", "id", id, valid)?;
        }
        if deploy.kubernetes.name.is_none() {
            let name = self.image_name();
            let valid = is_dns_label(&name);
            self.derived("kubernetes", "name", name, valid)?;
        }
        if let Some(id) = &marathon.id
            && !is_marathon_id(id)
        {
            return Err(self
                .fail(
                    At::Value(&["deploy", "marathon", "id"]),
                    format!(
                        "`deploy.marathon.id` must be a Marathon id: `/`-separated lowercase names, not `{}`",
                        id.escape_debug()
                    ),
                )
                .hint("write it like `/team/my-app`"));
        }
        if let Some(url) = &marathon.url {
            self.word(
                At::Value(&["deploy", "marathon", "url"]),
                "deploy.marathon.url",
                url,
            )?;
        }
        if !marathon.cpus.is_finite() || marathon.cpus <= 0.0 {
            return Err(self.fail(
                At::Value(&["deploy", "marathon", "cpus"]),
                format!(
                    "`deploy.marathon.cpus` must be a number above 0, not {}",
                    marathon.cpus
                ),
            ));
        }
        if marathon.mem == 0 {
            return Err(self.fail(
                At::Value(&["deploy", "marathon", "mem"]),
                "`deploy.marathon.mem` must be above 0 (MiB)".into(),
            ));
        }
        let health = &marathon.health_path;
        if !health.is_empty() && !health.starts_with('/') {
            return Err(self.fail(
                At::Value(&["deploy", "marathon", "health-path"]),
                format!("`deploy.marathon.health-path` must start with `/` (or be \"\" for none), not `{health}`"),
            ));
        }
        self.plain(
            At::Value(&["deploy", "marathon", "health-path"]),
            "deploy.marathon.health-path",
            health,
        )?;
        self.environment(
            &["deploy", "marathon", "env"],
            "deploy.marathon.env",
            &marathon.env,
        )?;
        self.labels(
            &["deploy", "marathon", "labels"],
            "deploy.marathon.labels",
            &marathon.labels,
        )?;

        let kubernetes = &deploy.kubernetes;
        if let Some(name) = &kubernetes.name
            && !is_dns_label(name)
        {
            return Err(self
                .fail(
                    At::Value(&["deploy", "kubernetes", "name"]),
                    format!(
                        "`deploy.kubernetes.name` must be a DNS label (at most 63 lowercase letters, \
                         digits and `-`, starting and ending with a letter or digit), not `{}`",
                        name.escape_debug()
                    ),
                )
                .hint("write it like `my-app`"));
        }
        if let Some(image) = &kubernetes.image {
            self.word(
                At::Value(&["deploy", "kubernetes", "image"]),
                "deploy.kubernetes.image",
                image,
            )?;
        }
        self.port(
            &["deploy", "kubernetes", "port"],
            "deploy.kubernetes.port",
            kubernetes.port,
        )?;
        self.word(
            At::Value(&["deploy", "kubernetes", "cpu"]),
            "deploy.kubernetes.cpu",
            &kubernetes.cpu,
        )?;
        self.word(
            At::Value(&["deploy", "kubernetes", "memory"]),
            "deploy.kubernetes.memory",
            &kubernetes.memory,
        )?;
        if !SERVICE_TYPES.contains(&kubernetes.service_type.as_str()) {
            return Err(self.fail(
                At::Value(&["deploy", "kubernetes", "service-type"]),
                format!(
                    "`deploy.kubernetes.service-type` must be one of {}, not `{}`",
                    SERVICE_TYPES.join(", "),
                    kubernetes.service_type.escape_debug()
                ),
            ));
        }
        for (key, value) in &kubernetes.labels {
            let keys = ["deploy", "kubernetes", "labels", key.as_str()];
            if !is_label_key(key) {
                return Err(self.fail(
                    At::Key(&keys),
                    format!(
                        "`{}` is no Kubernetes label name: an optional DNS prefix and `/`, then at most \
                         63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit",
                        key.escape_debug()
                    ),
                ));
            }
            if !is_label_value(value) {
                return Err(self.fail(
                    At::Value(&keys),
                    format!(
                        "`{}` is no Kubernetes label value: at most 63 letters, digits, `-`, `_`, `.`, \
                         starting and ending with a letter or digit",
                        value.escape_debug()
                    ),
                ));
            }
        }

        let spark = &deploy.spark;
        self.word(
            At::Value(&["deploy", "spark", "master"]),
            "deploy.spark.master",
            &spark.master,
        )?;
        if let Some(main) = &spark.main {
            self.plain(
                At::Value(&["deploy", "spark", "main"]),
                "deploy.spark.main",
                main,
            )?;
        }
        for (key, value) in &spark.conf {
            let keys = ["deploy", "spark", "conf", key.as_str()];
            if !is_env_name(key) {
                return Err(self.fail(
                    At::Key(&keys),
                    format!(
                        "`{}` is no Spark property name: it has no `=`, space or control character",
                        key.escape_debug()
                    ),
                ));
            }
            if let Some(c) = line_break_in(value) {
                return Err(self.fail(
                    At::Value(&keys),
                    format!(
                        "`deploy.spark.conf.{key}` holds {c:?}: a property's value is one line"
                    ),
                ));
            }
        }
        for (target, template) in [
            ("marathon", &marathon.template),
            ("kubernetes", &kubernetes.template),
            ("spark", &spark.template),
        ] {
            if let Some(template) = template {
                self.plain(
                    At::Value(&["deploy", target, "template"]),
                    &format!("deploy.{target}.template"),
                    template,
                )?;
            }
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
