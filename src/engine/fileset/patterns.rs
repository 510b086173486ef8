//! Lists of globs that add and remove: `pattern` selects, `!pattern` leaves out. `[bundle]
//! sources` adjusts the project's inputs with one, a task's `sources` selects its inputs
//! with another.

use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// `patterns` as (the `pattern`s, the `!pattern`s), each `None` when there is none.
pub(crate) fn split_patterns(patterns: &[String]) -> Result<(Option<GlobSet>, Option<GlobSet>)> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    let (mut any_include, mut any_exclude) = (false, false);
    for pattern in patterns {
        let (builder, any, glob) = match pattern.strip_prefix('!') {
            Some(glob) => (&mut exclude, &mut any_exclude, glob),
            None => (&mut include, &mut any_include, pattern.as_str()),
        };
        builder.add(Glob::new(glob).with_context(|| format!("bad glob `{pattern}`"))?);
        *any = true;
    }
    let build = |builder: GlobSetBuilder, any: bool| -> Result<Option<GlobSet>> {
        Ok(if any { Some(builder.build()?) } else { None })
    };
    Ok((build(include, any_include)?, build(exclude, any_exclude)?))
}
