"""labkit: learn AWS Lambda by doing it, on your own machine.

The names a notebook needs are importable from here; each lives in the sub-package
that owns it (see DESIGN.md).
"""
from __future__ import annotations

from labkit._lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    "Function": "labkit.runtime.function",
    "Invocation": "labkit.runtime.invocation",
    "Report": "labkit.runtime.invocation",
    "LabkitError": "labkit.errors",
    "doctor": "labkit.runtime.doctor",
    "check": "labkit.course.checks",
    "progress": "labkit.course.progress",
    "clock": "labkit.clock",
    "LambdaService": "labkit.service.lambda_service",
    "ApiGateway": "labkit.triggers.apigateway",
    "powertools_layer": "labkit.runtime.layers",
    "cost": "labkit.cost",
    "aws": "labkit.aws",
    "observe": "labkit.observe",
    "deploy": "labkit.deploy",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr("labkit", _EXPORTS, globals())
