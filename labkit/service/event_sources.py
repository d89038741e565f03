"""Event source mappings: Lambda reading SQS queues and DynamoDB / Kinesis streams for a function.

:class:`EventSourceMappings` owns the mappings of one Lambda service (Create, Get, Update,
Delete, List, with the limits and messages of Lambda's API), their tags (``Tags`` of Create, and
TagResource, UntagResource, ListTags on a mapping's ARN), and runs one poller per enabled
mapping: :class:`labkit.service.sqs_poller.SqsPoller` for queues,
:class:`labkit.service.stream_poller.StreamPoller` for streams. Pollers are threads; they stop
when a mapping is disabled or deleted, and all of them when the service closes. A mapping's
``FilterCriteria`` (:mod:`labkit.service.event_filters`) decides which records its poller hands on.

States follow AWS: a new mapping answers ``Creating`` and turns ``Enabled`` (or ``Disabled``)
once its poller runs; an update answers ``Updating`` (``Enabling``/``Disabling``); a delete
answers ``Deleting`` and the mapping is gone when its poller has stopped.

:class:`BatchInvoker` is what pollers call: one synchronous invoke of a batch, its outcome
classified (success, function error, throttle) and its partial-batch response read.
"""
from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from labkit.runtime import limits
from labkit.service.clock import LessonClock
from labkit.service.destinations import ClientFactory, Sender, arn_service
from labkit.service.event_filters import FilterCriteria, filter_document, parse_filter_criteria
from labkit.service.exceptions import (
    InvalidParameterValueException,
    LambdaServiceError,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from labkit.service.invoke import ConcurrencyLimiter, Invoker, InvokeResult
from labkit.service.models import LambdaModel, function_arn, parse_function_ref

SOURCES = ("sqs", "dynamodb", "kinesis")
STREAM_SOURCES = ("dynamodb", "kinesis")
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
NO_RECORDS = "No records processed"
OK = "OK"
FUNCTION_ERROR = "PROBLEM: Function call failed"
THROTTLED = "PROBLEM: Function call throttled"

# BatchSize: default and maximum per source (shared/FACTS.md for SQS; the API's 1-10,000 for streams).
DEFAULT_BATCH_SIZE = {"sqs": 10, "dynamodb": 100, "kinesis": 100}
MAX_BATCH_SIZE = {"sqs": 10_000, "sqs-fifo": 10, "dynamodb": 10_000, "kinesis": 10_000}
SQS_BATCH_WITHOUT_WINDOW = 10  # a larger batch needs MaximumBatchingWindowInSeconds >= 1
BATCHING_WINDOW_RANGE = (0, 300)
MAX_RETRY_RANGE = (-1, 10_000)
MAX_RECORD_AGE_RANGE = (60, 604_800)  # or -1: no limit
MAXIMUM_CONCURRENCY_RANGE = (2, 1_000)
PARALLELIZATION_RANGE = (1, 10)
ON_FAILURE_SERVICES = ("sqs", "sns", "s3")


def mapping_arn(mapping_id: str) -> str:
    return f"arn:aws:lambda:{limits.DEFAULT_REGION}:{limits.DEFAULT_ACCOUNT_ID}:event-source-mapping:{mapping_id}"


@dataclass
class EventSourceMapping:
    """One mapping's configuration and state (``last_modified``: wall-clock epoch seconds, as the API reports it)."""

    uuid: str
    source: str  # sqs | dynamodb | kinesis
    event_source_arn: str
    function_name: str
    qualifier: str | None
    batch_size: int
    batching_window_s: int = 0
    enabled: bool = True
    state: str = "Creating"
    last_modified: float = field(default_factory=time.time)
    last_result: str = NO_RECORDS
    starting_position: str | None = None
    max_retries: int = -1
    max_record_age_s: int = -1
    bisect: bool = False
    parallelization: int = 1
    on_failure: str | None = None
    response_types: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    filter_criteria: FilterCriteria | None = None

    @property
    def function_arn(self) -> str:
        return function_arn(self.function_name, self.qualifier)

    @property
    def arn(self) -> str:
        return mapping_arn(self.uuid)

    @property
    def reports_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.response_types

    def admits(self, record: dict[str, Any]) -> bool:
        """Does `record` (as Lambda sends it) pass the mapping's filters? True when there are none."""
        return self.filter_criteria is None or self.filter_criteria.matches(filter_document(self.source, record))

    def to_wire(self) -> dict[str, Any]:
        """The EventSourceMappingConfiguration document of Lambda's API."""
        out: dict[str, Any] = {"UUID": self.uuid}
        if self.starting_position:
            out["StartingPosition"] = self.starting_position
        out["BatchSize"] = self.batch_size
        out["MaximumBatchingWindowInSeconds"] = self.batching_window_s
        if self.filter_criteria is not None:
            out["FilterCriteria"] = self.filter_criteria.to_wire()
        if self.source in STREAM_SOURCES:
            out["ParallelizationFactor"] = self.parallelization
        out["EventSourceArn"] = self.event_source_arn
        out["FunctionArn"] = self.function_arn
        out["LastModified"] = self.last_modified
        if self.source in STREAM_SOURCES:
            out["LastProcessingResult"] = self.last_result
        out["State"] = self.state
        out["StateTransitionReason"] = "User action" if self.source in STREAM_SOURCES else "USER_INITIATED"  # as AWS words each
        if self.source in STREAM_SOURCES:
            out["DestinationConfig"] = {"OnFailure": {"Destination": self.on_failure} if self.on_failure else {}}
            out["MaximumRecordAgeInSeconds"] = self.max_record_age_s
            out["BisectBatchOnFunctionError"] = self.bisect
            out["MaximumRetryAttempts"] = self.max_retries
            out["TumblingWindowInSeconds"] = 0
        out["FunctionResponseTypes"] = list(self.response_types)
        if self.maximum_concurrency is not None:
            out["ScalingConfig"] = {"MaximumConcurrency": self.maximum_concurrency}
        out["EventSourceMappingArn"] = self.arn
        return out


class Poller(Protocol):
    """What runs a mapping: started once, stopped once (``stop`` returns at once, ``join`` waits)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...

    def threads(self) -> list[threading.Thread]: ...


# --------------------------------------------------------------------------- invoking a batch


@dataclass(frozen=True)
class BatchOutcome:
    """What one invoke of a batch gave."""

    kind: str  # "success" | "error" | "throttled"
    request_id: str = ""
    payload: bytes | None = None
    executed_version: str | None = None
    status_code: int = 200
    function_error: str | None = None
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "success"


class BatchInvoker:
    """Invokes a function synchronously with a batch, as an event source mapping's poller does."""

    def __init__(self, invoker: Invoker, limiter: ConcurrencyLimiter, model: LambdaModel) -> None:
        self.invoker = invoker
        self.limiter = limiter
        self.model = model

    def invoke(self, mapping: EventSourceMapping, event: dict[str, Any]) -> BatchOutcome:
        request_id = str(uuid.uuid4())
        try:
            try:
                result = self._invoke(mapping, event, request_id)
            except ResourceConflictException:  # the function is still Pending: the mapping waits until it is Active
                self.model.clock.sleep(self.model.transition_s)
                result = self._invoke(mapping, event, request_id)
        except TooManyRequestsException as exc:
            return BatchOutcome("throttled", request_id, status_code=429, error_message=exc.reason)
        except LambdaServiceError as exc:  # the function is gone, or the service is shutting down
            return BatchOutcome("error", request_id, status_code=exc.status, error_message=exc.message)
        invocation = result.invocation
        if invocation.error is not None:
            return BatchOutcome(
                "error", request_id, invocation.payload, result.executed_version,
                function_error="Unhandled", error_message=str(invocation.error.get("errorMessage", "")),
            )
        return BatchOutcome("success", request_id, invocation.payload, result.executed_version)

    def _invoke(self, mapping: EventSourceMapping, event: dict[str, Any], request_id: str) -> InvokeResult:
        return self.invoker.invoke(mapping.function_name, mapping.qualifier, json.dumps(event).encode(), request_id=request_id)

    def concurrency_bound(self, mapping: EventSourceMapping, default: int) -> int:
        """How many batches may run at once: the mapping's maximum, capped by reserved concurrency."""
        reserved, _unreserved = self.model.limits_for(mapping.function_name)
        bound = mapping.maximum_concurrency or default
        return max(1, min(bound, reserved)) if reserved is not None else bound

    def record_iterator_age(self, mapping: EventSourceMapping, age_ms: float) -> None:
        self.limiter.record_iterator_age(mapping.function_name, age_ms)


def failed_item_ids(payload: bytes | None, batch_ids: list[str]) -> list[str] | None:
    """The identifiers a partial batch response names as failed; None when the whole batch failed.

    As on AWS: no ``batchItemFailures`` (or an empty list, or a response that is not a JSON
    object) means every item succeeded; an identifier that is null, empty or not in the batch
    fails the whole batch.
    """
    try:
        response = json.loads(payload) if payload else None
    except ValueError:
        return []
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return []
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    known = set(batch_ids)
    ids: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in known:
            return None
        ids.append(identifier)
    return ids


# --------------------------------------------------------------------------- the mappings


class EventSourceMappings:
    """The event source mappings of one Lambda service, and their pollers."""

    def __init__(
        self,
        model: LambdaModel,
        batches: BatchInvoker,
        clients: ClientFactory,
        sender: Sender,
        clock: LessonClock,
    ) -> None:
        self.model = model
        self.batches = batches
        self.clients = clients
        self.sender = sender
        self.clock = clock
        self._mappings: dict[str, EventSourceMapping] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._pollers: dict[str, Poller] = {}
        self._stopping: list[Poller] = []
        self._checkpoints: dict[tuple[str, str], str] = {}  # (mapping, shard) -> last sequence number done
        self._lock = threading.Lock()
        self._closed = False

    # -- API ----------------------------------------------------------------------------------------

    def create(self, spec: dict[str, Any]) -> EventSourceMapping:
        arn = spec.get("EventSourceArn")
        if not arn:
            raise InvalidParameterValueException(
                "1 validation error detected: Value null at 'eventSourceArn' failed to satisfy constraint: Member must "
                "not be null (give the ARN of an SQS queue, a DynamoDB stream or a Kinesis stream)"
            )
        source = _source_of(arn)
        name, qualifier = parse_function_ref(spec.get("FunctionName") or "")
        self.model.resolve(name, qualifier)  # ResourceNotFoundException when the function is missing
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()),
            source=source,
            event_source_arn=arn,
            function_name=name,
            qualifier=qualifier,
            batch_size=DEFAULT_BATCH_SIZE[source],
            enabled=spec.get("Enabled", True) is not False,
        )
        if source in STREAM_SOURCES:
            position = spec.get("StartingPosition")
            if position not in STARTING_POSITIONS:
                raise InvalidParameterValueException(
                    f"StartingPosition {position!r} is invalid for a {source} stream: give TRIM_HORIZON (the oldest "
                    "record) or LATEST (records written from now on)"
                )
            mapping.starting_position = position
        elif "StartingPosition" in spec:
            raise InvalidParameterValueException("StartingPosition is not valid for SQS event sources.")
        mapping = _configure(mapping, spec)
        with self._lock:
            for other in self._mappings.values():
                if other.event_source_arn == arn and other.function_arn == mapping.function_arn:
                    raise ResourceConflictException(
                        f'The event source arn (" {arn} ") and function (" {name} ") provided mapping already exists. '
                        f"Please update or delete the existing mapping with UUID {other.uuid}"
                    )
            self._mappings[mapping.uuid] = mapping
            self._tags[mapping.uuid] = dict(spec.get("Tags") or {})
        answer = replace(mapping)
        try:
            self._set_running(mapping)
        except LambdaServiceError:
            with self._lock:
                self._mappings.pop(mapping.uuid, None)
                self._tags.pop(mapping.uuid, None)
            raise
        return answer

    def get(self, mapping_id: str) -> EventSourceMapping:
        with self._lock:
            mapping = self._mappings.get(mapping_id)
            if mapping is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            return replace(mapping)

    def list(self, event_source_arn: str | None = None, function_name: str | None = None) -> list[EventSourceMapping]:
        wanted = parse_function_ref(function_name) if function_name else None
        with self._lock:
            mappings = [replace(m) for m in self._mappings.values()]
        return [
            m for m in mappings
            if (event_source_arn is None or m.event_source_arn == event_source_arn)
            and (wanted is None or (m.function_name == wanted[0] and (wanted[1] is None or m.qualifier == wanted[1])))
        ]

    def update(self, mapping_id: str, spec: dict[str, Any]) -> EventSourceMapping:
        current = self.get(mapping_id)
        if current.state in ("Creating", "Updating", "Deleting", "Enabling", "Disabling"):
            raise ResourceConflictException(
                f"The operation cannot be performed at this time. The event source mapping is in the {current.state} "
                "state: wait until it is Enabled or Disabled, then retry"
            )
        updated = replace(current)
        if spec.get("FunctionName"):
            updated.function_name, updated.qualifier = parse_function_ref(spec["FunctionName"])
            self.model.resolve(updated.function_name, updated.qualifier)
        if "Enabled" in spec:
            updated.enabled = spec["Enabled"] is not False
        updated = _configure(updated, spec)
        updated.last_modified = time.time()
        updated.state = "Enabling" if updated.enabled and not current.enabled else (
            "Disabling" if current.enabled and not updated.enabled else "Updating"
        )
        with self._lock:
            self._mappings[mapping_id] = updated
        answer = replace(updated)
        self._set_running(updated)
        return answer

    def delete(self, mapping_id: str) -> EventSourceMapping:
        with self._lock:
            mapping = self._mappings.get(mapping_id)
            if mapping is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            mapping.state = "Deleting"
            answer = replace(mapping)
            poller = self._pollers.pop(mapping_id, None)
        if poller is not None:
            poller.stop()
            poller.join()
        with self._lock:
            self._mappings.pop(mapping_id, None)
            self._tags.pop(mapping_id, None)
            for key in [key for key in self._checkpoints if key[0] == mapping_id]:
                del self._checkpoints[key]
        return answer

    def tags(self, mapping_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self._tags_of(mapping_id))

    def tag(self, mapping_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._tags_of(mapping_id).update(tags)

    def untag(self, mapping_id: str, keys: builtins.list[str]) -> None:
        with self._lock:
            tags = self._tags_of(mapping_id)
            for key in keys:
                tags.pop(key, None)

    def _tags_of(self, mapping_id: str) -> dict[str, str]:
        """Under the lock: the tags of a mapping that exists, or Lambda's 404."""
        if mapping_id not in self._mappings:
            raise ResourceNotFoundException(f"Event source mapping not found: {mapping_arn(mapping_id)}")
        return self._tags[mapping_id]

    # -- pollers ------------------------------------------------------------------------------------

    def current(self, mapping_id: str) -> EventSourceMapping | None:
        """The mapping as it is now, for its poller (None once deleted)."""
        with self._lock:
            return self._mappings.get(mapping_id)

    def set_result(self, mapping_id: str, result: str) -> None:
        with self._lock:
            mapping = self._mappings.get(mapping_id)
            if mapping is not None:
                mapping.last_result = result

    def checkpoint(self, mapping_id: str, shard: str, sequence: str) -> None:
        """A stream mapping is done with `shard` up to `sequence` (a restarted poller resumes after it)."""
        with self._lock:
            self._checkpoints[(mapping_id, shard)] = sequence

    def checkpoint_of(self, mapping_id: str, shard: str) -> str | None:
        with self._lock:
            return self._checkpoints.get((mapping_id, shard))

    def threads(self) -> builtins.list[threading.Thread]:  # `list` here is the method above
        """The poller threads alive now (for tests: none after close)."""
        with self._lock:
            pollers = list(self._pollers.values())
        return [thread for poller in pollers for thread in poller.threads() if thread.is_alive()]

    def close(self, join: bool = True) -> None:
        """Stop every poller; with `join`, wait for their threads (idempotent)."""
        with self._lock:
            self._closed = True
            self._stopping += self._pollers.values()
            self._pollers.clear()
            stopping = list(self._stopping)
        for poller in stopping:
            poller.stop()
        if join:
            self.join()

    def join(self) -> None:
        """Wait until the pollers stopped by :meth:`close` have ended."""
        with self._lock:
            stopping, self._stopping = self._stopping, []
        for poller in stopping:
            poller.join()

    def _set_running(self, mapping: EventSourceMapping) -> None:
        """Stop the mapping's poller, start a new one when it is enabled; then settle its state."""
        with self._lock:
            old = self._pollers.pop(mapping.uuid, None)
        if old is not None:
            old.stop()
            old.join()
        poller = self._make_poller(mapping) if mapping.enabled else None
        if poller is not None:
            poller.start()
        with self._lock:
            if self._closed and poller is not None:
                closing = poller
            else:
                closing = None
                if poller is not None:
                    self._pollers[mapping.uuid] = poller
                stored = self._mappings.get(mapping.uuid)
                if stored is not None:
                    stored.state = "Enabled" if mapping.enabled else "Disabled"
        if closing is not None:
            closing.stop()
            closing.join()

    def _make_poller(self, mapping: EventSourceMapping) -> Poller:
        if mapping.source == "sqs":
            from labkit.service.sqs_poller import SqsPoller

            return SqsPoller(mapping.uuid, self)
        from labkit.service.stream_poller import StreamPoller

        return StreamPoller(mapping.uuid, self)


# --------------------------------------------------------------------------- validation


def _source_of(arn: str) -> str:
    service = arn_service(arn)
    if service == "sqs":
        return "sqs"
    if service == "dynamodb" and "/stream/" in arn:
        return "dynamodb"
    if service == "kinesis":
        return "kinesis"
    raise InvalidParameterValueException(
        f"Unrecognized event source {arn!r}: labkit maps SQS queues (arn:aws:sqs:...), DynamoDB streams "
        "(the table's LatestStreamArn, arn:aws:dynamodb:...:table/NAME/stream/LABEL) and Kinesis streams"
    )


def _configure(mapping: EventSourceMapping, spec: dict[str, Any]) -> EventSourceMapping:
    """The settings of Create and Update, validated for the mapping's source."""
    out = replace(mapping)
    stream = out.source in STREAM_SOURCES
    if "BatchSize" in spec:
        kind = "sqs-fifo" if out.source == "sqs" and out.event_source_arn.endswith(".fifo") else out.source
        out.batch_size = _int("batchSize", spec["BatchSize"], 1, MAX_BATCH_SIZE[kind])
    if "MaximumBatchingWindowInSeconds" in spec:
        out.batching_window_s = _int("maximumBatchingWindowInSeconds", spec["MaximumBatchingWindowInSeconds"], *BATCHING_WINDOW_RANGE)
    if out.source == "sqs" and out.batch_size > SQS_BATCH_WITHOUT_WINDOW and out.batching_window_s < 1:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    if "FilterCriteria" in spec:
        out.filter_criteria = parse_filter_criteria(spec["FilterCriteria"])
    if "FunctionResponseTypes" in spec:
        types = spec["FunctionResponseTypes"] or []
        if not isinstance(types, list) or any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
            raise InvalidParameterValueException(
                f"FunctionResponseTypes {types!r} is invalid: the only value is [\"{REPORT_BATCH_ITEM_FAILURES}\"]"
            )
        out.response_types = tuple(types)
    if "ScalingConfig" in spec:
        if stream:
            raise InvalidParameterValueException("ScalingConfig is only supported for SQS event sources.")
        value = (spec["ScalingConfig"] or {}).get("MaximumConcurrency")
        out.maximum_concurrency = None if value is None else _int("scalingConfig.maximumConcurrency", value, *MAXIMUM_CONCURRENCY_RANGE)
    stream_only = {
        "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "ParallelizationFactor",
        "DestinationConfig",
    }
    if not stream and stream_only & spec.keys():
        given = sorted(stream_only & spec.keys())
        raise InvalidParameterValueException(
            f"Unsupported parameter(s) {given} for an SQS event source: they apply to streams. On SQS, failed messages "
            "return to the queue and its RedrivePolicy sends them to a dead-letter queue"
        )
    if "MaximumRetryAttempts" in spec:
        out.max_retries = _int("maximumRetryAttempts", spec["MaximumRetryAttempts"], *MAX_RETRY_RANGE)
    if "MaximumRecordAgeInSeconds" in spec:
        age = spec["MaximumRecordAgeInSeconds"]
        out.max_record_age_s = -1 if age == -1 else _int("maximumRecordAgeInSeconds", age, *MAX_RECORD_AGE_RANGE)
    if "BisectBatchOnFunctionError" in spec:
        out.bisect = bool(spec["BisectBatchOnFunctionError"])
    if "ParallelizationFactor" in spec:
        out.parallelization = _int("parallelizationFactor", spec["ParallelizationFactor"], *PARALLELIZATION_RANGE)
    if "DestinationConfig" in spec:
        destinations = spec["DestinationConfig"] or {}
        if (destinations.get("OnSuccess") or {}).get("Destination"):
            raise InvalidParameterValueException(
                "Unsupported DestinationConfig parameter for given event source mapping type: OnSuccess (use OnFailure)"
            )
        target = (destinations.get("OnFailure") or {}).get("Destination") or None
        if target is not None and arn_service(target) not in ON_FAILURE_SERVICES:
            raise InvalidParameterValueException(
                f"The destination ARN {target} is invalid: send discarded records to an SQS queue, SNS topic or S3 bucket"
            )
        out.on_failure = target
    return out


def _int(what: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at '{what}' failed to satisfy constraint: Member must have "
            f"value {'less than or equal to' if isinstance(value, int) and value > high else 'greater than or equal to'} "
            f"{high if isinstance(value, int) and value > high else low}"
        )
    return value
