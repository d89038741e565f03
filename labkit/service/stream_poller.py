"""The stream poller of an event source mapping: DynamoDB Streams and Kinesis, shard by shard, in order.

How it behaves (Lambda's stream processing, docs: with-ddb, with-kinesis):

* One thread per shard reads from ``StartingPosition`` (``TRIM_HORIZON``: the oldest record;
  ``LATEST``: records written after the mapping was created) and hands the function batches of up
  to ``BatchSize`` records, in order, gathering for at most ``MaximumBatchingWindowInSeconds``.
  A shard processes one batch at a time (``ParallelizationFactor`` is recorded but not applied).
* A failing batch blocks its shard: it is retried until it succeeds, or until
  ``MaximumRetryAttempts`` retries (-1: no limit) or ``MaximumRecordAgeInSeconds`` (-1: no
  limit, lesson time) are used up; then its records are discarded and Lambda's stream failure
  record (``DDBStreamBatchInfo`` / ``KinesisBatchInfo``) goes to the ``OnFailure`` destination.
* ``BisectBatchOnFunctionError`` splits a failing batch in two and retries each half
  (a split does not count as a retry), which isolates a poison record.
* ``ReportBatchItemFailures``: the function names failed records by sequence number; the shard
  checkpoints before the first of them and retries from there.
* ``FilterCriteria``: records that match no filter are skipped as they are read (the checkpoint
  moves past them); batches are formed from the records that match.
* ``IteratorAge`` (how old the batch's last record is when the function gets it) is recorded
  per batch in :meth:`labkit.service.lambda_service.LambdaService.metrics`.

Updating a mapping restarts its poller from the last checkpoint, not from ``StartingPosition``.
Retries wait on the lesson clock (1 s doubling to 30 s, labkit's choice).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from labkit.events import dynamodb as dynamodb_events
from labkit.events import kinesis as kinesis_events
from labkit.service.destinations import iso_timestamp
from labkit.service.event_sources import FUNCTION_ERROR, OK, THROTTLED, BatchOutcome, failed_item_ids
from labkit.service.exceptions import InvalidParameterValueException

if TYPE_CHECKING:
    from labkit.service.event_sources import EventSourceMapping, EventSourceMappings

POLL_INTERVAL_S = 0.25  # real seconds between reads of an idle shard (about the 4 reads a second of AWS)
ERROR_PAUSE_S = 0.5  # real seconds between tries while the stream cannot be read
READ_MAX = 1_000  # records per GetRecords
RETRY_BACKOFF_S = (1, 30)  # lesson seconds: first and longest pause before retrying a failed batch
RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"

LOG = logging.getLogger("labkit.service.streams")


@dataclass(frozen=True)
class _Item:
    record: dict[str, Any]  # as the function gets it
    sequence: str
    arrived: float  # epoch seconds (the stream's own stamp)
    arrived_lesson: float  # the same moment on the lesson clock
    skipped_through: str | None = None  # the last record after this one that the filters skipped

    @property
    def done_through(self) -> str:
        """Where the shard's checkpoint goes once this record is done (past the skipped ones after it)."""
        return self.skipped_through or self.sequence


@dataclass
class _Segment:
    items: list[_Item]
    retries: int = 0
    invokes: int = 0
    last: BatchOutcome | None = field(default=None)


class _DynamoDbStream:
    batch_info = "DDBStreamBatchInfo"
    client_name = "dynamodbstreams"

    def __init__(self, client: Any, arn: str) -> None:
        self.client, self.arn = client, arn

    def shards(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description.get("Shards", [])]

    def iterator(self, shard: str, kind: str, sequence: str | None = None) -> str:
        extra = {"SequenceNumber": sequence} if sequence else {}
        return self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]

    def read(self, iterator: str, shard: str, limit: int) -> tuple[list[tuple[dict[str, Any], str, float]], str]:
        answer = self.client.get_records(ShardIterator=iterator, Limit=limit)
        out = []
        for raw in answer.get("Records", []):
            record = dynamodb_events.record_from_stream(raw, self.arn)
            out.append((record, record["dynamodb"]["SequenceNumber"], dynamodb_events.created_at(record)))
        return out, answer.get("NextShardIterator") or iterator


class _KinesisStream:
    batch_info = "KinesisBatchInfo"
    client_name = "kinesis"

    def __init__(self, client: Any, arn: str, role_arn: str) -> None:
        self.client, self.arn, self.role_arn = client, arn, role_arn

    def shards(self) -> list[str]:
        return [shard["ShardId"] for shard in self.client.list_shards(StreamARN=self.arn).get("Shards", [])]

    def iterator(self, shard: str, kind: str, sequence: str | None = None) -> str:
        extra = {"StartingSequenceNumber": sequence} if sequence else {}
        return self.client.get_shard_iterator(StreamARN=self.arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]

    def read(self, iterator: str, shard: str, limit: int) -> tuple[list[tuple[dict[str, Any], str, float]], str]:
        answer = self.client.get_records(ShardIterator=iterator, Limit=limit, StreamARN=self.arn)
        out = []
        for raw in answer.get("Records", []):
            record = kinesis_events.record_from_stream(raw, self.arn, shard, self.role_arn)
            out.append((record, raw["SequenceNumber"], record["kinesis"]["approximateArrivalTimestamp"]))
        return out, answer.get("NextShardIterator") or iterator


class StreamPoller:
    """Polls every shard of one stream for one mapping; :meth:`stop` ends the shard threads."""

    def __init__(self, mapping_id: str, mappings: EventSourceMappings) -> None:
        self.mapping_id = mapping_id
        self.mappings = mappings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Find the shards and their starting iterators now (so LATEST means: from this call on)."""
        mapping = self.mappings.current(self.mapping_id)
        if mapping is None:
            return
        try:
            source = self._source(mapping)
            starts = []
            for shard in source.shards():
                done = self.mappings.checkpoint_of(self.mapping_id, shard)
                if done is not None:
                    starts.append((shard, source.iterator(shard, "AFTER_SEQUENCE_NUMBER", done)))
                else:
                    starts.append((shard, source.iterator(shard, mapping.starting_position or "LATEST")))
        except Exception as exc:  # botocore's ClientError, or no local AWS to reach
            raise InvalidParameterValueException(
                f"Cannot read the stream {mapping.event_source_arn}: {exc}. For DynamoDB, create the table with "
                "StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'NEW_AND_OLD_IMAGES'} and give its "
                "LatestStreamArn"
            ) from None
        for shard, iterator in starts:
            thread = threading.Thread(
                target=self._shard_loop, args=(source, shard, iterator),
                name=f"labkit-stream-{self.mapping_id[:8]}-{shard[-8:]}", daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    def _source(self, mapping: EventSourceMapping) -> _DynamoDbStream | _KinesisStream:
        if mapping.source == "kinesis":
            _state, version, _alias = self.mappings.model.resolve(mapping.function_name, mapping.qualifier)
            return _KinesisStream(self.mappings.clients("kinesis"), mapping.event_source_arn, version.role)
        return _DynamoDbStream(self.mappings.clients("dynamodbstreams"), mapping.event_source_arn)

    # -- one shard ----------------------------------------------------------------------------------

    def _shard_loop(self, source: _DynamoDbStream | _KinesisStream, shard: str, iterator: str) -> None:
        clock = self.mappings.clock
        pending: deque[_Item] = deque()
        first_seen = 0.0
        while not self._stop.is_set():
            mapping = self.mappings.current(self.mapping_id)
            if mapping is None:
                return
            if len(pending) < mapping.batch_size:
                try:
                    read, iterator = source.read(iterator, shard, min(READ_MAX, mapping.batch_size - len(pending)))
                except Exception:  # the local AWS is restarting or gone: try again shortly
                    self._stop.wait(ERROR_PAUSE_S)
                    continue
                now_real, now_lesson = time.time(), clock.now()
                was_empty = not pending
                self._admit(mapping, shard, pending, [
                    _Item(record, sequence, arrived, now_lesson - max(0.0, now_real - arrived))
                    for record, sequence, arrived in read
                ])
                if pending and was_empty:
                    first_seen = now_lesson
            if not pending:
                self._stop.wait(POLL_INTERVAL_S)
                continue
            window_left = first_seen + mapping.batching_window_s - clock.now()
            if len(pending) < mapping.batch_size and window_left > 0:
                self._stop.wait(min(POLL_INTERVAL_S, clock.real_seconds(window_left)))
                continue
            batch = [pending.popleft() for _ in range(min(mapping.batch_size, len(pending)))]
            first_seen = clock.now()
            self._deliver(source, shard, batch)

    def _admit(self, mapping: EventSourceMapping, shard: str, pending: deque[_Item], items: list[_Item]) -> None:
        """Queue the items that pass the mapping's filters; the checkpoint moves past the others."""
        for item in items:
            if mapping.admits(item.record):
                pending.append(item)
            elif pending:  # done when the record before it is done
                pending[-1] = replace(pending[-1], skipped_through=item.sequence)
            else:  # nothing before it is waiting (a shard runs one batch at a time)
                self.mappings.checkpoint(self.mapping_id, shard, item.sequence)

    def _deliver(self, source: _DynamoDbStream | _KinesisStream, shard: str, batch: list[_Item]) -> None:
        """Run one batch to its end (success or discarded), blocking the shard meanwhile."""
        clock = self.mappings.clock
        segments: deque[_Segment] = deque([_Segment(batch)])
        backoff = 0.0
        while segments and not self._stop.is_set():
            mapping = self.mappings.current(self.mapping_id)
            if mapping is None:
                return
            segment = segments[0]
            if mapping.max_record_age_s != -1 and clock.now() - segment.items[0].arrived_lesson > mapping.max_record_age_s:
                segments.popleft()
                self._discard(mapping, source, shard, segment, RECORD_AGE_EXCEEDED)
                continue
            event = {"Records": [item.record for item in segment.items]}
            outcome = self.mappings.batches.invoke(mapping, event)
            if outcome.kind == "throttled":
                self.mappings.set_result(self.mapping_id, THROTTLED)
                backoff = self._pause(backoff)
                continue
            segment.invokes += 1
            segment.last = outcome
            self.mappings.batches.record_iterator_age(mapping, (clock.now() - segment.items[-1].arrived_lesson) * 1000)
            if outcome.ok:
                failed = failed_item_ids(outcome.payload, [i.sequence for i in segment.items]) if mapping.reports_item_failures else []
                if failed == []:
                    segments.popleft()
                    self.mappings.checkpoint(self.mapping_id, shard, segment.items[-1].done_through)
                    self.mappings.set_result(self.mapping_id, OK)
                    backoff = 0.0
                    continue
                if failed:  # checkpoint before the first failed record; retry from it
                    first = min(i for i, item in enumerate(segment.items) if item.sequence in set(failed))
                    if first:
                        self.mappings.checkpoint(self.mapping_id, shard, segment.items[first - 1].done_through)
                        segment.items = segment.items[first:]
            self.mappings.set_result(self.mapping_id, FUNCTION_ERROR)
            if mapping.bisect and len(segment.items) > 1:
                segments.popleft()
                half = len(segment.items) // 2
                segments.appendleft(_Segment(segment.items[half:], segment.retries))
                segments.appendleft(_Segment(segment.items[:half], segment.retries))
                continue
            segment.retries += 1
            if mapping.max_retries != -1 and segment.retries > mapping.max_retries:
                segments.popleft()
                self._discard(mapping, source, shard, segment, RETRIES_EXHAUSTED)
                continue
            backoff = self._pause(backoff)

    def _pause(self, backoff: float) -> float:
        low, high = RETRY_BACKOFF_S
        backoff = min(high, max(low, backoff * 2))
        self._stop.wait(self.mappings.clock.real_seconds(backoff))
        return backoff

    def _discard(
        self, mapping: EventSourceMapping, source: _DynamoDbStream | _KinesisStream, shard: str, segment: _Segment,
        condition: str,
    ) -> None:
        """The records are given up: checkpoint past them; the failure record to OnFailure."""
        self.mappings.checkpoint(self.mapping_id, shard, segment.items[-1].done_through)
        if not mapping.on_failure:
            LOG.warning("%s: %d record(s) of %s discarded (%s)", mapping.function_name, len(segment.items), shard, condition)
            return
        record = failure_record(mapping, source.batch_info, shard, segment, condition, self.mappings.clock.now())
        try:
            self.mappings.sender.send_record(mapping.on_failure, record, success=False)
        except Exception:
            LOG.exception("could not send the failure record of %s to %s", mapping.function_name, mapping.on_failure)


def failure_record(
    mapping: EventSourceMapping, batch_info: str, shard: str, segment: _Segment, condition: str, now: float
) -> dict[str, Any]:
    """Lambda's record of discarded stream records, as sent to an on-failure destination."""
    outcome = segment.last
    response: dict[str, Any] = {"statusCode": outcome.status_code if outcome else 200}
    if outcome is not None and outcome.executed_version:
        response["executedVersion"] = outcome.executed_version
    if outcome is not None and outcome.function_error:
        response["functionError"] = outcome.function_error
    first, last = segment.items[0], segment.items[-1]
    return {
        "requestContext": {
            "requestId": outcome.request_id if outcome else "",
            "functionArn": mapping.function_arn,
            "condition": condition,
            "approximateInvokeCount": segment.invokes,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_timestamp(now),
        batch_info: {
            "shardId": shard,
            "startSequenceNumber": first.sequence,
            "endSequenceNumber": last.sequence,
            "approximateArrivalOfFirstRecord": _utc(first.arrived),
            "approximateArrivalOfLastRecord": _utc(last.arrived),
            "batchSize": len(segment.items),
            "streamArn": mapping.event_source_arn,
        },
    }


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
