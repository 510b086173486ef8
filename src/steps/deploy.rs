//! The deploy steps: descriptors that take the bundle where it runs, written into `dist/`
//! from templates, every value from `[deploy.TARGET]` (and `[image]`, `[project]`) with a
//! default. One step per target, each cached like any other:
//!
//! - `deploy-marathon`: `dist/<name>.marathon.json`, a Marathon app whose agents fetch the
//!   bundle and run it (`$PORT0`, cpus, mem, instances, a health check, env, labels);
//! - `deploy-kubernetes`: `dist/<name>.kubernetes.yaml`, a Deployment of the image (after
//!   the `image` step) with `PEX_ROOT` on a volume, and a Service;
//! - `deploy-spark`: `dist/<name>.spark-submit.sh` and the driver script it submits,
//!   `dist/<name>.spark-main.py` (`[deploy.spark] main`, or one running the bundle's entry
//!   point). The executors run the bundle itself as their Python, so it must take pyspark
//!   from the cluster: the bundle is refused unless built with `--inherit-path=fallback`
//!   and without `--venv` (a venv PEX sees nothing of the interpreter that runs it).
//!
//! The built-in templates are `templates/deploy/` in pybuild's repository, compiled in;
//! `[deploy.TARGET] template` replaces one with the project's own file (read like
//! `[deploy.spark] main` by `paths::read_configured`: a regular file inside the project,
//! 1 MiB at most). A template holds `{{name}}` placeholders, each replaced by a value
//! written for the template's format (see [`Format`]): JSON for `.json`, as a YAML flow
//! value for `.yaml`, as a Python literal for `.py`, everything outside printable ASCII
//! escaped; shell words for `.sh`, quoted whole. No value can change a descriptor's
//! structure, and none goes in a comment. A placeholder the target has no value for is an
//! error naming the template.
//!
//! The descriptors are named after the image, and written by `base::outputs` (in `dist/`,
//! whole, with the umask's modes).
//!
//! Fingerprint: the section, the template's text, the values, the bundle (and for
//! Kubernetes the image's tag).

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use crate::base::error::UserError;
use crate::base::paths;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::{Prepared, Step};
use crate::python::build::Build;
use crate::steps::bundle::Bundle;
use crate::steps::image;
use crate::steps::push;

/// Where a deploy step takes the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Marathon,
    Kubernetes,
    Spark,
}

impl Target {
    /// The name `pybuild deploy` takes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Target::Marathon => "marathon",
            Target::Kubernetes => "kubernetes",
            Target::Spark => "spark",
        }
    }

    /// The step's name.
    pub(crate) fn step(self) -> &'static str {
        match self {
            Target::Marathon => "deploy-marathon",
            Target::Kubernetes => "deploy-kubernetes",
            Target::Spark => "deploy-spark",
        }
    }

    /// The built-in template: its file name and text.
    fn template(self) -> (&'static str, &'static str) {
        match self {
            Target::Marathon => (
                "marathon.json",
                include_str!("../../templates/deploy/marathon.json"),
            ),
            Target::Kubernetes => (
                "kubernetes.yaml",
                include_str!("../../templates/deploy/kubernetes.yaml"),
            ),
            Target::Spark => (
                "spark-submit.sh",
                include_str!("../../templates/deploy/spark-submit.sh"),
            ),
        }
    }
}

/// The driver script written for a Spark job without `[deploy.spark] main`.
const SPARK_MAIN: &str = include_str!("../../templates/deploy/spark-main.py");

pub(crate) struct Deploy(pub(crate) Target);

/// What one run writes: each file, relative to the root, and its text.
type Files = Vec<(String, String)>;

impl<'a> Step<Build<'a>> for Deploy {
    fn name(&self) -> &str {
        self.0.step()
    }

    fn deps(&self) -> Vec<String> {
        match self.0 {
            Target::Kubernetes => vec!["image".into()],
            Target::Marathon | Target::Spark => vec!["bundle".into()],
        }
    }

    /// It writes only its outputs (nothing in the venv).
    fn keeps_derived(&self) -> bool {
        true
    }

    fn preflight(&self, cx: &mut Build) -> Result<()> {
        template(cx, self.0)?;
        if self.0 == Target::Spark {
            spark_main(cx)?;
        }
        for key in outputs(&cx.project.config, self.0) {
            image::named_output(cx, self.0.step(), &key)?;
        }
        Ok(())
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        Ok(self.prepare(cx)?.fingerprint)
    }

    /// The fingerprint, and the job that renders the template and values it read (read
    /// once: a warning about a value is given once).
    fn prepare<'s>(&'s self, cx: &mut Build<'a>) -> Result<Prepared<'s, Build<'a>>> {
        let target = self.0;
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("section", section(cx, target)?);
        let template = template(cx, target)?;
        fingerprint.part("template", format!("{}\n{}", template.0, template.1));
        let values = values(cx, target)?;
        fingerprint.part("values", serde_json::to_string(&values)?);
        let bundle = Bundle::output(cx)?;
        let mut files = vec![bundle];
        if let (Target::Spark, Some(main)) = (target, &cx.project.config.deploy.spark.main) {
            files.push(main.clone());
        }
        cx.add_files(&mut fingerprint, &files)?;
        Ok(Prepared::new(fingerprint, move |cx| {
            let files = render_all(cx, target, &template, &values)?;
            for (key, text) in &files {
                let (writer, output) = image::named_output(cx, target.step(), key)?;
                writer.write(&output, text.as_bytes(), Format::of(key) == Format::Shell)?;
            }
            Ok(files.into_iter().map(|(key, _)| key).collect())
        }))
    }

    fn summary(&self, cx: &Build) -> String {
        format!(" → {}", output(&cx.project.config, self.0))
    }

    fn run(&self, cx: &mut Build<'a>) -> Result<Vec<String>> {
        let job = self.prepare(cx)?.job;
        job(cx)
    }
}

/// Every file a target writes, relative to the root.
fn outputs(config: &crate::base::config::Config, target: Target) -> Vec<String> {
    let mut keys = vec![output(config, target)];
    if target == Target::Spark {
        keys.push(spark_main_path(config));
    }
    keys
}

/// The Spark driver script's path, relative to the root.
fn spark_main_path(config: &crate::base::config::Config) -> String {
    format!("dist/{}.spark-main.py", image::name(config))
}

/// The text of `[deploy.spark] main`, if set: a file of the project, read with a cap.
fn spark_main(cx: &Build) -> Result<Option<String>> {
    let Some(main) = &cx.project.config.deploy.spark.main else {
        return Ok(None);
    };
    let text = paths::read_configured(
        &cx.project.root,
        main,
        "[deploy.spark] main",
        paths::CONFIGURED_FILE_CAP,
    )
    .map_err(UserError::usage)?;
    Ok(Some(text))
}

/// The descriptor a target writes, relative to the root.
pub(crate) fn output(config: &crate::base::config::Config, target: Target) -> String {
    let name = image::name(config);
    match target {
        Target::Marathon => format!("dist/{name}.marathon.json"),
        Target::Kubernetes => format!("dist/{name}.kubernetes.yaml"),
        Target::Spark => format!("dist/{name}.spark-submit.sh"),
    }
}

fn section(cx: &Build, target: Target) -> Result<String> {
    let deploy = &cx.project.config.deploy;
    Ok(match target {
        Target::Marathon => serde_json::to_string(&deploy.marathon)?,
        Target::Kubernetes => serde_json::to_string(&deploy.kubernetes)?,
        Target::Spark => serde_json::to_string(&deploy.spark)?,
    })
}

/// The template's name and text: the project's own (`[deploy.TARGET] template`), else
/// the built-in one.
fn template(cx: &Build, target: Target) -> Result<(String, String)> {
    let deploy = &cx.project.config.deploy;
    let configured = match target {
        Target::Marathon => &deploy.marathon.template,
        Target::Kubernetes => &deploy.kubernetes.template,
        Target::Spark => &deploy.spark.template,
    };
    let Some(path) = configured else {
        let (name, text) = target.template();
        return Ok((
            format!("templates/deploy/{name} (built in)"),
            text.to_string(),
        ));
    };
    let key = format!("[deploy.{}] template", target.key());
    match paths::read_configured(&cx.project.root, path, &key, paths::CONFIGURED_FILE_CAP) {
        Ok(text) => Ok((path.clone(), text)),
        Err(err) => Err(UserError::usage(err)
        .hint(format!(
            "copy the built-in one from pybuild's templates/deploy/{} and edit it, or remove `template` to use it as it is",
            target.template().0
        ))
        .into()),
    }
}

/// The bundle's path as the descriptors in `dist/` name it: relative to `dist/`.
fn bundle_from_dist(bundle: &str) -> String {
    match bundle.strip_prefix("dist/") {
        Some(rest) if !rest.contains('/') => rest.to_string(),
        _ => format!("../{bundle}"),
    }
}

/// Every value the target's template may use.
fn values(cx: &mut Build, target: Target) -> Result<BTreeMap<&'static str, Value>> {
    let config = &cx.project.config;
    let name = image::name(config);
    let bundle = Bundle::output(cx)?;
    let config = &cx.project.config;
    let mut values: BTreeMap<&'static str, Value> = BTreeMap::new();
    values.insert("name", name.clone().into());
    values.insert("pex", bundle_from_dist(&bundle).into());
    match target {
        Target::Marathon => {
            let marathon = &config.deploy.marathon;
            let url = match &marathon.url {
                Some(url) => url.clone(),
                None => {
                    cx.printer.warn("[deploy.marathon] has no `url`: the app is fetched from a file:// URL on this machine, which other agents cannot reach; set `url` to where the bundle is published");
                    format!("file://{}", cx.project.root.join(&bundle).display())
                }
            };
            let fetched = url.rsplit('/').next().unwrap_or_default().to_string();
            let mut cmd = vec![
                "PEX_ROOT=\"$MESOS_SANDBOX/.pex\"".to_string(),
                format!("./{}", shell_word(&fetched)),
            ];
            cmd.extend(marathon.args.iter().map(|a| shell_word(a)));
            let health = match marathon.health_path.as_str() {
                "" => json!([]),
                path => json!([{
                    "protocol": "MESOS_HTTP",
                    "path": path,
                    "portIndex": 0,
                    "gracePeriodSeconds": 60,
                    "intervalSeconds": 10,
                    "maxConsecutiveFailures": 3,
                }]),
            };
            let id = marathon.id.clone().unwrap_or_else(|| format!("/{name}"));
            values.insert("id", id.into());
            values.insert("url", url.into());
            values.insert("cmd", cmd.join(" ").into());
            values.insert("cpus", marathon.cpus.into());
            values.insert("mem", marathon.mem.into());
            values.insert("instances", marathon.instances.into());
            values.insert("env", json!(marathon.env));
            values.insert("labels", json!(marathon.labels));
            values.insert("health_checks", health);
        }
        Target::Kubernetes => {
            let kubernetes = config.deploy.kubernetes.clone();
            let tag = image::tag(cx)?;
            let config = &cx.project.config;
            let name = kubernetes.name.clone().unwrap_or(name);
            let selector = json!({ "app.kubernetes.io/name": name });
            let mut labels = kubernetes.labels.clone();
            labels.insert("app.kubernetes.io/name".into(), name.clone());
            labels.insert("app.kubernetes.io/version".into(), tag.clone());
            let reference = kubernetes
                .image
                .clone()
                .or_else(|| push::pushed_image(&cx.project.root, config))
                .unwrap_or_else(|| {
                    let short = format!("{}:{tag}", image::name(config));
                    cx.printer.warn(&format!("[deploy.kubernetes] has no `image` and no push is recorded: `{short}` names no registry, so the cluster pulls it from Docker Hub; set `[image] repository` and run `pybuild push`, or set `image`"));
                    short
                });
            values.insert("name", name.into());
            values.insert("image", reference.into());
            values.insert("tag", tag.into());
            values.insert("layout", image::layout_path(config).into());
            values.insert("replicas", kubernetes.replicas.into());
            values.insert(
                "port",
                kubernetes.port.or(config.image.port).unwrap_or(8080).into(),
            );
            values.insert("cpu", kubernetes.cpu.into());
            values.insert("memory", kubernetes.memory.into());
            values.insert("service_type", kubernetes.service_type.into());
            values.insert("labels", json!(labels));
            values.insert("selector", selector);
            values.insert("pex_root", config.image.pex_root.clone().into());
        }
        Target::Spark => {
            let spark = &config.deploy.spark;
            let conf: Vec<String> = spark
                .conf
                .iter()
                .flat_map(|(key, value)| ["--conf".to_string(), format!("{key}={value}")])
                .collect();
            values.insert("master", spark.master.clone().into());
            values.insert("main", format!("{name}.spark-main.py").into());
            values.insert("args", json!(spark.args));
            values.insert("conf", json!(conf));
        }
    }
    Ok(values)
}

/// Every file the target writes, rendered.
fn render_all(
    cx: &mut Build,
    target: Target,
    (template_name, text): &(String, String),
    values: &BTreeMap<&'static str, Value>,
) -> Result<Files> {
    let output = output(&cx.project.config, target);
    let format = Format::of(&output);
    let mut files = vec![(output, render(text, values, format, template_name)?)];
    if target == Target::Spark {
        let bundle = cx.project.root.join(Bundle::output(cx)?);
        let info = image::pex_info(&bundle)?;
        let inherits = info.get("inherit_path").and_then(Value::as_str) == Some("fallback");
        let venv = info.get("venv").and_then(Value::as_bool) == Some(true);
        if !inherits || venv {
            let why = match inherits {
                false => "the PEX is not built with `--inherit-path=fallback`",
                true => {
                    "the PEX is built with `--venv`, whose venv sees nothing of the interpreter running it"
                }
            };
            return Err(UserError::usage(format!(
                "the Spark job runs its bundle as the executors' Python, which must take pyspark from the cluster: {why}"
            ))
            .hint("set `pex-args = [\"--inherit-path=fallback\", \"--no-sh-boot\"]` in `[bundle]` (`--no-sh-boot` drops pybuild's default `--venv`)")
            .into());
        }
        let main_key = spark_main_path(&cx.project.config);
        let main = match spark_main(cx)? {
            Some(main) => main,
            None => {
                let Some(entry) = info.get("entry_point").and_then(Value::as_str) else {
                    return Err(UserError::usage(
                        "the bundle names no entry point for the Spark driver to call",
                    )
                    .hint("set `main` in `[deploy.spark]`: the driver script spark-submit runs")
                    .into());
                };
                let mut main_values = BTreeMap::new();
                main_values.insert("entry_point", Value::from(entry));
                render(
                    SPARK_MAIN,
                    &main_values,
                    Format::Python,
                    "templates/deploy/spark-main.py (built in)",
                )?
            }
        };
        files.push((main_key, main));
    }
    Ok(files)
}

/// How a value is written into a template. Whatever the value holds, it changes no
/// structure: every character outside printable ASCII is escaped (a line or paragraph
/// separator, NEL, DEL or a C1 control would end a YAML line or make it unparseable), and
/// a template may not put a value in a comment line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// JSON, `\uXXXX` escapes (a surrogate pair beyond the BMP).
    Json,
    /// JSON as a YAML flow value: YAML's double-quoted escapes (`\UXXXXXXXX` beyond the
    /// BMP, where YAML takes no surrogates).
    Yaml,
    /// JSON as a Python literal: Python's escapes, as YAML's.
    Python,
    /// Shell words, each single-quoted unless made only of characters no shell expands;
    /// a list gives one word per item.
    Shell,
}

impl Format {
    fn of(output: &str) -> Format {
        let extension = output.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        match extension {
            "sh" => Format::Shell,
            "yaml" | "yml" => Format::Yaml,
            "py" => Format::Python,
            _ => Format::Json,
        }
    }

    /// Whether `line` is a comment in this format.
    fn is_comment(self, line: &str) -> bool {
        self != Format::Json && line.trim_start().starts_with('#')
    }
}

/// serde_json's compact form with everything outside printable ASCII escaped.
struct Escaping {
    /// `\UXXXXXXXX` beyond the BMP (YAML, Python) rather than a surrogate pair (JSON).
    long: bool,
}

impl serde_json::ser::Formatter for Escaping {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // serde_json escapes `"`, `\\` and C0 itself, and hands the rest over here.
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                write!(writer, "{c}")?;
            } else if self.long && u32::from(c) > 0xFFFF {
                write!(writer, "\\U{:08X}", u32::from(c))?;
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04X}")?;
                }
            }
        }
        Ok(())
    }
}

/// `value` written for `format` (one of the JSON forms).
fn escaped_json(value: &Value, format: Format) -> Result<String> {
    use serde::Serialize as _;
    let mut out = Vec::new();
    let long = matches!(format, Format::Yaml | Format::Python);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, Escaping { long });
    value.serialize(&mut serializer)?;
    Ok(String::from_utf8(out)?)
}

/// `text` with each `{{name}}` replaced by its value.
fn render(
    text: &str,
    values: &BTreeMap<&'static str, Value>,
    format: Format,
    template: &str,
) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(UserError::usage(format!("{template}: a `{{{{` is never closed")).into());
        };
        let key = after[..end].trim();
        let line_start = out.rfind('\n').map_or(0, |at| at + 1);
        if format.is_comment(&out[line_start..]) {
            return Err(UserError::usage(format!(
                "{template} puts `{{{{{key}}}}}` in a comment, where a value could end the line"
            ))
            .hint("keep placeholders out of comments")
            .into());
        }
        let Some(value) = values.get(key) else {
            let known: Vec<&str> = values.keys().copied().collect();
            return Err(UserError::usage(format!(
                "{template} uses `{{{{{key}}}}}`, which this target has no value for"
            ))
            .hint(format!("its values: {}", known.join(", ")))
            .into());
        };
        out.push_str(&match format {
            Format::Shell => shell_words(value),
            Format::Json | Format::Yaml | Format::Python => escaped_json(value, format)?,
        });
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn shell_words(value: &Value) -> String {
    match value {
        Value::String(s) => shell_word(s),
        Value::Array(items) => items.iter().map(shell_words).collect::<Vec<_>>().join(" "),
        other => shell_word(&other.to_string()),
    }
}

/// `word` for a POSIX shell: bare when it holds only characters no shell treats specially
/// (and `$`, for a `$VAR` the shell expands: Marathon's `$PORT0`; `(`, `{`, quotes and
/// globs are not among them), else single-quoted whole.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:./-$".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<&'static str, Value> {
        BTreeMap::from([
            ("name", Value::from("app")),
            ("args", json!(["--port", "$PORT0", "it's"])),
            ("mem", json!(256)),
        ])
    }

    #[test]
    fn values_are_written_for_the_template_format() {
        let json = render(
            "{\"id\": {{name}}, \"mem\": {{ mem }}}",
            &values(),
            Format::Json,
            "t",
        )
        .unwrap();
        assert_eq!(json, "{\"id\": \"app\", \"mem\": 256}");
        let shell = render("run {{args}}", &values(), Format::Shell, "t").unwrap();
        assert_eq!(shell, "run --port $PORT0 'it'\\''s'");
    }

    #[test]
    fn values_change_no_structure() {
        let tricky = "a\u{2028}b\u{2029}c\u{85}d\u{7f}e\u{9b}f\"g\\h\ni😀";
        let values = BTreeMap::from([("name", Value::from(tricky))]);
        let json = render("{\"n\": {{name}}}", &values, Format::Json, "t").unwrap();
        assert!(json.bytes().all(|b| (b' '..=b'~').contains(&b)), "{json}");
        assert!(
            json.contains("\\u2028") && json.contains("\\uD83D\\uDE00"),
            "{json}"
        );
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["n"], tricky);
        let yaml = render("name: {{name}}\n", &values, Format::Yaml, "t").unwrap();
        assert!(
            yaml.contains("\\U0001F600") && yaml.lines().count() == 1,
            "{yaml}"
        );
        let err = render("a: 1\n  # for {{name}}\n", &values, Format::Yaml, "t").unwrap_err();
        assert!(err.to_string().contains("in a comment"), "{err}");
        assert!(render("# {{name}}", &values, Format::Shell, "t").is_err());
    }

    #[test]
    fn shell_words_are_quoted_unless_plain() {
        for (word, expected) in [
            ("--port", "--port"),
            ("$PORT0", "$PORT0"),
            ("a=b", "a=b"),
            ("{a,b}", "'{a,b}'"),
            ("[x]", "'[x]'"),
            ("a,b", "'a,b'"),
            ("*", "'*'"),
            ("$(id)", "'$(id)'"),
            ("~", "'~'"),
            ("", "''"),
        ] {
            assert_eq!(shell_word(word), expected, "{word}");
        }
    }

    #[test]
    fn an_unknown_placeholder_names_the_template_and_the_values() {
        let err = render("{{nope}}", &values(), Format::Json, "deploy/mine.json").unwrap_err();
        let err = err.downcast::<UserError>().unwrap();
        assert!(
            err.message.contains("deploy/mine.json uses `{{nope}}`"),
            "{}",
            err.message
        );
        assert_eq!(err.hints, ["its values: args, mem, name"]);
        assert!(render("{{name", &values(), Format::Json, "t").is_err());
    }

    /// The placeholders of `text`.
    fn placeholders(text: &str) -> Vec<&str> {
        text.split("{{")
            .skip(1)
            .filter_map(|part| part.split_once("}}").map(|(key, _)| key.trim()))
            .collect()
    }

    #[test]
    fn the_built_in_templates_use_only_the_values_their_target_has() {
        let common = ["name", "pex"];
        let known: [(Target, &[&str]); 3] = [
            (
                Target::Marathon,
                &[
                    "id",
                    "url",
                    "cmd",
                    "cpus",
                    "mem",
                    "instances",
                    "env",
                    "labels",
                    "health_checks",
                ],
            ),
            (
                Target::Kubernetes,
                &[
                    "image",
                    "tag",
                    "layout",
                    "replicas",
                    "port",
                    "cpu",
                    "memory",
                    "service_type",
                    "labels",
                    "selector",
                    "pex_root",
                ],
            ),
            (Target::Spark, &["master", "main", "args", "conf"]),
        ];
        for (target, names) in known {
            for key in placeholders(target.template().1) {
                assert!(
                    common.contains(&key) || names.contains(&key),
                    "{}: {key}",
                    target.key()
                );
            }
        }
        assert_eq!(placeholders(SPARK_MAIN), ["entry_point"]);
    }
}
