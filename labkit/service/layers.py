"""Lambda layers: the layer versions of one account, and a function's ``Layers`` resolved to folders.

:class:`LayerStore` implements PublishLayerVersion, GetLayerVersion (and GetLayerVersionByArn),
ListLayers, ListLayerVersions and DeleteLayerVersion, and keeps each version's permissions
(:mod:`labkit.service.layer_policy`); :func:`layer_version_document` and
:func:`layer_list_item` give their answers in the shapes of botocore's Lambda model. A layer's ZIP
is unpacked once (as a function's package is, :mod:`labkit.service.code`) and its folder is
what execution environments mount at ``/opt``. As on AWS, version numbers are never reused and a
deleted version stays usable by the functions that already reference it.

Limits (shared/FACTS.md): at most 5 layers per function; 50 MB zipped for a direct upload;
250 MB unzipped for a function's code and all its layers together.
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.runtime import limits
from labkit.service.code import UNZIPPED_MAX_BYTES, CodeStore
from labkit.service.exceptions import InvalidParameterValueException, ResourceNotFoundException
from labkit.service.layer_policy import LayerPolicies
from labkit.service.models import CodeArtifact, LayerUse, timestamp

_LAYER_NAME = re.compile(
    r"^(?:arn:[a-zA-Z0-9-]+:lambda:[a-z0-9-]+:\d{12}:layer:)?(?P<name>[a-zA-Z0-9-_]{1,140})$"
)
_LAYER_VERSION_ARN = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:[a-z0-9-]+:\d{12}:layer:(?P<name>[a-zA-Z0-9-_]{1,140}):(?P<version>[0-9]+)$"
)
NOT_FOUND = "The resource you requested does not exist."


def layer_arn(name: str, region: str = limits.DEFAULT_REGION, account: str = limits.DEFAULT_ACCOUNT_ID) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}"


def folder_size(folder: Path) -> int:
    """Bytes of every file under folder: a package's unzipped size."""
    return sum(
        (Path(root) / name).stat().st_size for root, _dirs, files in os.walk(folder) for name in files
    )


@dataclass(frozen=True)
class LayerVersion:
    """One published version of a layer."""

    name: str
    version: int
    content: CodeArtifact
    unzipped_size: int
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None
    created_date: str = field(default_factory=timestamp)

    @property
    def layer_arn(self) -> str:
        return layer_arn(self.name)

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def use(self) -> LayerUse:
        return LayerUse(self.arn, self.content.size, self.content.folder, self.unzipped_size)


class LayerStore:
    """Every layer version of one local account and region; thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        self._packages = CodeStore(data_dir)
        self._lock = threading.Lock()
        self._versions: dict[str, dict[int, LayerVersion]] = {}
        self._next: dict[str, int] = {}
        self.policies = LayerPolicies()

    def publish(self, name_or_arn: str, package: bytes, spec: dict[str, Any]) -> LayerVersion:
        """PublishLayerVersion: unpack the ZIP and record it as the layer's next version."""
        name = layer_name(name_or_arn)
        content = self._packages.store(name, package)
        layer = LayerVersion(
            name=name,
            version=0,
            content=content,
            unzipped_size=folder_size(content.folder),
            description=str(spec.get("Description") or "")[:256],
            compatible_runtimes=tuple(_string_list(spec, "CompatibleRuntimes", 15)),
            compatible_architectures=tuple(_string_list(spec, "CompatibleArchitectures", 2)),
            license_info=spec.get("LicenseInfo"),
        )
        with self._lock:
            number = self._next.get(name, 1)
            self._next[name] = number + 1
            layer = dataclasses.replace(layer, version=number)
            self._versions.setdefault(name, {})[number] = layer
        return layer

    def get(self, name_or_arn: str, version: Any) -> LayerVersion:
        found = self._find(name_or_arn, version)
        if found is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return found

    def existing(self, name_or_arn: str, version: Any) -> LayerVersion:
        """The version a permission operation names; 404 in the words those operations use."""
        found = self._find(name_or_arn, version)
        if found is None:
            raise ResourceNotFoundException(
                f"Layer version {layer_arn(layer_name(name_or_arn))}:{_version_number(version)} does not exist."
            )
        return found

    def _find(self, name_or_arn: str, version: Any) -> LayerVersion | None:
        name = layer_name(name_or_arn)
        number = _version_number(version)
        with self._lock:
            return self._versions.get(name, {}).get(number)

    def get_by_arn(self, arn: str) -> LayerVersion:
        match = _LAYER_VERSION_ARN.match(arn or "")
        if match is None:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy "
                "regular expression pattern: a layer version ARN, e.g. arn:aws:lambda:us-east-1:123456789012:layer:deps:1"
            )
        return self.get(match.group("name"), match.group("version"))

    def delete(self, name_or_arn: str, version: Any) -> None:
        """DeleteLayerVersion: gone from the listings, its permissions too; functions already using it keep
        its folder (idempotent)."""
        name = layer_name(name_or_arn)
        number = _version_number(version)
        with self._lock:
            self._versions.get(name, {}).pop(number, None)
        self.policies.drop(f"{layer_arn(name)}:{number}")

    def versions(self, name_or_arn: str, runtime: str | None = None, architecture: str | None = None) -> list[LayerVersion]:
        """ListLayerVersions: newest first, filtered by a compatible runtime or architecture."""
        name = layer_name(name_or_arn)
        with self._lock:
            versions = list(self._versions.get(name, {}).values())
        return [v for v in sorted(versions, key=lambda v: -v.version) if _matches(v, runtime, architecture)]

    def layers(self, runtime: str | None = None, architecture: str | None = None) -> list[LayerVersion]:
        """ListLayers: the latest matching version of every layer that has one."""
        with self._lock:
            names = sorted(self._versions)
        latest = []
        for name in names:
            matching = self.versions(name, runtime, architecture)
            if matching:
                latest.append(matching[0])
        return latest

    def resolve(self, arns: Any) -> tuple[LayerUse, ...]:
        """A function's ``Layers`` (version ARNs, in order) as the layers its environments mount."""
        if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
            raise InvalidParameterValueException(
                "Layers must be a list of layer version ARNs, e.g. ['arn:aws:lambda:us-east-1:123456789012:layer:deps:1']"
            )
        if len(arns) > limits.LAYERS_MAX:
            raise InvalidParameterValueException(f"Cannot reference more than {limits.LAYERS_MAX} layers.")
        uses: list[LayerUse] = []
        seen: set[str] = set()
        for arn in arns:
            match = _LAYER_VERSION_ARN.match(arn)
            if match is None:
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '[{', '.join(arns)}]' at 'layers' failed to satisfy constraint: "
                    "Member must satisfy constraint: [Member must satisfy regular expression pattern: "
                    "arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+] "
                    "(a layer version ARN ends in its version number)"
                )
            if match.group("name") in seen:
                raise InvalidParameterValueException(
                    "Two different versions of the same layer are not allowed to be referenced in the same function. "
                    f"{arn} has more than one version specified."
                )
            seen.add(match.group("name"))
            with self._lock:
                found = self._versions.get(match.group("name"), {}).get(int(match.group("version")))
            if found is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            uses.append(found.use())
        return tuple(uses)

    def close(self) -> None:
        self._packages.close()


def check_total_size(code_folder: Path, layers: tuple[LayerUse, ...]) -> None:
    """Lambda's 250 MB limit on a function's unzipped code and layers together."""
    if not layers:
        return
    total = folder_size(code_folder) + sum(layer.unzipped_size for layer in layers)
    if total > UNZIPPED_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of {UNZIPPED_MAX_BYTES} bytes. "
            f"The actual size is {total} bytes."
        )


def layer_name(name_or_arn: Any) -> str:
    match = _LAYER_NAME.match(name_or_arn if isinstance(name_or_arn, str) else "")
    if match is None:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{name_or_arn}' at 'layerName' failed to satisfy constraint: Member "
            "must satisfy regular expression pattern: a layer name (1-140 letters, digits, - or _) or its ARN"
        )
    return match.group("name")


def _version_number(version: Any) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{version}' at 'versionNumber' failed to satisfy constraint: Member "
            "must be a whole number"
        ) from None


def _string_list(spec: dict[str, Any], key: str, most: int) -> list[str]:
    values = spec.get(key) or []
    if not isinstance(values, list) or len(values) > most or not all(isinstance(v, str) for v in values):
        raise InvalidParameterValueException(f"{key} must be a list of at most {most} strings")
    return values


def _matches(layer: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    return (runtime is None or runtime in layer.compatible_runtimes) and (
        architecture is None or architecture in layer.compatible_architectures
    )


# --------------------------------------------------------------------------- shapes


def layer_list_item(layer: LayerVersion) -> dict[str, Any]:
    """LayerVersionsListItem."""
    out: dict[str, Any] = {
        "LayerVersionArn": layer.arn,
        "Version": layer.version,
        "Description": layer.description,
        "CreatedDate": layer.created_date,
    }
    if layer.compatible_runtimes:
        out["CompatibleRuntimes"] = list(layer.compatible_runtimes)
    if layer.compatible_architectures:
        out["CompatibleArchitectures"] = list(layer.compatible_architectures)
    if layer.license_info:
        out["LicenseInfo"] = layer.license_info
    return out


def layer_version_document(layer: LayerVersion, location: str) -> dict[str, Any]:
    """PublishLayerVersion's and GetLayerVersion's answer."""
    return {
        "Content": {"Location": location, "CodeSha256": layer.content.sha256, "CodeSize": layer.content.size},
        "LayerArn": layer.layer_arn,
        **layer_list_item(layer),
    }


def layers_list_item(layer: LayerVersion) -> dict[str, Any]:
    """LayersListItem: a layer and its latest matching version."""
    return {"LayerName": layer.name, "LayerArn": layer.layer_arn, "LatestMatchingVersion": layer_list_item(layer)}
