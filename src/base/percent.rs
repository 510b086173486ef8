//! Percent-decoding (RFC 3986), for the parts of URLs pybuild reads: a remote cache's
//! credentials, and the folder a `file://` URL of an install's `direct_url.json` names.

/// `text` with each `%XX` escape decoded; an escape cut short or not hexadecimal is kept
/// as written, and bytes that do not make UTF-8 are replaced.
pub(crate) fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::decoded;

    #[test]
    fn escapes_are_decoded_and_a_cut_one_is_kept() {
        assert_eq!(decoded("p%40ss%2Fw%3a%41"), "p@ss/w:A");
        assert_eq!(decoded("/home/me/my%20lib"), "/home/me/my lib");
        for kept in ["%", "%4", "a%4", "%zz", "100%"] {
            assert_eq!(decoded(kept), kept);
        }
    }
}
