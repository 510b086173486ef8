//! The usual suspects: Python distributions with C extensions that are often built from
//! source, and the system prerequisites each needs then, as `[check]` would list them.
//! Kept as data: a new suspect is one row. `init` writes their `[check]` entries; a failed
//! build's explanation adds what the dependency it names needs besides (see
//! `diagnostics`). Every row also needs a C compiler and the interpreter's `Python.h`.

use super::hints::Kind;
/// Distribution names are compared as PEP 503 says (the one normaliser, re-exported for
/// the callers that find it here).
pub(crate) use crate::base::distribution_name::normalize;

pub(crate) struct Known {
    /// Distribution names, normalised (lower case, runs of `-_.` as one `-`).
    pub(crate) names: &'static [&'static str],
    pub(crate) commands: &'static [&'static str],
    pub(crate) headers: &'static [&'static str],
    pub(crate) pkg_config: &'static [&'static str],
}

/// Headers found in a subdirectory of the include path (`/usr/include/postgresql`,
/// `/usr/include/libxml2`) are not listed: the compiler is told where they are by
/// `pg_config` or pkg-config, which are checked instead.
const KNOWN: &[Known] = &[
    Known {
        names: &["python-ldap"],
        commands: &[],
        headers: &["lber.h", "ldap.h", "sasl/sasl.h"],
        pkg_config: &[],
    },
    Known {
        names: &["psycopg2"],
        commands: &["pg_config"],
        headers: &[],
        pkg_config: &[],
    },
    Known {
        names: &["mysqlclient"],
        commands: &[],
        headers: &[],
        pkg_config: &["mysqlclient"],
    },
    Known {
        names: &["lxml"],
        commands: &[],
        headers: &[],
        pkg_config: &["libxml-2.0", "libxslt"],
    },
    Known {
        names: &["pycairo"],
        commands: &[],
        headers: &[],
        pkg_config: &["cairo"],
    },
    Known {
        names: &["pygobject"],
        commands: &[],
        headers: &[],
        pkg_config: &["gobject-introspection-1.0", "cairo"],
    },
    Known {
        names: &["pyodbc"],
        commands: &[],
        headers: &["sql.h"],
        pkg_config: &[],
    },
    Known {
        names: &["gssapi", "krb5"],
        commands: &["krb5-config"],
        headers: &[],
        pkg_config: &[],
    },
    // cffi's own extension links libffi; packages built on cffi need cffi built first.
    Known {
        names: &["cffi"],
        commands: &[],
        headers: &["ffi.h"],
        pkg_config: &[],
    },
];

/// What every compiled extension needs.
const COMPILING: &[(Kind, &str)] = &[(Kind::Command, "cc"), (Kind::Header, "Python.h")];

/// The row for distribution `name`, if it is a usual suspect.
pub(crate) fn find(name: &str) -> Option<&'static Known> {
    let name = normalize(name);
    KNOWN
        .iter()
        .find(|known| known.names.contains(&name.as_str()))
}

impl Known {
    /// Everything it needs to build, as `[check]` entries: the compiler and `Python.h`
    /// first, then its own.
    pub(crate) fn entries(&self) -> Vec<(Kind, &'static str)> {
        let own = [
            (Kind::Command, self.commands),
            (Kind::Header, self.headers),
            (Kind::PkgConfig, self.pkg_config),
        ];
        COMPILING
            .iter()
            .copied()
            .chain(
                own.into_iter()
                    .flat_map(|(kind, names)| names.iter().map(move |name| (kind, *name))),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::prerequisites::hints::packages;

    #[test]
    fn finds_by_normalised_name() {
        assert!(find("Python_LDAP").is_some());
        assert!(find("PyGObject").is_some());
        assert!(find("click").is_none());
        let entries = find("python-ldap").unwrap().entries();
        assert_eq!(entries[0], (Kind::Command, "cc"));
        assert!(entries.contains(&(Kind::Header, "lber.h")));
    }

    /// `check --fix` and the hints can name a package for every entry of the table.
    #[test]
    fn every_entry_has_packages() {
        for known in KNOWN {
            for (kind, name) in known.entries() {
                assert!(packages(kind, name).is_some(), "{:?}: {name}", known.names);
            }
        }
    }
}
