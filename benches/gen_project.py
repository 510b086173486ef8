#!/usr/bin/env python3
"""Generate the no-op benchmark's inputs (used by benches/noop.sh).

    gen_project.py ROOT N

writes ROOT/bigapp/: a setuptools src-layout project with N modules spread over
subpackages of 100 (src/bigapp/pkgNNN/modNNN.py), plus ROOT/ninja/build.ninja and
ROOT/make/Makefile: one stamp target whose inputs are the same files (every .py under
src/ and pyproject.toml), listed explicitly, with `touch` as the command.
"""
import os
import sys

PER_PACKAGE = 100


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    proj = os.path.join(root, "bigapp")
    files = {
        "pyproject.toml": """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "bigapp"
version = "0.1.0"
description = "Generated project for pybuild's no-op benchmark"
requires-python = ">=3.9"
dependencies = []

[project.scripts]
bigapp = "bigapp.cli:main"

[tool.setuptools.packages.find]
where = ["src"]
""",
        "project.toml": '[project]\nname = "bigapp"\n',
        "src/bigapp/__init__.py": '"""bigapp: generated."""\n__version__ = "0.1.0"\n',
        "src/bigapp/cli.py": 'def main():\n    print("bigapp ok")\n\n\n'
        'if __name__ == "__main__":\n    main()\n',
    }
    for i in range(n):
        pkg, mod = divmod(i, PER_PACKAGE)
        base = f"src/bigapp/pkg{pkg:03d}"
        files.setdefault(f"{base}/__init__.py", f'"""Subpackage {pkg}."""\n')
        files[f"{base}/mod{mod:03d}.py"] = (
            f'"""Module {i}."""\n\nVALUE = {i}\n\n\n'
            f"def value():\n    return VALUE * 2\n"
        )
    for rel, text in files.items():
        write(os.path.join(proj, rel), text)

    inputs = sorted(r for r in files if r.endswith(".py") or r == "pyproject.toml")
    deps = [f"../bigapp/{r}" for r in inputs]
    write(
        os.path.join(root, "ninja", "build.ninja"),
        "rule stamp\n  command = touch $out\n\nbuild stamp: stamp"
        + "".join(f" $\n    {d}" for d in deps)
        + "\n\ndefault stamp\n",
    )
    write(
        os.path.join(root, "make", "Makefile"),
        # No built-in implicit rules: ninja has none either, and make would otherwise try
        # dozens of them (RCS, SCCS, %.c, ...) on every prerequisite.
        "MAKEFLAGS += --no-builtin-rules\n.SUFFIXES:\n\n"
        + "stamp:" + "".join(f" \\\n\t{d}" for d in deps) + "\n\ttouch $@\n",
    )
    print(f"{len(inputs)} input files ({n} modules) under {proj}")


if __name__ == "__main__":
    main()
