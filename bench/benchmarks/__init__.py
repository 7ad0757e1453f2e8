"""The registered benchmarks: every module of this package is imported, so a new benchmark is one new
module here with a ``@benchmark``-decorated setup function (see bench/README.md)."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
