"""What every deploy step shares: the template, the values resolved so far, boto3 clients, and the record of steps."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from labkit.deploy.intrinsics import Scope
from labkit.deploy.template import Template

if TYPE_CHECKING:
    from labkit.service.lambda_service import LambdaService


@dataclass(frozen=True)
class Step:
    """One thing the deploy did to the local AWS."""

    resource: str  # logical id (with the event's name for a trigger: Worker/Queue)
    kind: str  # resource or event type
    action: str  # created, updated, unchanged, deleted, or failed (to delete, with the reason in detail)
    detail: str = ""

    def __str__(self) -> str:
        return f"  {self.action:<9} {self.kind:<32} {self.resource}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class StackResource:
    """One resource of a stack's record: its type, physical id, and what deleting it needs."""

    type: str
    physical_id: str
    properties: dict[str, str] = field(default_factory=dict)


KEPT_ACTIONS = ("created", "updated", "unchanged")  # the steps whose resource the stack now holds


@dataclass
class Context:
    """The state of one deployment of one template."""

    template: Template
    client: Callable[[str], Any]  # service name -> its boto3 client (one per service)
    log: Callable[[str], None]
    service: LambdaService | None = None  # the in-process Lambda service behind the endpoint, if any
    scope: Scope = field(default_factory=Scope)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resources: dict[str, StackResource] = field(default_factory=dict)  # what this deploy holds, by logical id

    def aws(self, service: str) -> Any:
        return self.client(service)

    def record(self, resource: str, kind: str, action: str, detail: str = "", *, physical_id: str | None = None,
               **delete_with: str) -> None:
        """Report one step; a deployed resource joins the stack's record (physical id: `detail` unless given)."""
        step = Step(resource, kind, action, detail)
        self.steps.append(step)
        self.log(str(step))
        if action in KEPT_ACTIONS:
            self.resources[resource] = StackResource(kind, physical_id or detail, delete_with)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            self.log(f"  note: {text}")

    def physical_name(self, logical_id: str, given: Any = None, most: int = 64, lower: bool = False) -> str:
        """The resource's name: the template's, else `<stack>-<LogicalId>` (stable, so redeploys update in place)."""
        if given:
            return str(given)
        name = f"{self.template.stack_name}-{logical_id}"
        name = name.lower() if lower else name
        return re.sub(r"[^a-zA-Z0-9_.-]", "-", name)[:most]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

