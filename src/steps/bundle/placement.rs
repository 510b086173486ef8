//! Where a bundle is built and written: a stage of exactly the input files in a fresh
//! `.pybuild/tmp/<pid>/`, and an output path that harms nothing of the user's.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::config::{At, Config};
use crate::base::error::UserError;
use crate::base::outputs::{Outputs, Target};
use crate::base::paths;
use crate::engine::statcache::open_regular;
use crate::engine::state::produced_outputs;
use crate::python::build::Build;

/// Where the bundle `output` (relative to the root) is written, once it is sure that
/// writing there, and `clean` removing it later, harms nothing of the user's: it is an
/// output path (`base::outputs`: inside the project, no link on the way leading out, not in
/// `.git/`, `.pybuild/` or the venv), it is not a directory, the directory it goes in
/// holds no input, and a file already there is one pybuild produced (or sits in `dist/`,
/// the bundlers' own directory). `pex-args` may not send pex's output elsewhere.
pub(super) fn output_path(cx: &mut Build, output: &str) -> Result<(Outputs, Target)> {
    let project = cx.project;
    let configured = project.config.bundle.output.is_some();
    let refuse = |message: String| -> anyhow::Error {
        if configured {
            (project.config)
                .error_at(At::Value(&["bundle", "output"]), message)
                .hint("name a new file in a directory of its own, like `dist/app.pex`")
                .into()
        } else {
            UserError::usage(message)
                .hint("set `[bundle] output` in project.toml to a file inside the project")
                .into()
        }
    };
    pex_output_args(&project.config)?;
    let dir = output.rsplit_once('/').map(|(dir, _)| format!("{dir}/"));
    let files = cx.project_files()?;
    let input = files
        .iter()
        .find(|file| dir.as_deref().is_none_or(|dir| file.starts_with(dir)));
    if let Some(input) = input {
        return Err(refuse(format!(
            "the bundle output `{output}` would be written among the project's inputs ({input} is one)"
        )));
    }
    let is_dir = paths::resolve(&project.root, output)
        .inside()
        .is_some_and(|path| path.symlink_metadata().is_ok_and(|m| m.is_dir()));
    if is_dir {
        return Err(refuse(format!(
            "the bundle output `{output}` is a directory"
        )));
    }
    let outputs = Outputs::new(project, produced_outputs(&project.state_dir(), "bundle"));
    let origin = match configured {
        true => "`[bundle] output`".to_string(),
        false => format!("the bundle's default output `{output}`"),
    };
    let target = outputs
        .target(output, &origin)
        .map_err(|err| refuse(err.message))?;
    Ok((outputs, target))
}

/// Refuses `pex-args` that would have pex write the bundle somewhere of their choosing.
pub(super) fn pex_output_args(config: &Config) -> Result<()> {
    match output_arg(&config.bundle.pex_args) {
        None => Ok(()),
        Some(arg) => Err(config
            .error_at(
                At::Value(&["bundle", "pex-args"]),
                format!("`{arg}` in `pex-args` would have pex write the bundle elsewhere: pybuild chooses where pex writes, and puts the bundle at `[bundle] output`"),
            )
            .hint("remove it, and set `output` in `[bundle]` instead")
            .into()),
    }
}

/// The argument of `pex_args` that sets pex's output file, if any: `-o`, `-oPATH`, a short
/// flag group ending in `o` (`-vo`), or `--output-file` as argparse takes it (any prefix
/// of it down to `--ou`, with or without `=PATH`).
fn output_arg(pex_args: &[String]) -> Option<&str> {
    pex_args.iter().map(String::as_str).find(|arg| {
        if let Some(long) = arg.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or_default();
            name.len() >= 2 && "output-file".starts_with(name)
        } else if let Some(short) = arg.strip_prefix('-') {
            // Flags without a value (`-v`) may come first in a group; `o` takes the rest.
            short.trim_start_matches('v').starts_with('o')
        } else {
            false
        }
    })
}

/// A fresh `.pybuild/tmp/<pid>/` for this build. What earlier builds left there is removed
/// first: we hold the project lock, so they are dead. The name is this process's own, so a
/// tool orphaned by a killed build can never write into this build's stage or output.
pub(super) fn work_dir(state_dir: &Path) -> Result<PathBuf> {
    let temp = state_dir.join("tmp");
    if temp.exists() {
        fs::remove_dir_all(&temp).with_context(|| format!("cannot empty {}", temp.display()))?;
    }
    let work = temp.join(std::process::id().to_string());
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    Ok(work)
}

/// Replaces `stage` with a copy of `files` (relative to `root`). A file that is gone, or no
/// longer a regular file, since it was listed is left out as a deleted input would be: never
/// opened in a way that blocks (a named pipe put in its place), never an error.
pub(super) fn stage_files(root: &Path, files: &[String], stage: &Path) -> Result<()> {
    if stage.exists() {
        fs::remove_dir_all(stage).with_context(|| format!("cannot empty {}", stage.display()))?;
    }
    for file in files {
        let Some(mut from) =
            open_regular(&root.join(file)).with_context(|| format!("cannot read {file}"))?
        else {
            continue;
        };
        let target = stage.join(file);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        copy_file(&mut from, &target)
            .with_context(|| format!("cannot copy {file} to {}", stage.display()))?;
    }
    Ok(())
}

/// Writes what is left to read of `from` to a new file `to`, with `from`'s mode (as
/// `fs::copy` does: a script stays executable).
fn copy_file(from: &mut fs::File, to: &Path) -> std::io::Result<()> {
    let mut to = fs::File::create(to)?;
    std::io::copy(from, &mut to)?;
    to.set_permissions(from.metadata()?.permissions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pex_args_that_set_the_output_are_found() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        for bad in [
            &["-o", "/tmp/x"][..],
            &["-o/tmp/x"],
            &["-vvo", "x"],
            &["--output-file", "x"],
            &["--output-file=x"],
            &["--output", "x"],
            &["--ou=x"],
        ] {
            assert!(output_arg(&args(bad)).is_some(), "{bad:?}");
        }
        for good in [
            &["--venv", "--inherit-path=fallback"][..],
            &["-v"],
            &["--only-binary"],
            &["--no-sh-boot"],
        ] {
            assert_eq!(output_arg(&args(good)), None, "{good:?}");
        }
    }

    #[test]
    fn staging_copies_regular_files_and_leaves_out_what_no_longer_is_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/run"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("pipe.txt"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let files: Vec<String> = ["bin/run", "gone.py", "pipe.txt"]
            .iter()
            .map(|f| f.to_string())
            .collect();
        let stage = dir.path().join("stage");
        stage_files(&root, &files, &stage).unwrap();
        let run = stage.join("bin/run");
        assert_eq!(fs::read_to_string(&run).unwrap(), "#!/bin/sh\n");
        assert_eq!(
            fs::metadata(&run).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert!(!stage.join("gone.py").exists());
        assert!(!stage.join("pipe.txt").exists());
    }
}
