//! A CycloneDX 1.6 JSON document of what an image carries: the Python distributions its
//! bundle ships (`pkg:pypi/NAME@VERSION`, the project itself as the `application`) and the
//! Debian packages of its base (`pkg:deb/debian/NAME@VERSION?arch=ARCH`).
//!
//! The same contents give the same bytes: components sorted by purl, keys in order, no
//! timestamp unless `SOURCE_DATE_EPOCH` fixes one, and the `serialNumber` a UUID made of
//! the SHA-256 of the document without it (in version 5's form, which the schema asks
//! for), so another SBOM is another serial.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::distributions::{Distribution, Licence};
use super::dpkg::Package;

/// What the document describes.
pub(crate) struct Subject<'s> {
    /// The image's name and tag.
    pub(crate) name: &'s str,
    pub(crate) version: &'s str,
    /// The project's PEP 503 name: its distribution is the application.
    pub(crate) project: &'s str,
    /// The bundle, as the project names it (`dist/greet.pex`).
    pub(crate) bundle: &'s str,
    /// `SOURCE_DATE_EPOCH`'s time, RFC 3339, if set.
    pub(crate) timestamp: Option<String>,
}

/// The document, pretty-printed, ending with a newline.
pub(crate) fn document(
    subject: &Subject,
    distributions: &[Distribution],
    packages: &[Package],
) -> Vec<u8> {
    let mut components: Vec<Value> = (distributions.iter())
        .map(|d| python_component(d, subject))
        .chain(packages.iter().map(debian_component))
        .collect();
    components.sort_by(|a, b| a["bom-ref"].as_str().cmp(&b["bom-ref"].as_str()));
    let mut metadata = json!({
        "tools": {
            "components": [{
                "type": "application",
                "name": "pybuild",
                "version": env!("CARGO_PKG_VERSION"),
            }]
        },
        "component": {
            "type": "container",
            "bom-ref": format!("image:{}", subject.name),
            "name": subject.name,
            "version": subject.version,
        },
    });
    if let Some(timestamp) = &subject.timestamp {
        metadata["timestamp"] = json!(timestamp);
    }
    let mut document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": components,
    });
    let serial = serial(&serde_json::to_vec(&document).unwrap_or_default());
    document["serialNumber"] = json!(serial);
    let mut text = serde_json::to_vec_pretty(&document).unwrap_or_default();
    text.push(b'\n');
    text
}

fn python_component(dist: &Distribution, subject: &Subject) -> Value {
    let purl = format!(
        "pkg:pypi/{}@{}",
        purl_encoded(&dist.name),
        purl_encoded(&dist.version)
    );
    let kind = match dist.name == subject.project {
        true => "application",
        false => "library",
    };
    let mut component = json!({
        "type": kind,
        "bom-ref": purl,
        "name": dist.name,
        "version": dist.version,
        "purl": purl,
    });
    let hashed = match &dist.record {
        Some(record) => {
            component["hashes"] = json!([{"alg": "SHA-256", "content": record.sha256}]);
            format!(
                "SHA-256 of {} in {}, the distribution's RECORD; the {} files it lists with \
                 a hash that the bundle holds were checked to be at that hash",
                record.entry, subject.bundle, record.checked
            )
        }
        None => format!("none: {} carries no RECORD for it", subject.bundle),
    };
    component["properties"] = json!([{"name": "pybuild:hash", "value": hashed}]);
    let licences = match &dist.licence {
        Licence::Expression(expression) => json!([{"expression": expression}]),
        Licence::Names(names) => Value::Array(
            (names.iter())
                .map(|name| json!({"license": {"name": name}}))
                .collect(),
        ),
        Licence::Unknown => Value::Null,
    };
    if !licences.is_null() {
        component["licenses"] = licences;
    }
    component
}

fn debian_component(package: &Package) -> Value {
    let mut purl = format!(
        "pkg:deb/debian/{}@{}",
        purl_encoded(&package.name),
        purl_encoded(&package.version)
    );
    if !package.architecture.is_empty() {
        purl.push_str(&format!("?arch={}", purl_encoded(&package.architecture)));
    }
    json!({
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": package.version,
        "purl": purl,
    })
}

/// `text` as a purl component: what is not unreserved (or `:`) percent-encoded, as
/// packageurl's own libraries write it (`+` is `%2B`).
fn purl_encoded(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `urn:uuid:…` from the SHA-256 of `bytes`, with version 5's and RFC 4122's variant bits.
fn serial(bytes: &[u8]) -> String {
    let mut id: [u8; 16] = Sha256::digest(bytes)[..16].try_into().unwrap_or_default();
    id[6] = (id[6] & 0x0f) | 0x50;
    id[8] = (id[8] & 0x3f) | 0x80;
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::sbom::distributions::Record;

    fn subject() -> Subject<'static> {
        Subject {
            name: "greeter",
            version: "1.2.3",
            project: "greeter",
            bundle: "dist/greet.pex",
            timestamp: None,
        }
    }

    #[test]
    fn purls_encode_what_the_spec_asks() {
        assert_eq!(purl_encoded("1:2.36-9+deb12u4"), "1:2.36-9%2Bdeb12u4");
        assert_eq!(purl_encoded("1.0+local"), "1.0%2Blocal");
        assert_eq!(purl_encoded("zope-interface"), "zope-interface");
    }

    #[test]
    fn the_same_contents_give_the_same_bytes_and_other_contents_another_serial() {
        let dists = vec![
            Distribution {
                name: "six".into(),
                version: "1.17.0".into(),
                licence: Licence::Names(vec!["MIT".into()]),
                record: Some(Record {
                    entry: ".deps/six/six-1.17.0.dist-info/RECORD".into(),
                    sha256: "ab".repeat(32),
                    checked: 5,
                }),
            },
            Distribution {
                name: "greeter".into(),
                version: "1.2.3".into(),
                licence: Licence::Unknown,
                record: None,
            },
        ];
        let packages = vec![Package {
            name: "libc6".into(),
            version: "2.36-9+deb12u4".into(),
            architecture: "amd64".into(),
        }];
        let one = document(&subject(), &dists, &packages);
        assert_eq!(one, document(&subject(), &dists, &packages));
        let json: Value = serde_json::from_slice(&one).unwrap();
        let purls: Vec<&str> = (json["components"].as_array().unwrap().iter())
            .map(|c| c["purl"].as_str().unwrap())
            .collect();
        assert_eq!(
            purls,
            [
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64",
                "pkg:pypi/greeter@1.2.3",
                "pkg:pypi/six@1.17.0"
            ]
        );
        assert_eq!(json["components"][1]["type"], "application");
        assert!(json.pointer("/metadata/timestamp").is_none());
        let serial = json["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[23..24], "5");
        let other = document(&subject(), &dists[..1], &packages);
        let other: Value = serde_json::from_slice(&other).unwrap();
        assert_ne!(other["serialNumber"], json["serialNumber"]);
    }
}
