"""An earlier revision's module, for a migration that restores what that revision made."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

_VERSIONS = Path(__file__).with_name("versions")


def revision_module(name: str) -> ModuleType:
    """`versions/<name>.py` loaded as a module (revision files are not importable by name)."""
    path = _VERSIONS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot read {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
