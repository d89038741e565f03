"""CloudFormation's intrinsic functions on a template's values: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split.

A :class:`Scope` knows the values a deployment has so far (parameters, pseudo parameters, each
deployed resource's ``Ref`` value and attributes); :meth:`Scope.resolve` replaces every intrinsic in
a value by its result. :func:`references` lists the logical ids a value depends on, so resources
deploy in dependency order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from labkit.deploy.errors import TemplateError, UnsupportedError

NO_VALUE = object()  # AWS::NoValue: the property is left out
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")
_SUPPORTED = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split")


@dataclass
class Scope:
    """The names a template's intrinsics can use: parameters, pseudo parameters, deployed resources."""

    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(
            f"!Ref {name}: the template defines no parameter or resource {name!r} (or it is not deployed yet): "
            "check the spelling, and that the resource is in Resources"
        )

    def get_att(self, name: str, attribute: str) -> Any:
        known = self.attributes.get(name)
        if known is None:
            raise TemplateError(f"!GetAtt {name}.{attribute}: the template defines no resource {name!r}")
        if attribute not in known:
            raise TemplateError(
                f"!GetAtt {name}.{attribute}: {name} has no attribute {attribute!r} in labkit deploy; "
                f"it has {sorted(known)}"
            )
        return known[attribute]

    def resolve(self, value: Any) -> Any:
        """value with every intrinsic function replaced by its result (AWS::NoValue entries dropped)."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._call(key, argument)
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[str(key)] = resolved
            return out
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def _call(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self.ref(str(argument))
        if function == "Fn::GetAtt":
            name, attribute = _get_att_target(argument)
            return self.get_att(name, attribute)
        if function == "Fn::Sub":
            return self._sub(argument)
        if function == "Fn::Join":
            delimiter, items = _pair(function, argument)
            return str(delimiter).join(str(item) for item in self.resolve(items))
        if function == "Fn::Select":
            index, items = _pair(function, argument)
            return self.resolve(items)[int(self.resolve(index))]
        if function == "Fn::Split":
            delimiter, text = _pair(function, argument)
            return str(self.resolve(text)).split(str(delimiter))
        raise UnsupportedError(
            f"{function} is not supported by labkit deploy: use one of {', '.join(_SUPPORTED)} "
            "(conditions and Fn::If included: deploy one variant of the template)"
        )

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = _pair("Fn::Sub", argument)
            extra = self.resolve(variables)
        else:
            text, extra = argument, {}

        def value(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return str(self.get_att(resource, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(value, str(text)).replace("${!", "${")


def references(value: Any) -> set[str]:
    """The logical ids and parameters a value names through Ref, Fn::GetAtt and Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                found.add(str(argument))
                return found
            if key == "Fn::GetAtt":
                found.add(_get_att_target(argument)[0])
                return found
            if key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) else argument
                local = set(argument[1]) if isinstance(argument, list) and isinstance(argument[1], dict) else set()
                for name in _SUB_VARIABLE.findall(str(text)):
                    if name not in local:
                        found.add(name.split(".", 1)[0] if not name.startswith("AWS::") else name)
                if isinstance(argument, list):
                    found |= references(argument[1])
                return found
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def _get_att_target(argument: Any) -> tuple[str, str]:
    if isinstance(argument, str) and "." in argument:
        name, attribute = argument.split(".", 1)
        return name, attribute
    if isinstance(argument, list) and len(argument) == 2:
        return str(argument[0]), str(argument[1])
    raise TemplateError(f"Fn::GetAtt {argument!r}: write !GetAtt Resource.Attribute")


def _pair(function: str, argument: Any) -> tuple[Any, Any]:
    if not isinstance(argument, list) or len(argument) != 2:
        raise TemplateError(f"{function} takes a list of two items, not {argument!r}")
    return argument[0], argument[1]
