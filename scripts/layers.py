#!/usr/bin/env python3
"""Checks the crate's layering (see docs/architecture.md, "Layers"): each file under src/
may import (`crate::...`) only from its own layer or the layers below it, and the files'
imports form no circle. Prints what breaks either rule, and the file and line counts;
exits 1 if anything breaks.

    python3 scripts/layers.py [--quiet]
"""
import os
import re
import signal
import statistics
import sys

# Top to bottom.
LAYERS = ["commands", "steps", "python", "engine", "base"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    """`src/steps/bundle/pex.rs` → ("steps", "bundle", "pex")."""
    rel = os.path.relpath(path, ROOT)[: -len(".rs")]
    parts = tuple(rel.split(os.sep))
    return parts


def files():
    for dirpath, _, names in os.walk(ROOT):
        for name in sorted(names):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def code_of(text):
    """The text without `#[cfg(test)] mod tests { ... }` (tests may reach anywhere) and
    without comments."""
    cut = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
    if cut:
        text = text[: cut.start()]
    return re.sub(r"//[^\n]*", "", text)


def absolute(text, module):
    """`super::x` and `self::x` written as `crate::...` paths, seen from `module` (whose
    file is `module`'s last part: its `self` is the module itself)."""
    def resolve(match):
        hops = match.group(0).count("super::")
        base = module[: len(module) - hops] if hops else module
        return "crate::" + "".join(part + "::" for part in base)
    return re.sub(r"\b(?:self::|(?:super::)+)", resolve, text)


def imports(text, modules):
    """The modules a file names with `crate::a::b::...` (the longest known prefix), also
    inside `use crate::{a::b, c}` groups."""
    found = set()
    # Not the prefix of a `crate::a::{b, c}` group: its items are read below.
    paths = re.findall(r"crate::((?:\w+::)*\w+)\b(?!::)", text)
    for group in re.findall(r"crate::((?:\w+::)*)\{([^}]*)\}", text, re.S):
        prefix, items = group
        for item in items.split(","):
            item = item.strip().split(" as ")[0]
            if item and item != "self":
                paths.append(prefix + item)
            elif item == "self":
                paths.append(prefix.rstrip(":"))
    for path in paths:
        parts = tuple(p for p in path.split("::") if p)
        for n in range(len(parts), 0, -1):
            if parts[:n] in modules:
                found.add(parts[:n])
                break
    return found


def main():
    quiet = "--quiet" in sys.argv
    paths = {module_of(p): p for p in files()}
    modules = set(paths)
    graph = {}
    broken = []
    for module, path in sorted(paths.items()):
        text = absolute(code_of(open(path, encoding="utf-8").read()), module)
        targets = imports(text, modules) - {module}
        # A parent names its child modules without `crate::` (`pex::Pex`).
        for child in re.findall(r"(?m)^\s*(?:pub(?:\([^)]*\))? )?mod (\w+);", text):
            if re.search(r"\b" + child + r"::", text) and module + (child,) in modules:
                targets.add(module + (child,))
        graph[module] = targets
        layer = module[0] if module[0] in LAYERS else None
        if layer is None:
            continue
        for target in targets:
            other = target[0]
            if other in LAYERS and LAYERS.index(other) < LAYERS.index(layer):
                broken.append(f"{path}: imports {'::'.join(target)} from a layer above")
    # Circles: strongly connected components of more than one file.
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for comp in comps:
        names = sorted("/".join(m) + ".rs" for m in comp)
        broken.append(f"import circle of {len(comp)} files: {', '.join(names)}")
    lines = {p: sum(1 for _ in open(p, encoding="utf-8")) for p in paths.values()}
    if not quiet:
        counts = sorted(lines.values())
        print(f"{len(counts)} files, {sum(counts)} lines, median {statistics.median(counts):.0f}, "
              f"largest {counts[-1]}")
        for path, n in sorted(lines.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {n:5} {os.path.relpath(path, os.path.join(ROOT, '..'))}")
    for line in broken:
        print(line)
    return 1 if broken else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends it quietly
    sys.exit(main())
