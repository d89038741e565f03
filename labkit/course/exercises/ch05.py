"""Chapter 05, errors, retries and idempotency: an idempotent payment handler, failures routed to a
dead-letter queue and replayed.

The idempotency check runs the learner's handler against the local AWS (`labkit.aws.start()`):
a DynamoDB table for the idempotency records and an SQS queue that stands for the payment
provider, so every charge the handler makes can be counted.
"""
from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.course.exercises.ch01 import expect_ok, handler_file, run_handler
from labkit.runtime.layers import powertools_layer

# The orders the DLQ exercise sends; the ones whose quantity is not a number are the poison messages.
ORDERS: list[dict[str, Any]] = [
    {"order_id": 1, "quantity": 2},
    {"order_id": 2, "quantity": 1},
    {"order_id": 3, "quantity": "three"},
    {"order_id": 4, "quantity": 5},
    {"order_id": 5, "quantity": "a few"},
]
POISON = {order["order_id"] for order in ORDERS if not isinstance(order["quantity"], int)}


def _local_resources() -> tuple[Any, dict[str, str], str, str]:
    from labkit.aws import start

    aws = start()
    suffix = uuid.uuid4().hex[:8]
    table = f"check-idempotency-{suffix}"
    aws.client("dynamodb").create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )
    queue = aws.client("sqs").create_queue(QueueName=f"check-charges-{suffix}")["QueueUrl"]
    env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "TABLE": table, "CHARGES": queue}
    return aws, env, table, queue


def _charges(sqs: Any, queue: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


@exercise("05.idempotent", title="Make a payment handler idempotent")
def idempotent(answer: Any) -> None:
    """`answer`: the path of a handler that charges each payment_id once, however often it is invoked,
    with Powertools' idempotency (its records in the table named by TABLE)."""
    path = handler_file(answer)
    aws, env, table, queue = _local_resources()
    events = [
        {"payment_id": "p-1", "amount": 30},
        {"payment_id": "p-1", "amount": 30},  # the same event, delivered again (a retry)
        {"payment_id": "p-2", "amount": 12},
        {"payment_id": "p-1", "amount": 30},
    ]
    try:
        invocations = run_handler(path, events, env=env, timeout_s=10, layers=[powertools_layer()])
        for inv, event in zip(invocations, events):
            expect_ok(inv, event)
        charges = _charges(aws.client("sqs"), queue)
        per_payment: dict[str, int] = {}
        for charge in charges:
            key = str(charge.get("payment_id"))
            per_payment[key] = per_payment.get(key, 0) + 1
        expect(per_payment.get("p-2") == 1, f"payment p-2 was charged {per_payment.get('p-2', 0)} times, not once: keep the charge in the handler.")
        expect(
            per_payment.get("p-1", 0) != 0,
            "payment p-1 was never charged: the first delivery of a payment must still charge it.",
        )
        expect(
            per_payment.get("p-1") == 1,
            f"payment p-1 arrived three times and was charged {per_payment['p-1']} times: the idempotency key must be "
            "the payment_id (IdempotencyConfig's event_key_jmespath), the same in every delivery.",
        )
        first = invocations[0].result
        expect(
            all(inv.result == first for inv in (invocations[1], invocations[3])),
            f"the repeated deliveries of p-1 returned {invocations[1].result!r}, not the first answer {first!r}: "
            "a duplicate should get the same response as the original.",
        )
        records = aws.client("dynamodb").scan(TableName=table)["Items"]
        statuses = sorted(item.get("status", {}).get("S", "") for item in records)
        expect(
            statuses == ["COMPLETED", "COMPLETED"],
            f"the table {table} holds {len(records)} records with the statuses {statuses}, not one COMPLETED record per "
            "payment as Powertools writes them: decorate the handler with @idempotent(persistence_store="
            "DynamoDBPersistenceLayer(table_name=os.environ['TABLE']), config=...).",
        )
    finally:
        with contextlib.suppress(Exception):  # clean-up only: the check's verdict stands
            aws.client("dynamodb").delete_table(TableName=table)
            aws.client("sqs").delete_queue(QueueUrl=queue)


@exercise("05.dlq-replay", title="Route failures to a DLQ and replay them")
def dlq_replay(answer: Any) -> None:
    """`answer`: {"dead_letters": the order events found in the DLQ, "replayed": results of the replay, "left": messages still in the DLQ}."""
    expect(isinstance(answer, dict), 'pass a dict: {"dead_letters": ..., "replayed": ..., "left": ...}.')
    missing = {"dead_letters", "replayed", "left"} - set(answer)
    expect(not missing, f"the dict is missing {sorted(missing)}.")
    letters = answer["dead_letters"]
    expect(isinstance(letters, list) and all(isinstance(item, dict) for item in letters),
           "'dead_letters' should be a list of the events (dicts) read from the DLQ: json.loads each message's Body.")
    found = {item.get("order_id") for item in letters}
    expect(found != set(), "the DLQ list is empty: did the function get a DeadLetterConfig, and did you wait for the retries to end?")
    expect(found <= {order["order_id"] for order in ORDERS}, "'dead_letters' holds events that were never sent: read the bodies of the DLQ's messages.")
    expect(not (found - POISON), f"orders {sorted(found - POISON)} succeeded and should not be in the DLQ.")
    expect(found == POISON, f"the DLQ should hold every order that failed all its attempts; {sorted(POISON - found)} are missing.")
    replayed = answer["replayed"]
    expect(isinstance(replayed, list) and len(replayed) == len(POISON),
           f"'replayed' should hold the results of invoking the fixed function once per dead letter ({len(POISON)}).")
    expect(all(isinstance(item, dict) and "errorType" not in item for item in replayed),
           f"a replay failed: {replayed!r}. Deploy the fixed code (update_function_code) before replaying.")
    expect(answer["left"] == 0, f"{answer['left']} messages are still in the DLQ: delete each one once its replay succeeded.")
