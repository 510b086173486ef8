//! `project.toml`: its schema, defaults and validation.
//!
//! Every key has a default except `[project] name`, so a file holding only that works.
//! Unknown keys, wrong types and bad values are [`ConfigError`]s that point at the file, line
//! and column and, for a misspelt key or value, name the nearest valid one.
//!
//! `schema` is the sections' types; `load` reads and parses the file; `validate` and
//! `task_check` make the checks serde's types cannot (`cycle`: cycles among tasks' deps),
//! `value_check` those of each value's own text (`ship_check`: `[image]` and `[deploy]`;
//! `names`: the shapes of names and labels);
//! `source` finds a place in the file and `error` renders what fails there; `task` is
//! `[tasks.NAME]` and the names a task may not take. This file only declares and
//! re-exports: the children import each other, never it.

mod apps;
mod cache;
mod cycle;
mod deploy;
mod error;
mod image;
mod load;
mod names;
mod schema;
mod ship_check;
mod source;
pub(crate) mod task;
mod task_check;
mod validate;
mod value_check;

pub(crate) use cache::{CacheSection, PublicKey, is_key_name, public_key};
pub(crate) use error::{ConfigError, nearest};
pub(crate) use image::ImageSection;
pub(crate) use load::FILE_NAME;
pub(crate) use schema::{Config, DevelopMode, Installer, Strategy, WatchSection};
pub(crate) use source::At;
pub(crate) use task::{TaskConfig, TaskRun};
pub(crate) use validate::is_inside;
