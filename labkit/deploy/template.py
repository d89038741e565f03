"""A SAM template read for deployment: its resources with Globals applied, parameters, outputs and line numbers.

Parsing is cfn-lint's (the same reader its checks use), so short-form tags (``!Ref``, ``!GetAtt``,
``!Sub``) arrive as their ``Fn::`` forms and every mapping knows its line in the file.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.deploy.errors import TemplateError
from labkit.runtime import limits

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
PSEUDO_PARAMETERS = ("AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix")


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    stack_name: str
    parameters: dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources") or {}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Outputs") or {}

    def where(self, node: Any) -> str:
        """`file:line` of a node of the template (the file alone when unknown)."""
        mark = getattr(node, "start_mark", None)
        return f"{self.path}:{mark.line + 1}" if mark is not None else str(self.path)


def load(path: str | Path, stack_name: str | None = None, parameters: dict[str, Any] | None = None) -> Template:
    """Read a template; `stack_name` defaults to its folder's name, `parameters` override Defaults."""
    from cfnlint.decode import decode

    path = Path(path)
    if not path.is_file():
        raise TemplateError(f"template {str(path)!r} does not exist: give the path of a SAM template, e.g. template.yaml")
    body, problems = decode(path)
    if problems or not isinstance(body, dict):
        details = "; ".join(f"{path}:{p.linenumber}: {p.message}" for p in problems or [])
        raise TemplateError(f"cannot read the template: {details or 'not a mapping'}")
    if not body.get("Resources"):
        raise TemplateError(f"{path}: the template has no Resources: add at least one resource")
    stack = stack_name or default_stack_name(path)
    values = {**_parameter_values(body, dict(parameters or {}), path), **_pseudo(stack)}
    _apply_globals(body)
    return Template(path, body, stack, values)


def default_stack_name(path: Path) -> str:
    """The stack a template deploys as by default: its folder's name, made a valid stack name."""
    folder = path.resolve().parent.name
    name = re.sub(r"[^a-zA-Z0-9-]", "-", folder).strip("-") or "stack"
    return name if name[0].isalpha() else f"stack-{name}"


def _pseudo(stack: str) -> dict[str, str]:
    return {
        "AWS::Region": limits.DEFAULT_REGION,
        "AWS::AccountId": limits.DEFAULT_ACCOUNT_ID,
        "AWS::StackName": stack,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }


def _parameter_values(body: dict[str, Any], given: dict[str, Any], path: Path) -> dict[str, Any]:
    declared = body.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"{path}: no parameter named {unknown} in the template's Parameters (it has {sorted(declared)})")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default: give a value, e.g. parameters={{'{name}': '...'}}")
        allowed = spec.get("AllowedValues")
        if allowed and value not in allowed:
            raise TemplateError(f"parameter {name}={value!r} is not one of its AllowedValues {list(allowed)}")
        values[name] = value
    return values


def _apply_globals(body: dict[str, Any]) -> None:
    """SAM's Globals: maps merge, lists add up (globals first), scalars are overridden by the resource."""
    shared = (body.get("Globals") or {}).get("Function")
    if not shared:
        return
    for resource in (body.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == SERVERLESS_FUNCTION:
            own = resource.get("Properties") or {}
            merged = _merge(copy.deepcopy(dict(shared)), own)
            if isinstance(resource.get("Properties"), dict):
                resource["Properties"].update(merged)
            else:
                resource["Properties"] = merged


def _merge(base: Any, own: Any) -> Any:
    if isinstance(base, dict) and isinstance(own, dict) and not _is_intrinsic(own):
        out = dict(base)
        for key, value in own.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(own, list):
        return base + own
    return own


def _is_intrinsic(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::"))
