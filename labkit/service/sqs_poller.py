"""The SQS poller of an event source mapping: Lambda's queue consumer, against the local SQS through boto3.

How it behaves (shared/FACTS.md, "SQS event source mapping"):

* It long-polls the queue and gathers a batch of up to ``BatchSize`` messages, for at most
  ``MaximumBatchingWindowInSeconds`` (lesson time) once the first message is in, and never more
  than the 6 MB of a synchronous invoke.
* While the batch runs, its messages are invisible for the queue's visibility timeout
  (SQS's own, in real seconds). A successful batch's messages are deleted. When the function
  fails, nothing is deleted: the messages return when their visibility timeout ends, and the
  queue's ``RedrivePolicy`` moves a message to its dead-letter queue once it has been received
  ``maxReceiveCount`` times (the local SQS does that on receive, as SQS does).
* With ``FunctionResponseTypes: ["ReportBatchItemFailures"]`` only the messages the function
  lists in ``batchItemFailures`` return; the others are deleted.
* With ``FilterCriteria``, a message that matches no filter is deleted as soon as it is received
  (never retried, never sent to the dead-letter queue); batches gather the messages that match.
* Scaling: one poller runs while the queue is shallow; each full batch starts another, up to
  ``ScalingConfig.MaximumConcurrency`` (labkit's default: :data:`DEFAULT_CONCURRENCY`), never
  more than the function's reserved concurrency. An extra poller stops when it finds the queue
  empty. A throttled batch is not retried by the poller: its messages return after the
  visibility timeout, and the poller backs off.

The local SQS (moto) does not lock a queue while it receives, so two concurrent receives can
hand out the same message: a poller's workers take turns for their SQS calls.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from labkit.events.sqs import record_from_message, sqs_event
from labkit.runtime import limits
from labkit.service.event_sources import FUNCTION_ERROR, OK, THROTTLED, failed_item_ids
from labkit.service.exceptions import InvalidParameterValueException

if TYPE_CHECKING:
    from labkit.service.event_sources import EventSourceMapping, EventSourceMappings

DEFAULT_CONCURRENCY = 5  # labkit's bound on concurrent batches per queue without ScalingConfig
LONG_POLL_S = 1  # WaitTimeSeconds of each receive (short, so that a closing service stops at once)
RECEIVE_MAX = 10  # SQS's MaxNumberOfMessages
DELETE_MAX = 10  # SQS's DeleteMessageBatch entries
GATHER_INTERVAL_S = 0.05  # real seconds between receives while a batching window is open
THROTTLE_BACKOFF_S = (1, 60)  # lesson seconds: first and longest pause after a throttle
ERROR_PAUSE_S = 0.5  # real seconds between tries while the queue cannot be read

LOG = logging.getLogger("labkit.service.sqs")


class SqsPoller:
    """Polls one queue for one mapping; :meth:`stop` ends every worker thread after its batch."""

    def __init__(self, mapping_id: str, mappings: EventSourceMappings) -> None:
        self.mapping_id = mapping_id
        self.mappings = mappings
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sqs_turn = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._sqs: Any = None
        self._queue_url = ""
        self._backoff_s = 0.0

    def start(self) -> None:
        mapping = self._mapping()
        if mapping is None:
            return
        arn = mapping.event_source_arn
        parts = arn.split(":")
        try:
            self._sqs = self.mappings.clients("sqs")
            self._queue_url = self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        except Exception as exc:  # botocore's ClientError, or no local AWS to reach
            raise InvalidParameterValueException(
                f"Cannot read the SQS queue {arn}: {exc}. Create the queue first (sqs.create_queue) and give its "
                "QueueArn (sqs.get_queue_attributes(..., AttributeNames=['QueueArn']))"
            ) from None
        self._spawn(first=True)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        while True:
            with self._lock:
                alive = [t for t in self._workers if t.is_alive()]
            if not alive:
                return
            for thread in alive:
                thread.join(timeout)
            if timeout is not None:
                return

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._workers)

    # -- workers ------------------------------------------------------------------------------------

    def _mapping(self) -> EventSourceMapping | None:
        return self.mappings.current(self.mapping_id)

    def _spawn(self, first: bool) -> None:
        with self._lock:
            self._workers = [t for t in self._workers if t.is_alive()]
            if self._stop.is_set():
                return
            thread = threading.Thread(
                target=self._work, args=(first,), name=f"labkit-sqs-{self.mapping_id[:8]}-{len(self._workers)}",
                daemon=True,
            )
            self._workers.append(thread)
        thread.start()

    def _work(self, first: bool) -> None:
        while not self._stop.is_set():
            mapping = self._mapping()
            if mapping is None:
                return
            try:
                messages = self._gather(mapping, LONG_POLL_S if first else 0)
            except Exception:  # the local AWS is restarting or gone: try again shortly
                self._stop.wait(ERROR_PAUSE_S)
                continue
            if not messages:
                if not first:
                    return  # the queue is shallow again: one poller is enough
                continue
            if len(messages) >= min(mapping.batch_size, RECEIVE_MAX):
                self._scale_up(mapping)
            try:
                self._run(mapping, messages)
            except Exception:  # deleting failed: the messages return after their visibility timeout
                LOG.warning("%s: could not delete a batch's messages from %s", mapping.function_name, self._queue_url, exc_info=True)
                self._stop.wait(ERROR_PAUSE_S)

    def _scale_up(self, mapping: EventSourceMapping) -> None:
        bound = self.mappings.batches.concurrency_bound(mapping, DEFAULT_CONCURRENCY)
        with self._lock:
            running = sum(1 for t in self._workers if t.is_alive())
        if running < bound and self._backoff_s == 0:
            self._spawn(first=False)

    def _gather(self, mapping: EventSourceMapping, wait_s: int) -> list[dict[str, Any]]:
        """One batch: the first receive waits up to `wait_s`, the window (lesson time) gathers the rest."""
        messages = self._admitted(mapping, self._receive(min(RECEIVE_MAX, mapping.batch_size), wait_s))
        if not messages or mapping.batching_window_s == 0:
            return messages
        clock = self.mappings.clock
        deadline = clock.now() + mapping.batching_window_s
        size = sum(len(m.get("Body", "")) for m in messages)
        while len(messages) < mapping.batch_size and size < limits.SYNC_REQUEST_MAX_BYTES // 2:
            remaining = deadline - clock.now()
            if remaining <= 0 or self._stop.is_set():
                break
            more = self._admitted(mapping, self._receive(min(RECEIVE_MAX, mapping.batch_size - len(messages)), 0))
            if more:
                messages += more
                size += sum(len(m.get("Body", "")) for m in more)
            else:
                self._stop.wait(min(GATHER_INTERVAL_S, clock.real_seconds(remaining)))
        return messages

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        with self._sqs_turn:
            answer = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        return list(answer.get("Messages") or [])

    def _admitted(self, mapping: EventSourceMapping, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages that pass the mapping's filters; the others are deleted from the queue."""
        if mapping.filter_criteria is None:
            return messages
        passed: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for message in messages:
            (passed if mapping.admits(record_from_message(message, mapping.event_source_arn)) else rejected).append(message)
        self._delete(rejected)
        return passed

    def _run(self, mapping: EventSourceMapping, messages: list[dict[str, Any]]) -> None:
        records = [record_from_message(message, mapping.event_source_arn) for message in messages]
        outcome = self.mappings.batches.invoke(mapping, sqs_event(*records))
        if outcome.kind == "throttled":
            self.mappings.set_result(self.mapping_id, THROTTLED)
            low, high = THROTTLE_BACKOFF_S
            self._backoff_s = min(high, max(low, self._backoff_s * 2))
            self._stop.wait(self.mappings.clock.real_seconds(self._backoff_s))
            return
        self._backoff_s = 0.0
        if not outcome.ok:
            self.mappings.set_result(self.mapping_id, FUNCTION_ERROR)
            return
        self.mappings.set_result(self.mapping_id, OK)
        failed: list[str] | None = []
        if mapping.reports_item_failures:
            failed = failed_item_ids(outcome.payload, [m["MessageId"] for m in messages])
        if failed is None:  # an invalid partial batch response fails the whole batch
            return
        self._delete([m for m in messages if m["MessageId"] not in set(failed)])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), DELETE_MAX):
            chunk = messages[start:start + DELETE_MAX]
            with self._sqs_turn:
                self._sqs.delete_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
                )
