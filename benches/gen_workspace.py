#!/usr/bin/env python3
"""Generate the workspace benchmark's uv workspace (used by benches/workspace.sh).

    gen_workspace.py DEST APPS LIBS

writes DEST/: a root pyproject.toml with `[tool.uv.workspace] members = ["apps/*",
"libs/*"]` (no `[project]`, like tests/fixtures/workspace), a project.toml, LIBS libraries
`libs/libI` (members `wsb-libI`, hatchling, ten small modules each) and APPS apps
`apps/appNN` (members `wsb-appNN`, console script `appNN`, three modules each). No lock:
the caller runs `uv lock`.

The graph (deterministic, so every run builds the same thing):
- library I depends on library I-1 when I is odd (lib1 → lib0, lib3 → lib2, ...);
- app N depends on library N % LIBS, and every third app also on library (N + 2) % LIBS;
- third-party dependencies, small and pure Python: library I takes THIRD_PARTY[I % 5]
  (six, packaging, attrs, idna, none), every fourth app takes click.

Each app prints `appNN` and each library's `describe()` (`libI:v1`, followed by its own
dependency's), which `expected_output` predicts, so the benchmark can check every bundle
ships the code of the tree it was built from. `edit_library`/`edit_app` change `v1` to the
given tag in one module.

As a module: `generate`, `dependents`, `expected_output`, `edit_library`, `edit_app`.
"""
import sys
from pathlib import Path

# (distribution, import name, an expression using it that gives a constant string)
THIRD_PARTY = [
    ("six", "six", 'six.ensure_str(b"six")'),
    ("packaging", "packaging.version", 'str(packaging.version.Version("1.0"))'),
    ("attrs", "attrs", 'attrs.__name__'),
    ("idna", "idna", 'idna.encode("example.org").decode()'),
    None,
]
LIB_MODULES = 10
APP_MODULES = 3


def lib_deps(i):
    """The libraries library `i` depends on directly."""
    return [i - 1] if i % 2 == 1 else []


def app_libs(n, libs):
    """The libraries app `n` depends on directly."""
    first = n % libs
    second = (n + 2) % libs
    return [first, second] if n % 3 == 0 and second != first else [first]


def lib_closure(i):
    """Library `i` and every library it depends on, transitively, in describe() order."""
    out = [i]
    for dep in lib_deps(i):
        out += lib_closure(dep)
    return out


def app_name(n, apps):
    return f"app{n:0{len(str(apps - 1))}d}"


def dependents(lib, apps, libs):
    """The apps whose closure holds library `lib`."""
    return [app_name(n, apps) for n in range(apps)
            if any(lib in lib_closure(direct) for direct in app_libs(n, libs))]


def describe_text(i, tags):
    """What library i's describe() returns; `tags` maps a library to its tag (default v1)."""
    parts = [f"lib{i}:{tags.get(i, 'v1')}"]
    third = THIRD_PARTY[i % len(THIRD_PARTY)]
    if third:
        parts.append({"six": "six", "packaging": "1.0", "attrs": "attrs",
                      "idna": "example.org"}[third[0]])
    for dep in lib_deps(i):
        parts.append(describe_text(dep, tags))
    return " ".join(parts)


def expected_output(n, apps, libs, lib_tags=None, app_tag="v1"):
    """The line app `n`'s console script prints."""
    lib_tags = lib_tags or {}
    name = app_name(n, apps)
    words = [f"{name}:{app_tag}"]
    if n % 4 == 0:
        words.append("click")
    words += [describe_text(i, lib_tags) for i in app_libs(n, libs)]
    return " ".join(words)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def pyproject(name, description, deps, workspace_deps, script=None):
    lines = [
        "[project]",
        f'name = "{name}"',
        'version = "1.0.0"',
        f'description = "{description}"',
        'requires-python = ">=3.10"',
        f"dependencies = {deps!r}".replace("'", '"'),
        "",
    ]
    if script:
        lines += ["[project.scripts]", f'{script[0]} = "{script[1]}"', ""]
    if workspace_deps:
        lines += ["[tool.uv.sources]"]
        lines += [f"{dep} = {{ workspace = true }}" for dep in workspace_deps]
        lines += [""]
    lines += ["[build-system]", 'requires = ["hatchling"]', 'build-backend = "hatchling.build"', ""]
    return "\n".join(lines)


def library(root, i):
    pkg = root / f"libs/lib{i}/src/wsb_lib{i}"
    third = THIRD_PARTY[i % len(THIRD_PARTY)]
    deps = [f"wsb-lib{d}" for d in lib_deps(i)]
    write(root / f"libs/lib{i}/pyproject.toml",
          pyproject(f"wsb-lib{i}", f"Library {i} of the generated workspace",
                    deps + ([third[0]] if third else []), deps))
    imports = [f"import {third[1]}"] if third else []
    imports += [f"import wsb_lib{d}" for d in lib_deps(i)]
    parts = [f'"lib{i}:" + TAG']
    if third:
        parts.append(third[2])
    parts += [f"wsb_lib{d}.describe()" for d in lib_deps(i)]
    write(pkg / "__init__.py", "\n".join(imports + [
        f"from wsb_lib{i}.mod0 import TAG",
        "",
        "",
        "def describe():",
        f'    return " ".join([{", ".join(parts)}])',
        "",
    ]))
    for m in range(LIB_MODULES):
        body = 'TAG = "v1"\n\n' if m == 0 else ""
        write(pkg / f"mod{m}.py", body + "".join(
            f"def f{m}_{k}(x):\n    return x * {k + 1} + {m}\n\n\n" for k in range(8)))


def app(root, n, apps, libs):
    name = app_name(n, apps)
    pkg = root / f"apps/{name}/src/wsb_{name}"
    wlibs = [f"wsb-lib{i}" for i in app_libs(n, libs)]
    third = ["click"] if n % 4 == 0 else []
    write(root / f"apps/{name}/pyproject.toml",
          pyproject(f"wsb-{name}", f"App {name} of the generated workspace", wlibs + third,
                    wlibs, (name, f"wsb_{name}.cli:main")))
    write(pkg / "__init__.py", "")
    imports = ["import click"] if third else []
    imports += [f"import wsb_lib{i}" for i in app_libs(n, libs)]
    words = [f'"{name}:" + TAG'] + (["click.__name__"] if third else [])
    words += [f"wsb_lib{i}.describe()" for i in app_libs(n, libs)]
    write(pkg / "cli.py", "\n".join(imports + [
        f"from wsb_{name}.mod0 import TAG",
        "",
        "",
        "def main():",
        f'    print(" ".join([{", ".join(words)}]))',
        "",
    ]))
    for m in range(APP_MODULES):
        body = 'TAG = "v1"\n\n' if m == 0 else ""
        write(pkg / f"mod{m}.py", body + f"def g{m}(x):\n    return x + {m}\n")


def generate(dest, apps, libs):
    dest = Path(dest)
    write(dest / "pyproject.toml", '[tool.uv.workspace]\nmembers = ["apps/*", "libs/*"]\n')
    write(dest / "project.toml", '[project]\nname = "wsbench"\n')
    for i in range(libs):
        library(dest, i)
    for n in range(apps):
        app(dest, n, apps, libs)


def edit_library(root, i, tag):
    path = Path(root) / f"libs/lib{i}/src/wsb_lib{i}/mod0.py"
    path.write_text(path.read_text().replace('TAG = "v1"', f'TAG = "{tag}"'))


def edit_app(root, name, tag):
    path = Path(root) / f"apps/{name}/src/wsb_{name}/mod0.py"
    path.write_text(path.read_text().replace('TAG = "v1"', f'TAG = "{tag}"'))


if __name__ == "__main__":
    generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
