//! The HTTP client every server pybuild talks to goes through (the remote cache, a
//! registry): the same stance towards a server whatever the protocol on top.

use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// How long a server may take: to connect, to the first byte of an answer, to take a
/// request's body.
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    pub(crate) response: Duration,
    pub(crate) send: Duration,
}

/// An agent that follows no redirect (one would carry the credentials elsewhere), takes
/// every status as an answer for the caller to read, and keeps to `limits`; `roots`, when
/// given, are the only TLS roots it trusts.
pub(crate) fn agent(limits: &Limits, roots: Option<Vec<Certificate<'static>>>) -> ureq::Agent {
    let mut tls = TlsConfig::builder();
    if let Some(roots) = roots {
        tls = tls.root_certs(RootCerts::new_with_certs(&roots));
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(limits.connect))
        .timeout_recv_response(Some(limits.response))
        .timeout_send_body(Some(limits.send))
        .tls_config(tls.build())
        .build()
        .into()
}
