//! Where the remote cache's credentials come from, first found: the URL's user-info
//! (`https://user:token@host/`), a header named in `PYBUILD_REMOTE_CACHE_HEADER`
//! (`Authorization: Bearer …`), or `$HOME/.netrc`'s entry for the host. They become one
//! header, sent with every request and never shown: the URL pybuild prints, logs and
//! puts in errors is the one without its user-info.

use base64::Engine as _;

use crate::base::percent;

/// A server's base URL, its user-info taken out, and the header that authenticates to it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Without user-info and without a trailing `/`: safe to print.
    pub(crate) url: String,
    pub(crate) auth: Option<(String, String)>,
}

pub(crate) const HEADER_VARIABLE: &str = "PYBUILD_REMOTE_CACHE_HEADER";

impl Endpoint {
    /// `url` split from its credentials; `header` is `PYBUILD_REMOTE_CACHE_HEADER`'s value,
    /// `netrc` the text of `$HOME/.netrc`.
    pub(crate) fn new(url: &str, header: Option<&str>, netrc: Option<&str>) -> Endpoint {
        let url = url.trim().trim_end_matches('/');
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (user_info, host) = match authority.rsplit_once('@') {
            Some((user_info, host)) => (Some(user_info), host),
            None => (None, authority),
        };
        let plain = format!("{scheme}://{host}{path}");
        let basic = |user: &str, password: &str| {
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                percent::decoded(user),
                percent::decoded(password)
            ));
            ("Authorization".to_string(), format!("Basic {token}"))
        };
        let hostname = host.rsplit_once(':').map_or(host, |(name, _)| name);
        let auth = user_info
            .map(|info| match info.split_once(':') {
                Some((user, password)) => basic(user, password),
                None => (
                    "Authorization".to_string(),
                    format!("Bearer {}", percent::decoded(info)),
                ),
            })
            .or_else(|| {
                let (name, value) = header?.split_once(':')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .or_else(|| {
                let (login, password) = netrc_entry(netrc?, hostname)?;
                Some(basic(&login, &password))
            });
        Endpoint { url: plain, auth }
    }
}

/// The login and password `.netrc` gives `host` (or its `default` entry).
fn netrc_entry(text: &str, host: &str) -> Option<(String, String)> {
    let mut tokens = text.split_whitespace();
    let (mut current, mut login, mut password) = (None::<bool>, None, None);
    let mut found = None;
    while let Some(token) = tokens.next() {
        match token {
            "machine" | "default" => {
                if current == Some(true) && found.is_none() {
                    found = Some((login.take()?, password.take().unwrap_or_default()));
                }
                login = None;
                password = None;
                current = Some(match token {
                    "machine" => tokens.next() == Some(host),
                    _ => found.is_none(),
                });
            }
            "login" => login = tokens.next().map(str::to_string),
            "password" => password = tokens.next().map(str::to_string),
            _ => {}
        }
    }
    if current == Some(true) && found.is_none() {
        found = Some((login?, password.unwrap_or_default()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_becomes_a_header_and_leaves_the_url() {
        let endpoint = Endpoint::new("http://alice:s%40cret@cache.example:8080/team/", None, None);
        assert_eq!(endpoint.url, "http://cache.example:8080/team");
        let (name, value) = endpoint.auth.unwrap();
        assert_eq!(name, "Authorization");
        // base64("alice:s@cret")
        assert_eq!(value, "Basic YWxpY2U6c0BjcmV0");
        let token = Endpoint::new("https://TOKEN@host/", None, None);
        assert_eq!(token.url, "https://host");
        assert_eq!(token.auth.unwrap().1, "Bearer TOKEN");
    }

    #[test]
    fn a_header_variable_then_netrc_are_used_without_user_info() {
        let header = Endpoint::new("http://h/", Some("X-Token: abc"), None);
        assert_eq!(header.auth, Some(("X-Token".into(), "abc".into())));
        let netrc = "machine other login x password y\nmachine h login bob password pw\n";
        let from_netrc = Endpoint::new("http://h:9090", None, Some(netrc));
        assert_eq!(from_netrc.auth.unwrap().1, "Basic Ym9iOnB3");
        assert!(
            Endpoint::new("http://none", None, Some(netrc))
                .auth
                .is_none()
        );
        let default = Endpoint::new(
            "http://z",
            None,
            Some("machine h login a\ndefault login d password e"),
        );
        assert_eq!(default.auth.unwrap().1, "Basic ZDpl");
    }
}
