"""The Spark driver script `pybuild deploy spark` writes: it runs the bundle's entry point."""

import importlib
import sys

module, _, function = {{entry_point}}.partition(":")
target = importlib.import_module(module)
for name in function.split(".") if function else []:
    target = getattr(target, name)
sys.exit(target() if function else 0)
