"""The errors of `labkit deploy`: each names the template's problem and how to fix it."""
from __future__ import annotations

from labkit.errors import LabkitError


class DeployError(LabkitError):
    """A template could not be deployed; the message says which resource and why."""


class TemplateError(DeployError, ValueError):
    """The template is invalid: unreadable, failing cfn-lint, or referring to what it does not define."""


class UnsupportedError(DeployError, ValueError):
    """The template uses a resource type, event type or function that labkit deploy does not implement."""
