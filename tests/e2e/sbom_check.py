"""Checks an SBOM pybuild wrote against what it describes, with CycloneDX's own library.

usage: sbom_check.py SBOM MANIFEST BUNDLE DPKG_STATUS

- the document is valid CycloneDX 1.6 JSON (cyclonedx-python-lib's strict validator)
  and loads as a Bom;
- its PyPI components are exactly the manifest's distributions, at its versions, with
  `pkg:pypi/NAME@VERSION` purls;
- each hash is the SHA-256 of the RECORD entry its property names, read from the bundle;
- its Debian components are exactly the installed packages of the status file, with
  `pkg:deb/debian/NAME@VERSION?arch=ARCH` purls.
Prints `ok` and the counts; fails with the first difference.
"""

import hashlib
import json
import sys
import zipfile

from cyclonedx.model.bom import Bom
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

sbom_path, manifest_path, bundle_path, status_path = sys.argv[1:5]
text = open(sbom_path).read()
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
assert error is None, f"invalid CycloneDX 1.6: {error}"
bom = Bom.from_json(json.loads(text))
document = json.loads(text)

manifest = json.load(open(manifest_path))["distributions"]
pypi = {}
for component in bom.components:
    purl = component.purl
    if purl.type == "pypi":
        assert purl.name == component.name and purl.version == component.version, purl
        pypi[purl.name] = purl.version
assert pypi == manifest, f"the SBOM's PyPI packages {pypi} are not the manifest's {manifest}"

bundle = zipfile.ZipFile(bundle_path)
hashed = 0
for component in document["components"]:
    if not component["purl"].startswith("pkg:pypi/"):
        continue
    said = {p["name"]: p["value"] for p in component.get("properties", [])}["pybuild:hash"]
    if "hashes" not in component:
        assert said.startswith("none:"), said
        continue
    entry = said.split("SHA-256 of ", 1)[1].split(" in ", 1)[0]
    actual = hashlib.sha256(bundle.read(entry)).hexdigest()
    assert component["hashes"] == [{"alg": "SHA-256", "content": actual}], (entry, component)
    hashed += 1

installed = set()
for paragraph in open(status_path).read().split("\n\n"):
    fields = {}
    for line in paragraph.splitlines():
        if line[:1] not in (" ", "\t") and ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    if "Package" in fields and fields.get("Status") == "install ok installed":
        installed.add((fields["Package"], fields["Version"], fields["Architecture"]))
debian = set()
for component in bom.components:
    purl = PackageURL.from_string(str(component.purl))
    if purl.type == "deb":
        assert purl.namespace == "debian", purl
        debian.add((purl.name, purl.version, purl.qualifiers.get("arch")))
missing, extra = installed - debian, debian - installed
assert not missing and not extra, f"Debian packages missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
print(f"ok {len(pypi)} pypi ({hashed} hashed) {len(debian)} deb")
