"""Lazy public names for a package's __init__: import a name's module on first use, so imports stay fast."""
from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module-level `__getattr__` serving `exports` (name -> module) and caching each in `namespace`.

    A name mapped to the sub-package of that name (``"cost": "labkit.cost"``) serves the sub-package.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = import_module(module)
        value = imported if module == f"{package}.{name}" else getattr(imported, name)  # a sub-package itself
        namespace[name] = value
        return value

    return __getattr__
