//! Built-in answers to "how do I get this?" for the commands, headers and pkg-config
//! modules that Python packages with C extensions commonly need, on Debian/Ubuntu and
//! Fedora. `[check] hints` in project.toml overrides them.

/// (name, Debian/Ubuntu package, Fedora package)
const COMMANDS: &[(&str, &str, &str)] = &[
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
];

const HEADERS: &[(&str, &str, &str)] = &[
    ("Python.h", "python3-dev", "python3-devel"),
    ("ldap.h", "libldap-dev", "openldap-devel"),
    ("lber.h", "libldap-dev", "openldap-devel"),
    ("sasl/sasl.h", "libsasl2-dev", "cyrus-sasl-devel"),
    ("ffi.h", "libffi-dev", "libffi-devel"),
    ("openssl/ssl.h", "libssl-dev", "openssl-devel"),
    ("openssl/opensslv.h", "libssl-dev", "openssl-devel"),
    ("libpq-fe.h", "libpq-dev", "libpq-devel"),
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

const PKG_CONFIG: &[(&str, &str, &str)] = &[
    ("libpq", "libpq-dev", "libpq-devel"),
    ("openssl", "libssl-dev", "openssl-devel"),
    ("libssl", "libssl-dev", "openssl-devel"),
    ("libcrypto", "libssl-dev", "openssl-devel"),
    ("libffi", "libffi-dev", "libffi-devel"),
    ("zlib", "zlib1g-dev", "zlib-devel"),
    ("libxml-2.0", "libxml2-dev", "libxml2-devel"),
    ("libxslt", "libxslt1-dev", "libxslt-devel"),
    ("sqlite3", "libsqlite3-dev", "sqlite-devel"),
    ("yaml-0.1", "libyaml-dev", "libyaml-devel"),
    ("krb5", "libkrb5-dev", "krb5-devel"),
    ("libcurl", "libcurl4-openssl-dev", "libcurl-devel"),
    ("mysqlclient", "default-libmysqlclient-dev", "mysql-devel"),
    ("ldap", "libldap-dev", "openldap-devel"),
    ("python3", "python3-dev", "python3-devel"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Command,
    Header,
    PkgConfig,
}

/// How to install what provides `name`, if pybuild knows.
pub fn builtin(kind: Kind, name: &str) -> Option<String> {
    let table = match kind {
        Kind::Command => COMMANDS,
        Kind::Header => HEADERS,
        Kind::PkgConfig => PKG_CONFIG,
    };
    let (_, debian, fedora) = table.iter().find(|(n, _, _)| *n == name)?;
    Some(format!(
        "Debian/Ubuntu: apt-get install {debian}; Fedora: dnf install {fedora}"
    ))
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
}
