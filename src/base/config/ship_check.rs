//! The checks of `[image]` and `[deploy.TARGET]` values (see `value_check`): what becomes
//! an image name and file name, a tag, a Marathon id, a Kubernetes name or label, a Spark
//! property, or a port, must be one (`names`), or it is refused at its place in
//! project.toml. A name left to its default, made of the project's, is checked when the
//! file writes the table that ships it.

use super::error::ConfigError;
use super::names::{
    is_dns_label, is_env_name, is_image_name, is_label_key, is_label_value, is_marathon_id, is_tag,
    line_break_in,
};
use super::source::At;
use super::value_check::Check;

/// The service types a Kubernetes Service can have.
const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

impl Check<'_> {
    pub(super) fn image(&self) -> Result<(), ConfigError> {
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
        if image.user == u32::MAX {
            // (uid_t)-1 is "no change" to setuid and chown: it names no user.
            return Err(self.fail(
                At::Value(&["image", "user"]),
                format!(
                    "`image.user` must be a uid from 0 to {}, not {}",
                    u32::MAX - 1,
                    image.user
                ),
            ));
        }
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

    pub(super) fn deploy(&self) -> Result<(), ConfigError> {
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
}
