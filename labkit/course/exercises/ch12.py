"""Chapter 12, the capstone: an orders service (API -> function -> queue -> function -> table), graded end to end.

The handler checks run the learner's files on the process-wide local AWS (`labkit.aws.start()`)
with a queue and a table of their own, behind a local API Gateway where the handler serves HTTP.
The service checks talk to what the learner built: over HTTP (`12.end-to-end`) and through boto3
at the learner's local AWS (`12.harden`).
"""
from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from labkit.course.checks import CheckFailed, exercise, expect
from labkit.course.exercises.ch01 import expect_ok, handler_file
from labkit.runtime.function import Function

MENU_CENTS = {"coffee": 350, "tea": 300, "cake": 425}
"""The menu the worker prices orders with (cents), as in the chapter."""

INVALID_BODIES = ["not json", '["tea", 2]', '{"quantity": 2}', '{"item": "", "quantity": 2}',
                  '{"item": "tea", "quantity": 0}', '{"item": "tea", "quantity": "2"}', '{"item": "tea", "quantity": 101}']
SERVICE_TIMEOUT_S = 30.0
"""How long the service checks wait for orders to reach the table (or the dead-letter queue)."""
HTTP_TIMEOUT_S = 30.0


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _wait_for(condition: Callable[[], Any], timeout_s: float) -> Any:
    """Poll `condition` until it returns something truthy; the last value (falsy) at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@contextlib.contextmanager
def _orders_table(aws: Any) -> Iterator[str]:
    """A fresh orders table (key `order_id`) on the local AWS, deleted afterwards."""
    dynamodb, name = aws.client("dynamodb"), _unique("check-12-orders")
    dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):  # clean-up only: the check's verdict stands
            dynamodb.delete_table(TableName=name)


def _answer(response: Any, method: str, path: str) -> tuple[int, Any]:
    """The status and the JSON body of an HTTP response, or a failure saying the body is not JSON."""
    try:
        return response.status_code, response.json()
    except ValueError:
        raise CheckFailed(f"{method} {path} answered {response.status_code} with a body that is not JSON: {response.text[:200]!r}.") from None


# -- 12.create-order ---------------------------------------------------------------------------------


@exercise("12.create-order", title="Accept an order at the API and queue it")
def create_order(answer: Any) -> None:
    """`answer`: the path of the API handler: POST /orders answers 202 and queues a valid order, 400 otherwise."""
    import requests

    from labkit.aws import start
    from labkit.triggers.apigateway import ApiGateway

    path = handler_file(answer)
    aws = start()
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=_unique("check-12-orders"))["QueueUrl"]
    try:
        with _orders_table(aws) as table:
            env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "TABLE": table, "QUEUE_URL": queue_url}
            with Function(f"{path.stem}.handler", code=path.parent, env=env, timeout_s=10, name=f"check-{path.stem}") as fn, \
                    ApiGateway("http") as api:
                api.route("POST", "/orders", fn)
                api.route("GET", "/orders/{id}", fn)
                status, body = _answer(requests.post(f"{api.url}/orders", json={"item": "tea", "quantity": 3}, timeout=HTTP_TIMEOUT_S),
                                       "POST", "/orders")
                expect(status == 202, f"a valid order {{'item': 'tea', 'quantity': 3}} got {status} {body!r}: answer 202 (accepted).")
                expect(isinstance(body, dict) and isinstance(body.get("order_id"), str) and body["order_id"],
                       f"the 202 answer was {body!r}: its JSON body needs the new order's id as \"order_id\".")
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
                expect(len(messages) == 1, f"after one valid order the queue holds {len(messages)} messages: send exactly one.")
                try:
                    queued = json.loads(messages[0]["Body"])
                except ValueError:
                    raise CheckFailed(f"the queued message is not JSON: {messages[0]['Body'][:200]!r}.") from None
                wanted = {"order_id": body["order_id"], "item": "tea", "quantity": 3}
                expect(isinstance(queued, dict) and {key: queued.get(key) for key in wanted} == wanted,
                       f"the queued message is {queued!r}: it should carry the order's order_id, item and quantity, as {wanted!r}.")
                for text in INVALID_BODIES:
                    status, body = _answer(requests.post(f"{api.url}/orders", data=text, timeout=HTTP_TIMEOUT_S), "POST", "/orders")
                    expect(status == 400, f"the body {text!r} got {status} {body!r}: an order that is not valid gets 400.")
                    expect(isinstance(body, dict) and "error" in body, f"the 400 answer to {text!r} was {body!r}: say what is wrong in \"error\".")
                left = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                expect(not left, "orders that are not valid were queued too: check the order before sending it.")
    finally:
        with contextlib.suppress(Exception):
            sqs.delete_queue(QueueUrl=queue_url)


# -- 12.worker ---------------------------------------------------------------------------------------


@exercise("12.worker", title="Store queued orders, report the ones that fail")
def worker(answer: Any) -> None:
    """`answer`: the path of the worker: prices and stores each order, reports unknown items as batch item failures."""
    from labkit.aws import start
    from labkit.events.sqs import sqs_event, sqs_record

    path = handler_file(answer)
    aws = start()
    orders: list[dict[str, Any]] = [
        {"order_id": _unique("o"), "item": "coffee", "quantity": 2},
        {"order_id": _unique("o"), "item": "pizza", "quantity": 1},
        {"order_id": _unique("o"), "item": "cake", "quantity": 3},
    ]
    records = [sqs_record(json.dumps(order)) for order in orders]
    with _orders_table(aws) as table:
        env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "TABLE": table}
        with Function(f"{path.stem}.handler", code=path.parent, env=env, timeout_s=10, name=f"check-{path.stem}") as fn:
            event = sqs_event(*records)
            inv = fn.invoke(event)
        expect_ok(inv, "a batch of three orders")
        result = inv.result if isinstance(inv.result, dict) else {}
        failures = result.get("batchItemFailures")
        expect(isinstance(failures, list), f"the handler returned {inv.result!r}: return {{\"batchItemFailures\": [...]}}.")
        wanted = [{"itemIdentifier": records[1]["messageId"]}]
        expect(failures == wanted,
               f"for a batch where only the second order (a pizza, not on the menu) fails, the handler reported {failures!r}: "
               f"report exactly that record, {wanted!r}, so SQS keeps it and deletes the others.")
        items = aws.resource("dynamodb").Table(table).scan()["Items"]
        stored = {item["order_id"]: item for item in items}
        expect(orders[1]["order_id"] not in stored, "the pizza order was stored: store only orders whose item is on the menu.")
        for order in (orders[0], orders[2]):
            item = stored.get(order["order_id"])
            expect(item is not None, f"the order {order} is not in the table: put_item each order on the menu.")
            total = MENU_CENTS[order["item"]] * order["quantity"]
            expect(item is not None and item.get("total_cents") == total and item.get("status") == "done",
                   f"the stored order is {item!r}: it needs total_cents {total} (price x quantity) and status \"done\".")


# -- 12.end-to-end ----------------------------------------------------------------------------------


def _post(api_url: str, order: dict[str, Any]) -> tuple[int, Any]:
    import requests

    try:
        response = requests.post(f"{api_url}/orders", json=order, timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as error:
        raise CheckFailed(f"POST {api_url}/orders failed: {error}. Is the API running (api.url)?") from None
    return _answer(response, "POST", "/orders")


@exercise("12.end-to-end", title="The whole service: orders in at the API, priced in the table")
def end_to_end(answer: Any) -> None:
    """`answer`: the API's URL: orders posted there are accepted, then readable as done with their total."""
    import requests

    expect(isinstance(answer, str) and answer.startswith("http"), f"pass the API's URL (api.url), not {answer!r}.")
    api_url = answer.rstrip("/")
    orders: list[dict[str, Any]] = [{"item": item, "quantity": quantity} for item, quantity in (("coffee", 1), ("tea", 2), ("cake", 3), ("coffee", 4))]
    accepted: dict[str, dict[str, Any]] = {}
    for order in orders:
        status, body = _post(api_url, order)
        expect(status == 202 and isinstance(body, dict) and "order_id" in body, f"POST /orders {order} got {status} {body!r}, not 202 with an order_id.")
        accepted[body["order_id"]] = order
    status, body = _post(api_url, {"item": "tea", "quantity": -1})
    expect(status == 400, f"an order of -1 tea got {status} {body!r}: the API must refuse it with 400.")

    def done() -> dict[str, Any]:
        found = {}
        for order_id in accepted:
            response = requests.get(f"{api_url}/orders/{order_id}", timeout=HTTP_TIMEOUT_S)
            if response.status_code == 200:
                found[order_id] = response.json()
        return found if len(found) == len(accepted) else {}

    stored = _wait_for(done, SERVICE_TIMEOUT_S)
    expect(stored, f"after {SERVICE_TIMEOUT_S:g} s not every accepted order could be read back with GET /orders/{{id}}: "
                   "is the worker's event source mapping enabled, and does the worker store them?")
    for order_id, order in accepted.items():
        total = MENU_CENTS[order["item"]] * order["quantity"]
        got = stored[order_id]
        expect(got.get("status") == "done" and got.get("total_cents") == total,
               f"GET /orders/{order_id} answered {got!r}: wanted status \"done\" and total_cents {total}.")


# -- 12.harden --------------------------------------------------------------------------------------


def _queue(sqs: Any, name: str) -> tuple[str, dict[str, str]]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise CheckFailed(f"there is no queue named {name!r} at this endpoint: pass your local AWS's endpoint_url.") from None
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


@exercise("12.harden", title="Harden the service: a dead-letter queue and a concurrency cap for the worker")
def harden(answer: Any) -> None:
    """`answer`: the local AWS's endpoint URL; the `orders` queue and the `orders-worker` function live there."""
    from labkit.aws.endpoint import client

    expect(isinstance(answer, str) and answer.startswith("http"), f"pass your local AWS's endpoint (aws.endpoint_url), not {answer!r}.")
    sqs, lam = client("sqs", endpoint_url=answer), client("lambda", endpoint_url=answer)
    url, attributes = _queue(sqs, "orders")
    expect("RedrivePolicy" in attributes, "the orders queue has no redrive policy: a poison message is retried forever. "
                                          "Give it one with a dead-letter queue.")
    redrive = json.loads(attributes["RedrivePolicy"])
    receives = int(redrive.get("maxReceiveCount", 0))
    expect(1 <= receives <= 5, f"maxReceiveCount is {receives}: after 1 to 5 receives a message should move to the dead-letter queue.")
    mappings = lam.list_event_source_mappings(FunctionName="orders-worker")["EventSourceMappings"]
    mapping = next((m for m in mappings if m["EventSourceArn"] == attributes["QueueArn"]), None)
    expect(mapping is not None, "orders-worker has no event source mapping on the orders queue.")
    assert mapping is not None
    expect("ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
           "the mapping does not read the worker's batchItemFailures: one bad order would send its whole batch back.")
    cap = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    expect(cap is not None and 2 <= cap <= 5,
           f"the mapping's maximum concurrency is {cap}: cap the worker at 2 to 5 concurrent batches so the table is not flooded.")

    dlq_name = redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
    dlq_url, _ = _queue(sqs, dlq_name)
    poison = json.dumps({"order_id": _unique("poison"), "item": "pizza", "quantity": 1})
    sqs.send_message(QueueUrl=url, MessageBody=poison)

    def in_dlq() -> bool:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            if message["Body"] == poison:
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                return True
        return False

    timeout_s = SERVICE_TIMEOUT_S + receives * float(attributes.get("VisibilityTimeout", 30))
    expect(_wait_for(in_dlq, timeout_s),
           f"a poison order (a pizza) did not reach the dead-letter queue {dlq_name!r} within {timeout_s:g} s.")
