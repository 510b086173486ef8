//! Built-in answers to "which package provides this?" for the commands, headers,
//! pkg-config modules and libraries that Python packages with C extensions commonly need,
//! on Debian/Ubuntu and Fedora. `[check] hints` in project.toml overrides the hint;
//! `check --fix` installs these packages. A library (`-lX`, from a linker error) is known
//! through a header of the same package, which is also what `[check]` can check for it.

/// (name, Debian/Ubuntu package, Fedora package)
type Row = (&'static str, &'static str, &'static str);

const COMMANDS: &[Row] = &[
    ("cc", "build-essential", "gcc"),
    ("gcc", "build-essential", "gcc"),
    ("c++", "build-essential", "gcc-c++"),
    ("g++", "build-essential", "gcc-c++"),
    ("clang", "clang", "clang"),
    ("make", "make", "make"),
    ("pkg-config", "pkgconf", "pkgconf-pkg-config"),
    ("swig", "swig", "swig"),
    ("cmake", "cmake", "cmake"),
    ("git", "git", "git"),
    ("pg_config", "libpq-dev", "libpq-devel"),
    ("mysql_config", "default-libmysqlclient-dev", "mysql-devel"),
    ("krb5-config", "libkrb5-dev", "krb5-devel"),
    ("xml2-config", "libxml2-dev", "libxml2-devel"),
    ("xslt-config", "libxslt1-dev", "libxslt-devel"),
    ("odbc_config", "unixodbc-dev", "unixODBC-devel"),
];

const HEADERS: &[Row] = &[
    ("Python.h", "python3-dev", "python3-devel"),
    ("ldap.h", "libldap-dev", "openldap-devel"),
    ("lber.h", "libldap-dev", "openldap-devel"),
    ("sasl/sasl.h", "libsasl2-dev", "cyrus-sasl-devel"),
    ("ffi.h", "libffi-dev", "libffi-devel"),
    ("openssl/ssl.h", "libssl-dev", "openssl-devel"),
    ("openssl/opensslv.h", "libssl-dev", "openssl-devel"),
    ("libpq-fe.h", "libpq-dev", "libpq-devel"),
    ("pg_config.h", "libpq-dev", "libpq-devel"),
    ("zlib.h", "zlib1g-dev", "zlib-devel"),
    ("bzlib.h", "libbz2-dev", "bzip2-devel"),
    ("lzma.h", "liblzma-dev", "xz-devel"),
    ("sqlite3.h", "libsqlite3-dev", "sqlite-devel"),
    ("libxml/xmlversion.h", "libxml2-dev", "libxml2-devel"),
    ("libxml/parser.h", "libxml2-dev", "libxml2-devel"),
    ("libxslt/xslt.h", "libxslt1-dev", "libxslt-devel"),
    ("yaml.h", "libyaml-dev", "libyaml-devel"),
    ("mysql.h", "default-libmysqlclient-dev", "mysql-devel"),
    ("mysql/mysql.h", "default-libmysqlclient-dev", "mysql-devel"),
    ("krb5.h", "libkrb5-dev", "krb5-devel"),
    ("gssapi/gssapi.h", "libkrb5-dev", "krb5-devel"),
    ("sql.h", "unixodbc-dev", "unixODBC-devel"),
    ("sqlext.h", "unixodbc-dev", "unixODBC-devel"),
    ("cairo.h", "libcairo2-dev", "cairo-devel"),
    ("jpeglib.h", "libjpeg-dev", "libjpeg-turbo-devel"),
    ("png.h", "libpng-dev", "libpng-devel"),
    ("curl/curl.h", "libcurl4-openssl-dev", "libcurl-devel"),
    ("readline/readline.h", "libreadline-dev", "readline-devel"),
    ("ncurses.h", "libncurses-dev", "ncurses-devel"),
    ("curses.h", "libncurses-dev", "ncurses-devel"),
    ("gmp.h", "libgmp-dev", "gmp-devel"),
    ("pcap.h", "libpcap-dev", "libpcap-devel"),
    ("uuid/uuid.h", "uuid-dev", "libuuid-devel"),
];

const PKG_CONFIG: &[Row] = &[
    ("libpq", "libpq-dev", "libpq-devel"),
    ("openssl", "libssl-dev", "openssl-devel"),
    ("libssl", "libssl-dev", "openssl-devel"),
    ("libcrypto", "libssl-dev", "openssl-devel"),
    ("libffi", "libffi-dev", "libffi-devel"),
    ("zlib", "zlib1g-dev", "zlib-devel"),
    ("libxml-2.0", "libxml2-dev", "libxml2-devel"),
    ("libxslt", "libxslt1-dev", "libxslt-devel"),
    ("libexslt", "libxslt1-dev", "libxslt-devel"),
    ("sqlite3", "libsqlite3-dev", "sqlite-devel"),
    ("yaml-0.1", "libyaml-dev", "libyaml-devel"),
    ("krb5", "libkrb5-dev", "krb5-devel"),
    ("krb5-gssapi", "libkrb5-dev", "krb5-devel"),
    ("libcurl", "libcurl4-openssl-dev", "libcurl-devel"),
    ("mysqlclient", "default-libmysqlclient-dev", "mysql-devel"),
    ("ldap", "libldap-dev", "openldap-devel"),
    ("cairo", "libcairo2-dev", "cairo-devel"),
    ("py3cairo", "python3-cairo-dev", "python3-cairo-devel"),
    (
        "gobject-introspection-1.0",
        "libgirepository1.0-dev",
        "gobject-introspection-devel",
    ),
    ("odbc", "unixodbc-dev", "unixODBC-devel"),
    ("python3", "python3-dev", "python3-devel"),
];

/// A library as the linker names it (`-lX`), and the header or pkg-config module of the
/// same package.
const LIBRARIES: &[(&str, Kind, &str)] = &[
    ("ldap", Kind::Header, "ldap.h"),
    ("ldap_r", Kind::Header, "ldap.h"),
    ("lber", Kind::Header, "lber.h"),
    ("sasl2", Kind::Header, "sasl/sasl.h"),
    ("pq", Kind::Header, "libpq-fe.h"),
    ("ffi", Kind::Header, "ffi.h"),
    ("ssl", Kind::Header, "openssl/ssl.h"),
    ("crypto", Kind::Header, "openssl/ssl.h"),
    ("z", Kind::Header, "zlib.h"),
    ("bz2", Kind::Header, "bzlib.h"),
    ("lzma", Kind::Header, "lzma.h"),
    ("sqlite3", Kind::Header, "sqlite3.h"),
    ("xml2", Kind::PkgConfig, "libxml-2.0"),
    ("xslt", Kind::PkgConfig, "libxslt"),
    ("exslt", Kind::PkgConfig, "libexslt"),
    ("yaml", Kind::Header, "yaml.h"),
    ("mysqlclient", Kind::PkgConfig, "mysqlclient"),
    ("krb5", Kind::Header, "krb5.h"),
    ("gssapi_krb5", Kind::Header, "gssapi/gssapi.h"),
    ("odbc", Kind::Header, "sql.h"),
    ("cairo", Kind::Header, "cairo.h"),
    ("jpeg", Kind::Header, "jpeglib.h"),
    ("png", Kind::Header, "png.h"),
    ("curl", Kind::Header, "curl/curl.h"),
    ("gmp", Kind::Header, "gmp.h"),
    ("pcap", Kind::Header, "pcap.h"),
    ("uuid", Kind::Header, "uuid/uuid.h"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Command,
    Header,
    PkgConfig,
}

impl Kind {
    /// How a user calls it, e.g. in "header lber.h".
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::Header => "header",
            Kind::PkgConfig => "pkg-config module",
        }
    }

    /// Its key in `[check]`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Kind::Command => "commands",
            Kind::Header => "headers",
            Kind::PkgConfig => "pkg-config",
        }
    }
}

/// The packages that provide one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packages {
    pub(crate) debian: &'static str,
    pub(crate) fedora: &'static str,
}

/// The packages that provide `name`, if pybuild knows them.
pub(crate) fn packages(kind: Kind, name: &str) -> Option<Packages> {
    let table = match kind {
        Kind::Command => COMMANDS,
        Kind::Header => HEADERS,
        Kind::PkgConfig => PKG_CONFIG,
    };
    let (_, debian, fedora) = table.iter().find(|(n, _, _)| *n == name)?;
    Some(Packages { debian, fedora })
}

/// The header or pkg-config module of the package that provides library `name` (`-lname`).
pub(crate) fn library(name: &str) -> Option<(Kind, &'static str)> {
    LIBRARIES
        .iter()
        .find(|(lib, _, _)| *lib == name)
        .map(|(_, kind, what)| (*kind, *what))
}

/// How to install what provides `name`, if pybuild knows.
pub(crate) fn builtin(kind: Kind, name: &str) -> Option<String> {
    packages(kind, name).map(|p| p.hint())
}

impl Packages {
    pub(crate) fn hint(self) -> String {
        format!(
            "Debian/Ubuntu: apt-get install {}; Fedora: dnf install {}",
            self.debian, self.fedora
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_common_headers() {
        assert_eq!(
            builtin(Kind::Header, "ldap.h").unwrap(),
            "Debian/Ubuntu: apt-get install libldap-dev; Fedora: dnf install openldap-devel"
        );
        assert!(builtin(Kind::Header, "nonexistent.h").is_none());
        assert!(
            builtin(Kind::PkgConfig, "libpq")
                .unwrap()
                .contains("libpq-dev")
        );
    }

    /// A library is known through a header or module the tables above also know.
    #[test]
    fn every_library_leads_to_packages() {
        for (lib, kind, name) in LIBRARIES {
            assert!(packages(*kind, name).is_some(), "-l{lib}: {name}");
        }
    }
}
