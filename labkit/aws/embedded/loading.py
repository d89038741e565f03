"""Importing moto once, on one thread, before anything of it is used.

moto's core modules import each other in a circle; two threads importing moto modules at once
(the warm-up thread and a first request, say) can find one half-initialised and fail with
``ImportError: cannot import name 'BackendDict' from partially initialized module``. Every entry
point of :mod:`labkit.aws.embedded` calls :func:`load_moto` first: the first call imports every
moto module labkit uses, under one lock, and the other threads wait for it.
"""
from __future__ import annotations

import importlib
import threading

MODULES = (
    "moto.core",
    "moto.core.request",
    "moto.core.parse",
    "moto.core.routing",
    "moto.core.utils",
    "moto.server",
    "moto.moto_api._internal",
    "moto.iam.models",
    "moto.secretsmanager.models",
    "moto.logs.models",
    "moto.logs.exceptions",
    "moto.cloudwatch.models",
    "moto.events.models",
    "moto.events.exceptions",
    "moto.s3.models",
    "moto.s3.notifications",
    "moto.s3.exceptions",
    "moto.sns.models",
)
"""Every moto module the seam imports, in an order that imports moto's core first."""

_lock = threading.Lock()
_loaded = False


def load_moto() -> None:
    """Import :data:`MODULES` (once per process; later calls return at once)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for name in MODULES:
                importlib.import_module(name)
            _loaded = True
