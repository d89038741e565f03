"""Tags of Lambda's resources: which resource the ARN of TagResource, UntagResource or ListTags names.

Functions (unqualified: Lambda keeps no tags on versions and aliases), event source mappings
(``arn:aws:lambda:<region>:<account>:event-source-mapping:<uuid>``) and code signing
configurations keep tags, each in its own store; botocore's model checks the ARN's form before
it gets here (:mod:`labkit.service.validation`).
"""
from __future__ import annotations

import re
from typing import Protocol

from labkit.service.exceptions import InvalidParameterValueException
from labkit.service.models import parse_function_ref

_KIND = re.compile(r"^arn:[^:]+:lambda:[^:]+:\d{12}:(?P<kind>event-source-mapping|code-signing-config):(?P<id>.+)$")


class TagStore(Protocol):
    """A store of tagged resources, by the key this module derives from an ARN (a name, a UUID, the ARN)."""

    def tags(self, key: str) -> dict[str, str]: ...

    def tag(self, key: str, tags: dict[str, str]) -> None: ...

    def untag(self, key: str, keys: list[str]) -> None: ...


class ResourceTags:
    """TagResource, UntagResource and ListTags, handed to the store of the resource an ARN names."""

    def __init__(self, functions: TagStore, mappings: TagStore, code_signing: TagStore) -> None:
        self._functions = functions
        self._mappings = mappings
        self._code_signing = code_signing

    def list_tags(self, arn: str) -> dict[str, str]:
        store, key = self._store_of(arn)
        return store.tags(key)

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        store, key = self._store_of(arn)
        store.tag(key, tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        store, key = self._store_of(arn)
        store.untag(key, keys)

    def _store_of(self, arn: str) -> tuple[TagStore, str]:
        match = _KIND.match(arn)
        if match is not None and match.group("kind") == "event-source-mapping":
            return self._mappings, match.group("id")
        if match is not None:
            return self._code_signing, arn
        name, qualifier = parse_function_ref(arn)
        if qualifier is not None:
            raise InvalidParameterValueException(
                "Tags on function aliases and versions are not supported. Please specify a function ARN."
            )
        return self._functions, name
