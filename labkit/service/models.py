"""The Lambda service's state: functions, versions, aliases, concurrency settings, event-invoke configs.

State only (no HTTP, no processes): :class:`LambdaModel` keeps it behind one lock and raises the
API's errors (:mod:`labkit.service.exceptions`) when a request does not fit the state, as Lambda
would. Versions are frozen :class:`VersionConfig` records: publishing copies ``$LATEST``.

Function states, as Lambda reports them: a created function (and a version published with it) is
``State: Pending`` and an updated ``$LATEST`` is ``LastUpdateStatus: InProgress`` for
:attr:`LambdaModel.transition_s` lesson seconds; meanwhile invoking a Pending function, updating,
or publishing is a ``ResourceConflictException``, and invokes of an updating ``$LATEST`` run its
previous configuration. A transition that ends gets a new RevisionId (settled lazily, on the next
read, so nothing runs in the background). Provisioned concurrency is likewise ``IN_PROGRESS`` with
nothing allocated for :attr:`LambdaModel.provisioning_s` lesson seconds after it was put, then
``READY`` (or ``FAILED``), settled on read the same way.

The unreserved-concurrency floor: Lambda keeps at least 100 of an account's concurrency
unreserved (the default account limit is 1,000). An account made smaller for a lesson keeps a
tenth of its limit unreserved instead (:func:`unreserved_floor`): 100 at 1,000 and above, 10 at
100, 1 at 10.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.runtime import limits
from labkit.service.clock import CLOCK, LessonClock
from labkit.service.exceptions import (
    ForeignAccountException,
    InvalidParameterValueException,
    PreconditionFailedException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
    not_found,
)

LATEST = "$LATEST"
CREATING = "Creating"
UPDATING = "Updating"
DEFAULT_TRANSITION_S = 0.3  # lesson seconds a function stays Pending / InProgress (LABKIT_STATE_TRANSITION_S)
DEFAULT_PROVISIONING_S = 5.0  # lesson seconds provisioned concurrency stays IN_PROGRESS (AWS: a minute or more)
DEFAULT_ACCOUNT_CONCURRENCY = 1_000  # shared/FACTS.md: 1,000 per region per account by default
UNRESERVED_MIN = 100  # Lambda keeps at least this much of the account's concurrency unreserved
DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600
MAX_RETRY_RANGE = (0, 2)
MAX_EVENT_AGE_RANGE = (60, 21_600)

_FUNCTION_REF = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:|(?P<account2>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$"
)
_ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$")


def unreserved_floor(account_limit: int) -> int:
    """The concurrency PutFunctionConcurrency must leave unreserved: 100, or a tenth of a smaller lesson account."""
    return min(UNRESERVED_MIN, math.ceil(account_limit / 10))


def timestamp(now: float | None = None) -> str:
    """Lambda's LastModified format: ``2024-05-01T12:00:00.000+0000``."""
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"


def function_arn(name: str, qualifier: str | None = None, region: str = limits.DEFAULT_REGION,
                 account: str = limits.DEFAULT_ACCOUNT_ID) -> str:
    base = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def parse_function_ref(ref: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """(name, qualifier) from a name, `name:qualifier`, a partial ARN or a full ARN (qualifier optional)."""
    match = _FUNCTION_REF.match(ref or "")
    if not match or len(match.group("name")) > 64:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{ref}' at 'functionName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: a function name (1-64 letters, digits, - or _), or its ARN"
        )
    _check_reachable(match.group("region"), match.group("account") or match.group("account2"))
    derived = match.group("qualifier")
    if derived and qualifier and derived != qualifier:
        raise InvalidParameterValueException("The derived qualifier from the function name does not match the specified qualifier.")
    return match.group("name"), derived or qualifier or None


def _check_reachable(region: str | None, account: str | None) -> None:
    """A function ARN of another region is not found (404), of another account denied (403), as on Lambda."""
    if region and region != limits.DEFAULT_REGION:
        raise ResourceNotFoundException(
            f"Functions from '{region}' are not reachable in this region ('{limits.DEFAULT_REGION}')"
        )
    if account and account != limits.DEFAULT_ACCOUNT_ID:
        raise ForeignAccountException(account)


@dataclass(frozen=True)
class CodeArtifact:
    """An unpacked deployment package: its folder and the figures Lambda reports for it."""

    folder: Path
    sha256: str  # base64 of the zip's SHA-256, as CodeSha256
    size: int  # bytes of the zip, as CodeSize
    zip_path: Path | None = None


@dataclass(frozen=True)
class LayerUse:
    """A layer version a function references: its ARN, zipped size, unpacked folder (mounted at /opt)."""

    arn: str
    code_size: int
    folder: Path
    unzipped_size: int = 0


@dataclass(frozen=True)
class VersionConfig:
    """One version's configuration and code ($LATEST or a published, frozen version)."""

    function_name: str
    runtime: str
    role: str
    handler: str
    code: CodeArtifact
    version: str = LATEST
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    environment_sent: bool = False  # the request had an Environment (AWS then echoes it, even empty)
    architectures: tuple[str, ...] = ("x86_64",)
    ephemeral_storage: int = 512
    dead_letter_arn: str | None = None
    log_format: str = "Text"
    log_group: str | None = None
    application_log_level: str | None = None  # LoggingConfig with LogFormat JSON (default INFO)
    system_log_level: str | None = None
    tracing_mode: str = "PassThrough"
    layers: tuple[LayerUse, ...] = ()
    last_modified: str = field(default_factory=timestamp)
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    transition: str | None = None  # CREATING (State Pending) or UPDATING (LastUpdateStatus InProgress)
    settles_at: float = 0.0  # lesson time the transition ends
    build_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # what execution environments are made from

    @property
    def arn(self) -> str:
        """The unqualified ARN for $LATEST, the qualified one for a published version."""
        return function_arn(self.function_name, None if self.version == LATEST else self.version)

    @property
    def qualified_arn(self) -> str:
        return function_arn(self.function_name, self.version)

    def fingerprint(self) -> str:
        """What PublishVersion compares: code and every setting a version freezes."""
        keys = ("runtime", "role", "handler", "timeout", "memory_size", "environment", "architectures",
                "ephemeral_storage", "dead_letter_arn", "log_format", "log_group", "tracing_mode", "layers",
                "application_log_level", "system_log_level")
        data = {key: getattr(self, key) for key in keys}
        data["code"] = self.code.sha256
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    def replace(self, **changes: Any) -> VersionConfig:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Alias:
    name: str
    function_version: str
    description: str = ""
    weights: dict[str, float] = field(default_factory=dict)  # RoutingConfig.AdditionalVersionWeights
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Allocation:
    """Where provisioning ended (READY or FAILED): reported from lesson time `settles_at` on."""

    allocated: int
    status: str
    reason: str | None
    settles_at: float


@dataclass(frozen=True)
class ProvisionedConfig:
    qualifier: str
    requested: int
    allocated: int = 0
    status: str = "IN_PROGRESS"
    status_reason: str | None = None
    last_modified: str = field(default_factory=timestamp)
    pending: Allocation | None = None  # reported as IN_PROGRESS with nothing allocated until it settles

    def settled(self, now: float) -> ProvisionedConfig:
        """This config as of lesson time `now`: the pending allocation once its time has come."""
        if self.pending is None or self.pending.settles_at > now:
            return self
        done = self.pending
        return dataclasses.replace(
            self, allocated=done.allocated, status=done.status, status_reason=done.reason, pending=None
        )


@dataclass(frozen=True)
class EventInvokeConfig:
    """Asynchronous invocation settings of one qualifier (None: Lambda's default)."""

    qualifier: str
    maximum_retry_attempts: int | None = None
    maximum_event_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    last_modified: float = field(default_factory=time.time)

    @property
    def retries(self) -> int:
        return DEFAULT_MAX_RETRY_ATTEMPTS if self.maximum_retry_attempts is None else self.maximum_retry_attempts

    @property
    def max_age_s(self) -> int:
        return DEFAULT_MAX_EVENT_AGE_S if self.maximum_event_age_s is None else self.maximum_event_age_s


@dataclass
class FunctionState:
    """A function: $LATEST, its published versions, aliases and settings."""

    name: str
    latest: VersionConfig
    previous: VersionConfig | None = None  # what invokes run while $LATEST is updating
    versions: dict[str, VersionConfig] = field(default_factory=dict)
    next_version: int = 1
    aliases: dict[str, Alias] = field(default_factory=dict)
    reserved: int | None = None
    provisioned: dict[str, ProvisionedConfig] = field(default_factory=dict)
    event_configs: dict[str, EventInvokeConfig] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def version(self, version: str) -> VersionConfig:
        if version == LATEST:
            return self.latest
        try:
            return self.versions[version]
        except KeyError:
            raise not_found(function_arn(self.name, version)) from None

    def alias(self, name: str) -> Alias:
        try:
            return self.aliases[name]
        except KeyError:
            raise qualifier_not_found(self.name, name) from None

    def has_qualifier(self, qualifier: str) -> bool:
        return qualifier == LATEST or qualifier in self.versions or qualifier in self.aliases


class LambdaModel:
    """Every function of one local Lambda account and region; thread-safe."""

    def __init__(
        self, account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY, clock: LessonClock | None = None,
        transition_s: float = DEFAULT_TRANSITION_S, provisioning_s: float = DEFAULT_PROVISIONING_S,
    ) -> None:
        self._lock = threading.RLock()
        self._functions: dict[str, FunctionState] = {}
        self._account_limit = _check_account_limit(account_concurrency)
        self._reserved_sum = 0
        self.clock = clock or CLOCK
        self.transition_s = transition_s
        self.provisioning_s = provisioning_s
        self._unsettled: dict[str, float] = {}  # function name -> lesson time its last transition ends

    # -- account ----------------------------------------------------------------------------

    @property
    def account_limit(self) -> int:
        return self._account_limit

    def set_account_limit(self, limit: int) -> None:
        """Change the account's concurrency limit (a lesson's quota); reservations must still fit."""
        limit = _check_account_limit(limit)
        with self._lock:
            reserved = self.reserved_total()
            floor = unreserved_floor(limit)
            if limit - reserved < floor:
                raise InvalidParameterValueException(
                    f"ConcurrentExecutions={limit} leaves {limit - reserved} unreserved after the {reserved} reserved "
                    f"by functions, below the minimum of {floor}: lower reserved concurrency first"
                )
            self._account_limit = limit

    def reserved_total(self) -> int:
        return self._reserved_sum

    def _update_reserved_sum(self) -> None:
        """Under the lock, after any change of reservations: the sum the invoke path reads."""
        self._reserved_sum = sum(fn.reserved or 0 for fn in self._functions.values())

    def unreserved_limit(self) -> int:
        with self._lock:
            return self._account_limit - self.reserved_total()

    # -- functions ----------------------------------------------------------------------------

    def create_function(self, config: VersionConfig, tags: dict[str, str] | None = None) -> FunctionState:
        with self._lock:
            if config.function_name in self._functions:
                raise ResourceConflictException(f"Function already exist: {config.function_name}")
            state = FunctionState(config.function_name, self._begin(config, CREATING), tags=dict(tags or {}))
            self._functions[config.function_name] = state
            return state

    def _begin(self, config: VersionConfig, transition: str) -> VersionConfig:
        """`config` at the start of a transition (Pending or InProgress), ending transition_s from now."""
        settles_at = self.clock.now() + self.transition_s
        self._unsettled[config.function_name] = settles_at
        return config.replace(transition=transition, settles_at=settles_at)

    def _settle(self, state: FunctionState) -> None:
        """Under the lock: end the transitions of `state` whose time has come (each a new RevisionId)."""
        until = self._unsettled.get(state.name)
        if until is None:
            return
        now = self.clock.now()
        if state.latest.transition and state.latest.settles_at <= now:
            state.latest = state.latest.replace(transition=None, revision_id=str(uuid.uuid4()))
            state.previous = None
        for number, version in state.versions.items():
            if version.transition and version.settles_at <= now:
                state.versions[number] = version.replace(transition=None, revision_id=str(uuid.uuid4()))
        for qualifier, config in state.provisioned.items():
            state.provisioned[qualifier] = config.settled(now)
        if until <= now:
            del self._unsettled[state.name]

    def check_updatable(self, state: FunctionState) -> None:
        """ResourceConflictException while $LATEST is still being created or updated."""
        with self._lock:
            self._settle(state)
            latest = state.latest
            if latest.transition == CREATING:
                raise pending_conflict()
            if latest.transition == UPDATING:
                raise ResourceConflictException(
                    f"The operation cannot be performed at this time. An update is in progress for resource: {latest.arn}"
                )

    def function(self, name: str) -> FunctionState:
        with self._lock:
            try:
                state = self._functions[name]
            except KeyError:
                raise not_found(function_arn(name)) from None
            self._settle(state)
            return state

    def functions(self) -> list[FunctionState]:
        with self._lock:
            for state in self._functions.values():
                self._settle(state)
            return sorted(self._functions.values(), key=lambda fn: fn.name)

    def resolve(self, name: str, qualifier: str | None) -> tuple[FunctionState, VersionConfig, Alias | None]:
        """The configuration a qualifier names: $LATEST, a version, or an alias's primary version."""
        with self._lock:
            state = self._functions.get(name)
            if state is None:
                raise not_found(function_arn(name, qualifier))
            self._settle(state)
            if qualifier is None or qualifier == LATEST:
                return state, state.latest, None
            if qualifier in state.versions:
                return state, state.versions[qualifier], None
            if qualifier in state.aliases:
                alias = state.aliases[qualifier]
                return state, state.version(alias.function_version), alias
            if qualifier.isdigit():
                raise not_found(function_arn(name, qualifier))
            raise ResourceNotFoundException(f"Function not found: {function_arn(name, qualifier)}")

    def resolve_invocable(self, name: str, qualifier: str | None) -> tuple[FunctionState, VersionConfig, Alias | None]:
        """What an invoke of the qualifier runs: as :meth:`resolve`, but $LATEST's previous configuration
        while an update is in progress, and a ResourceConflictException while the version is Pending."""
        with self._lock:
            state, config, alias = self.resolve(name, qualifier or LATEST)  # not found: the ARN ends :$LATEST
            if config.transition == CREATING:
                raise pending_conflict()
            if config.transition == UPDATING and state.previous is not None:
                config = state.previous
            return state, config, alias

    def update_latest(self, name: str, revision_id: str | None = None, **changes: Any) -> VersionConfig:
        """Replace $LATEST with changes applied (InProgress until it settles); a new RevisionId and LastModified."""
        with self._lock:
            state = self.function(name)
            _check_revision(revision_id, state.latest.revision_id)
            self.check_updatable(state)
            state.previous = state.latest
            state.latest = self._begin(
                state.latest.replace(
                    **changes, last_modified=timestamp(), revision_id=str(uuid.uuid4()), build_id=uuid.uuid4().hex
                ),
                UPDATING,
            )
            return state.latest

    def publish_version(
        self, name: str, description: str | None = None, code_sha256: str | None = None, revision_id: str | None = None,
        *, with_change: bool = False,
    ) -> tuple[VersionConfig, bool]:
        """Freeze $LATEST as the next version; (the version, True when new). Unchanged since the last: that one.

        `with_change`: published by the create or code update that started $LATEST's transition
        (``Publish``), so the version is Pending with it; otherwise $LATEST must have settled.
        """
        with self._lock:
            state = self.function(name)
            if not with_change:
                self.check_updatable(state)
            latest = state.latest
            if code_sha256 and code_sha256 != latest.code.sha256:
                raise InvalidParameterValueException(
                    f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST ({latest.code.sha256}). "
                    "Please try again with the CodeSHA256 in $LATEST."
                )
            _check_revision(revision_id, latest.revision_id)
            if state.versions:
                last = state.versions[max(state.versions, key=int)]
                if last.fingerprint() == latest.fingerprint():
                    return last, False
            version = str(state.next_version)
            state.next_version += 1
            frozen = latest.replace(
                version=version,
                description=latest.description if description is None else description,
                last_modified=timestamp(),
                revision_id=str(uuid.uuid4()),
                transition=None,
            )
            if with_change:
                frozen = self._begin(frozen, CREATING)
            state.versions[version] = frozen
            return frozen, True

    def delete_function(self, name: str, qualifier: str | None = None) -> list[VersionConfig]:
        """Delete the function (every version) or one published version; return the versions removed."""
        with self._lock:
            state = self.function(name)
            if qualifier is None:
                del self._functions[name]
                self._update_reserved_sum()
                return [state.latest, *state.versions.values()]
            if qualifier == LATEST:
                raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
            if qualifier in state.aliases:
                raise InvalidParameterValueException(
                    "Deletion of aliases is not supported with DeleteFunction: use DeleteAlias."
                )
            version = state.version(qualifier)
            users = sorted(
                alias.name for alias in state.aliases.values()
                if alias.function_version == qualifier or qualifier in alias.weights
            )
            if users:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: {users}"
                )
            del state.versions[qualifier]
            state.provisioned.pop(qualifier, None)
            state.event_configs.pop(qualifier, None)
            return [version]

    def tags(self, name: str) -> dict[str, str]:
        with self._lock:
            return dict(self.function(name).tags)

    def tag(self, name: str, tags: dict[str, str]) -> None:
        with self._lock:
            self.function(name).tags.update({str(k): str(v) for k, v in tags.items()})

    def untag(self, name: str, keys: list[str]) -> None:
        with self._lock:
            state = self.function(name)
            for key in keys:
                state.tags.pop(key, None)

    # -- aliases -------------------------------------------------------------------------------

    def create_alias(
        self, name: str, alias: str, function_version: str, description: str = "", weights: dict[str, float] | None = None
    ) -> Alias:
        with self._lock:
            state, _config, _alias = self.resolve(name, function_version)  # not found: the ARN names the version
            if not _ALIAS_NAME.match(alias or ""):
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '{alias}' at 'name' failed to satisfy constraint: Member must "
                    "satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
                )
            if alias in state.aliases:
                raise ResourceConflictException(f"Alias already exists: {function_arn(name, alias)}")
            self._check_alias_target(state, function_version, weights or {})
            created = Alias(alias, function_version, description or "", dict(weights or {}))
            state.aliases[alias] = created
            return created

    def update_alias(
        self,
        name: str,
        alias: str,
        function_version: str | None = None,
        description: str | None = None,
        weights: dict[str, float] | None = None,
        revision_id: str | None = None,
    ) -> Alias:
        with self._lock:
            state = self.function(name)
            current = state.aliases.get(alias)
            if current is None:
                raise ResourceNotFoundException(f"Alias not found: {function_arn(name, alias)}")
            _check_revision(revision_id, current.revision_id)
            version = current.function_version if function_version is None else function_version
            new_weights = current.weights if weights is None else dict(weights)
            self._check_alias_target(state, version, new_weights)
            updated = Alias(
                alias,
                version,
                current.description if description is None else description,
                new_weights,
            )
            state.aliases[alias] = updated
            return updated

    def delete_alias(self, name: str, alias: str) -> None:
        with self._lock:
            state = self.function(name)
            state.aliases.pop(alias, None)  # deleting an alias that does not exist is no error on Lambda
            state.provisioned.pop(alias, None)
            state.event_configs.pop(alias, None)

    @staticmethod
    def _check_alias_target(state: FunctionState, version: str, weights: dict[str, float]) -> None:
        if version != LATEST:
            state.version(version)
        if len(weights) > 1:
            raise InvalidParameterValueException(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        for extra, weight in weights.items():
            if version == LATEST or extra == LATEST:
                raise InvalidParameterValueException(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if extra == version:
                raise InvalidParameterValueException(
                    f"Invalid function version {version}. Function version {version} is already included in routing "
                    "configuration."
                )
            state.version(extra)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
                raise InvalidParameterValueException(
                    f"Invalid function version weight {weight!r} for version {extra}: use a number from 0.0 to 1.0"
                )

    # -- concurrency -------------------------------------------------------------------------------

    def put_reserved(self, name: str, reserved: int) -> int:
        with self._lock:
            state, _config, _alias = self.resolve(name, LATEST)  # not found: the ARN ends :$LATEST
            if isinstance(reserved, bool) or not isinstance(reserved, int) or reserved < 0:
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '{reserved}' at 'reservedConcurrentExecutions' failed to "
                    "satisfy constraint: Member must have value greater than or equal to 0"
                )
            others = self.reserved_total() - (state.reserved or 0)
            floor = unreserved_floor(self._account_limit)
            if self._account_limit - others - reserved < floor:
                raise InvalidParameterValueException(
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
                )
            provisioned = sum(config.requested for config in state.provisioned.values())
            if provisioned > reserved:
                raise InvalidParameterValueException(
                    f" ReservedConcurrentExecutions  {reserved} should not be lower than function's total provisioned "
                    f"concurrency [{provisioned}]."
                )
            state.reserved = reserved
            self._update_reserved_sum()
            return reserved

    def delete_reserved(self, name: str) -> None:
        with self._lock:
            self.function(name).reserved = None
            self._update_reserved_sum()

    def limits_for(self, name: str) -> tuple[int | None, int]:
        """(the function's reserved concurrency or None, the account's unreserved limit): the invoke path's read."""
        with self._lock:
            state = self._functions.get(name)
            return (None if state is None else state.reserved), self._account_limit - self._reserved_sum

    def reserved_of(self, name: str) -> int | None:
        with self._lock:
            state = self._functions.get(name)
            return None if state is None else state.reserved

    # -- provisioned concurrency ---------------------------------------------------------------------

    def put_provisioned(self, name: str, qualifier: str | None, count: int) -> ProvisionedConfig:
        with self._lock:
            if not qualifier or qualifier == LATEST:
                raise InvalidParameterValueException(
                    "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
                )
            state = self._published(name, qualifier)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '{count}' at 'provisionedConcurrentExecutions' failed to "
                    "satisfy constraint: Member must have value greater than or equal to 1"
                )
            if qualifier in state.aliases and state.aliases[qualifier].function_version in state.provisioned:
                raise ResourceConflictException(
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
                )
            others = sum(c.requested for q, c in state.provisioned.items() if q != qualifier)
            if state.reserved is not None and others + count > state.reserved:
                raise InvalidParameterValueException(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                    "for function"
                )
            unreserved_pool = self._account_limit - self.reserved_total()
            if state.reserved is None and others + count > unreserved_pool:
                raise InvalidParameterValueException(
                    "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency "
                    f"[{unreserved_pool}]."
                )
            if state.reserved is None and others + count > unreserved_pool - unreserved_floor(self._account_limit):
                raise InvalidParameterValueException(
                    "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                    f"below its minimum value of [{unreserved_floor(self._account_limit)}]."
                )
            config = ProvisionedConfig(qualifier, count)
            state.provisioned[qualifier] = config
            return config

    def set_provisioned_status(self, name: str, qualifier: str, allocated: int, status: str, reason: str | None = None) -> None:
        """Provisioning reached `status`: reported after :attr:`provisioning_s` lesson seconds, IN_PROGRESS until then."""
        with self._lock:
            state = self._functions.get(name)
            if state is None or qualifier not in state.provisioned:
                return
            settles_at = self.clock.now() + self.provisioning_s
            self._unsettled[name] = max(settles_at, self._unsettled.get(name, settles_at))
            state.provisioned[qualifier] = dataclasses.replace(
                state.provisioned[qualifier], allocated=0, status="IN_PROGRESS", status_reason=None,
                last_modified=timestamp(), pending=Allocation(allocated, status, reason, settles_at),
            )

    def provisioned(self, name: str, qualifier: str | None) -> ProvisionedConfig:
        with self._lock:
            config = self._published(name, _published_qualifier(qualifier)).provisioned.get(qualifier or "")
            if config is None:
                raise ProvisionedConcurrencyConfigNotFoundException("No Provisioned Concurrency Config found for this function")
            return config

    def delete_provisioned(self, name: str, qualifier: str | None) -> ProvisionedConfig | None:
        """Remove the qualifier's provisioned concurrency; the config removed, None when it had none."""
        with self._lock:
            return self._published(name, _published_qualifier(qualifier)).provisioned.pop(qualifier or "", None)

    def _published(self, name: str, qualifier: str) -> FunctionState:
        """Under the lock: the function with this published version or alias (not found errors as Lambda's)."""
        state = self._functions.get(name)
        if state is None or not state.has_qualifier(qualifier):
            raise qualifier_not_found(name, qualifier)
        self._settle(state)
        return state

    # -- event invoke configs --------------------------------------------------------------------------

    def put_event_config(self, name: str, qualifier: str | None, config: EventInvokeConfig, merge: bool) -> EventInvokeConfig:
        with self._lock:
            qualifier = qualifier or LATEST
            state = self._event_config_function(name, qualifier)
            if merge:
                current = state.event_configs.get(qualifier)
                if current is None:
                    raise no_event_config(name, qualifier)
                config = EventInvokeConfig(
                    qualifier,
                    current.maximum_retry_attempts if config.maximum_retry_attempts is None else config.maximum_retry_attempts,
                    current.maximum_event_age_s if config.maximum_event_age_s is None else config.maximum_event_age_s,
                    current.on_success if config.on_success is None else config.on_success or None,
                    current.on_failure if config.on_failure is None else config.on_failure or None,
                )
            else:
                config = dataclasses.replace(
                    config, qualifier=qualifier, on_success=config.on_success or None, on_failure=config.on_failure or None
                )
            state.event_configs[qualifier] = config
            return config

    def event_config(self, name: str, qualifier: str | None) -> EventInvokeConfig:
        """The qualifier's config; Lambda answers that it has none whether or not the function exists."""
        with self._lock:
            qualifier = qualifier or LATEST
            state = self._functions.get(name)
            if state is None or qualifier not in state.event_configs:
                raise no_event_config(name, qualifier)
            return state.event_configs[qualifier]

    def effective_event_config(self, name: str, qualifier: str | None) -> EventInvokeConfig:
        """The settings an async event of this qualifier runs with (Lambda's defaults when none are set)."""
        with self._lock:
            state = self._functions.get(name)
            qualifier = qualifier or LATEST
            if state is None or qualifier not in state.event_configs:
                return EventInvokeConfig(qualifier)
            return state.event_configs[qualifier]

    def delete_event_config(self, name: str, qualifier: str | None) -> None:
        with self._lock:
            self.event_config(name, qualifier)
            del self.function(name).event_configs[qualifier or LATEST]

    def event_configs(self, name: str) -> list[EventInvokeConfig]:
        with self._lock:
            return list(self._event_config_function(name, LATEST).event_configs.values())

    def _event_config_function(self, name: str, qualifier: str) -> FunctionState:
        """Under the lock: the function whose qualifier gets event invoke configs (Lambda's terse not found)."""
        state = self._functions.get(name)
        if state is None or not state.has_qualifier(qualifier):
            raise ResourceNotFoundException("The function doesn't exist.")
        self._settle(state)
        return state


def qualifier_not_found(name: str, qualifier: str) -> ResourceNotFoundException:
    """Lambda's message for a qualifier that does not exist: an alias (an alias name), else a version."""
    arn = function_arn(name, qualifier)
    if _ALIAS_NAME.match(qualifier):
        return ResourceNotFoundException(f"Cannot find alias arn: {arn}")
    return not_found(arn)


def _published_qualifier(qualifier: str | None) -> str:
    """The qualifier of a provisioned concurrency config: a published version or an alias, never $LATEST."""
    if not qualifier or qualifier == LATEST:
        raise InvalidParameterValueException("The function resource provided must be an alias or a published version.")
    return qualifier


def no_event_config(name: str, qualifier: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The function {function_arn(name, qualifier)} doesn't have an EventInvokeConfig")


def pending_conflict() -> ResourceConflictException:
    """What Lambda answers to an invoke or update of a function that is still being created."""
    return ResourceConflictException(
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    )


def _check_revision(given: str | None, current: str) -> None:
    if given and given != current:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
            "retrieve the latest Revision Id"
        )


def _check_account_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidParameterValueException(
            f"account concurrency {limit!r} must be a whole number of at least 1 (Lambda's default is "
            f"{DEFAULT_ACCOUNT_CONCURRENCY:,})"
        )
    return limit
