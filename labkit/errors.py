"""The exception classes labkit raises for the learner: each message says what went wrong and what to do."""
from __future__ import annotations


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose."""


class ConfigurationError(LabkitError, ValueError):
    """A function's configuration is invalid (handler string, memory, timeout, environment)."""


class PayloadTooLargeError(LabkitError, ValueError):
    """An invocation's request payload is over Lambda's limit."""


class BackendUnavailableError(LabkitError, RuntimeError):
    """The requested backend cannot run here (no Docker daemon, image not built, no permission)."""
