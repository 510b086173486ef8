//! `pybuild man`: the man pages, rendered by clap_mangen from the same definitions as
//! `--help`, so they never drift from the binary. `pybuild(1)` also has the sections
//! clap knows nothing of: EXIT STATUS, ENVIRONMENT (the global options' twins are read
//! from their definitions) and FILES.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_mangen::Man;
use roff::{Roff, bold, italic, roman};

use crate::base::ui::Printer;
use crate::commands::cli::Cli;

/// Prints `pybuild.1` to stdout, or with `out` writes it and `pybuild-COMMAND.1` for each
/// command into that directory.
pub(crate) fn write(out: Option<&Path>, printer: &Printer) -> Result<()> {
    let Some(dir) = out else {
        let mut stdout = std::io::stdout();
        return render(&mut stdout).context("cannot write the man page");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    // clap_mangen's pybuild.1, replaced by the one with pybuild's own sections.
    let path = dir.join("pybuild.1");
    let mut page = Vec::new();
    render(&mut page).context("cannot render the man page")?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    printer.info(&format!("wrote the man pages into {}", dir.display()));
    Ok(())
}

/// `pybuild(1)`: clap_mangen's sections, then EXIT STATUS, ENVIRONMENT and FILES.
fn render(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let man = Man::new(Cli::command());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    man.render_subcommands_section(w)?;
    own_sections().to_writer(w)?;
    man.render_version_section(w)
}

fn own_sections() -> Roff {
    let mut roff = Roff::new();
    let item = |roff: &mut Roff, term: roff::Inline, text: &str| {
        roff.control("TP", []);
        roff.text([term]);
        roff.text([roman(text)]);
    };

    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (
            "0",
            "Success; with status --exit-code, every step is fresh.",
        ),
        (
            "1",
            "A step failed; with status --exit-code, a step is stale; watch stopped because the \
             project was removed.",
        ),
        (
            "2",
            "A usage or configuration error: an unknown command or task, a bad project.toml.",
        ),
        (
            "N",
            "A task's command, or the program of run -- CMD, failed with code N (128 + S when \
             killed by signal S): its code is passed through.",
        ),
        ("130", "Interrupted by Ctrl-C."),
    ] {
        item(&mut roff, bold(code), meaning);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(
        "Each global option has an environment twin; the command line wins over it.",
    )]);
    let command = Cli::command();
    for arg in command.get_arguments() {
        if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
            let text = format!("As --{long}.");
            item(&mut roff, bold(env.to_string_lossy()), &text);
        }
    }
    for (name, meaning) in [
        (
            "NO_COLOR",
            "Set and not empty: no colour with --color auto, even with FORCE_COLOR.",
        ),
        (
            "FORCE_COLOR",
            "Set and not empty: colour with --color auto, without a terminal too (CI logs).",
        ),
        (
            "PYBUILD_CACHE_DIR",
            "pybuild's cache, shared by every project: the wheelhouse and pybuild's own uv. \
             Default: $XDG_CACHE_HOME/pybuild, else ~/.cache/pybuild.",
        ),
        (
            "PEX_ROOT",
            "Where pex keeps its cache while pybuild builds. Default: pex/ in pybuild's cache.",
        ),
        (
            "UV_DEFAULT_INDEX, UV_INDEX_URL, PIP_INDEX_URL, PIP_CONFIG_FILE",
            "The package index pybuild checks it can reach before using it.",
        ),
        (
            "COMPLETE",
            "Set by the completion scripts of pybuild completions: pybuild then answers the \
             shell with completions instead of running.",
        ),
    ] {
        item(&mut roff, bold(name), meaning);
    }

    roff.control("SH", ["FILES"]);
    for (path, meaning) in [
        (
            "project.toml",
            "The project's configuration, at its root: pybuild looks for it in the current \
             directory (or -C DIR) and its parents.",
        ),
        (
            ".pybuild/",
            "pybuild's state, beside project.toml: what each step last did (state.bin, \
             fingerprints/, produced/), logs/STEP.log (the output of its last run), layers/, \
             tmp/, and the lock. pybuild clean removes it.",
        ),
        (
            ".venv/",
            "The project's virtualenv ([env] path). pybuild clean --all removes it.",
        ),
        (
            "dist/SCRIPT.pex",
            "The bundle ([bundle] output), and SCRIPT.manifest.json beside it: what shipped.",
        ),
        (
            "~/.cache/pybuild/",
            "The wheelhouse (wheels/) and pybuild's own uv (uv/VERSION/): see \
             PYBUILD_CACHE_DIR.",
        ),
    ] {
        item(&mut roff, italic(path), meaning);
    }
    roff
}
