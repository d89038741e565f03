"""The chapters' exercise checks: each passes a good answer and fails a wrong one with a hint that helps."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labkit.course.checks import CheckFailed, check
from labkit.course.registry import REGISTRY
from labkit.course.workspace import write_handler


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LABKIT_WORK", raising=False)
    return tmp_path / "home"


def handler(name: str, source: str) -> Path:
    return write_handler(f"tests/{name}.py", textwrap.dedent(source))


def fails(name: str, answer: Any, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        check(name, answer)


def test_chapters_05_to_07_declare_their_exercises() -> None:
    names = {exercise.name for exercise in REGISTRY.all()}
    assert {"05.idempotent", "05.dlq-replay", "06.timeout", "06.stream-tmp", "07.rate-x-dur", "07.reserved-db"} <= names


def test_exercise_names_are_short_enough_for_a_column_heading() -> None:
    """Each name heads a column of the progress table and of `labkit grade`'s CSV."""
    long_names = [exercise.name for exercise in REGISTRY.all() if len(exercise.name) > 15]
    assert not long_names, f"exercise names over 15 characters: {long_names}"


def test_chapters_00_to_02_declare_their_exercises() -> None:
    names = {exercise.name for exercise in REGISTRY.all()}
    assert {
        "00.first-invoke", "00.work-dir",
        "01.greet", "01.billed-ms", "01.env-greeting", "01.deadline",
        "02.count-envs", "02.move-to-init", "02.provisioned",
    } <= names


# -- 01 -------------------------------------------------------------------------------------

GREET = """
def handler(event, context):
    return {"message": f"Hello, {event.get('name', 'world')}!"}
"""


def test_greet_passes_a_greeting_handler(capsys: pytest.CaptureFixture[str]) -> None:
    check("01.greet", handler("greet", GREET))
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "source, hint",
    [
        ('def handler(event, context):\n    return {"message": "Hello, Ada!"}\n', "use the name from the event"),
        ('def handler(event, context):\n    return {"message": f"Hello, {event[\'name\']}!"}\n', "failed: KeyError"),
        ('def handler(event, context):\n    return {"message": f"Hello, {event.get(\'name\')}!"}\n', "greet the world"),
        ('def handler(event, context):\n    return f"Hello, {event.get(\'name\', \'world\')}!"\n', "return a dict"),
        ("def handler(event):\n    return {}\n", "two arguments"),
        ("def greet(event, context):\n    return {}\n", "no top-level function called `handler`"),
    ],
)
def test_greet_hints(source: str, hint: str) -> None:
    fails("01.greet", handler("greet", source), hint)


def test_greet_wants_a_path() -> None:
    fails("01.greet", GREET, "there is no file")
    fails("01.greet", 42, "pass the path")


def billed(logs: str) -> int:
    line = next(line for line in logs.splitlines() if line.startswith("REPORT"))
    return int(re.search(r"Billed Duration: (\d+) ms", line)[1])  # type: ignore[index]


def test_billed_from_logs_passes_a_parser_of_the_report_line() -> None:
    check("01.billed-ms", billed)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda logs: int(re.search(r"Billed Duration: (\d+)", logs)[1]), "read the line that starts with REPORT"),  # type: ignore[index]
        (lambda logs: re.search(r"Billed Duration: (\d+)", logs.splitlines()[-1])[1], "return a number"),  # type: ignore[index]
        (lambda logs: float(billed(logs)), "return an int"),
        (2, "pass your function itself"),
    ],
)
def test_billed_from_logs_hints(answer: Any, hint: str) -> None:
    fails("01.billed-ms", answer, hint)


ENV_GREETING = """
import os
def handler(event, context):
    return {"message": f"{os.environ.get('GREETING', 'Hello')}, {event.get('name', 'world')}!"}
"""


def test_env_greeting_passes_a_configured_handler() -> None:
    check("01.env-greeting", handler("env_greeting", ENV_GREETING))


@pytest.mark.parametrize(
    "source, hint",
    [
        (GREET, "read the greeting word from the environment"),
        ("import os\ndef handler(event, context):\n    return {'message': os.environ['GREETING'] + ', Ada!'}\n", "failed: KeyError"),
        ("import os\ndef handler(event, context):\n    return {'message': os.environ.get('GREETING', 'Hi') + ', Ada!'}\n", "fall back to 'Hello'"),
    ],
)
def test_env_greeting_hints(source: str, hint: str) -> None:
    fails("01.env-greeting", handler("env_greeting", source), hint)


DEADLINE = """
import time

def process(item):
    time.sleep(0.1)
    return item * 2

def handler(event, context):
    items = list(event["items"])
    done = []
    while items and context.get_remaining_time_in_millis() > {margin}:
        done.append(process(items.pop(0)))
    return {{"done": done, "left": items}}
"""


@pytest.mark.slow
def test_remaining_time_passes_a_handler_that_stops_in_time() -> None:
    check("01.deadline", handler("deadline", DEADLINE.format(margin=300)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "source, hint",
    [
        (DEADLINE.format(margin=0), "timed out"),
        (DEADLINE.format(margin=300).replace('"left": items', '"left": []'), "'left' should hold exactly the items not processed"),
        (DEADLINE.format(margin=300).replace("context.get_remaining_time_in_millis() > 300", "len(done) < 5"), "never asks the context"),
        (DEADLINE.format(margin=300).replace('return {"done": done, "left": items}', "return done"), "keys 'done' and 'left'"),
    ],
)
def test_remaining_time_hints(source: str, hint: str) -> None:
    fails("01.deadline", handler("deadline", source), hint)


# -- 02 -------------------------------------------------------------------------------------


def fake(environment: str, cold: bool) -> SimpleNamespace:
    return SimpleNamespace(environment_id=environment, report=SimpleNamespace(init_ms=80.0 if cold else None, duration_ms=5.0))


BURST = [fake("a", True), fake("b", True), fake("a", False), fake("c", True)]


def test_count_environments_passes_the_right_counts() -> None:
    check("02.count-envs", {"invocations": BURST, "environments": 3, "cold_starts": 3})


def test_count_environments_passes_with_a_real_burst() -> None:
    import labkit

    code = handler("sleepy", "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return context.log_stream_name\n").parent
    with labkit.Function("sleepy.handler", code=code) as fn:
        burst = fn.invoke_many([{}] * 3, concurrency=3)
    streams = {inv.result for inv in burst}
    check("02.count-envs", {"invocations": burst, "environments": len(streams), "cold_starts": 3})


@pytest.mark.parametrize(
    "answer, hint",
    [
        ({"invocations": BURST, "environments": 4, "cold_starts": 3}, "log stream of its own"),
        ({"invocations": BURST, "environments": 3, "cold_starts": 4}, "Init Duration"),
        ({"invocations": BURST, "environments": 3.0, "cold_starts": 3}, "an int"),
        ({"invocations": BURST, "environments": 3}, "missing \\['cold_starts'\\]"),
        ({"invocations": [fake("a", True), fake("a", False)], "environments": 1, "cold_starts": 1}, "concurrency above 1"),
        ({"invocations": [], "environments": 0, "cold_starts": 0}, "invoke_many"),
        ([3, 3], "pass a dict"),
    ],
)
def test_count_environments_hints(answer: Any, hint: str) -> None:
    fails("02.count-envs", answer, hint)


WORDS = """
import time

def load_stopwords():
    time.sleep(0.5)
    return {{"the", "a", "an", "and", "of", "to", "in", "is", "it"}}
{setup}
def handler(event, context):
{body}
    words = [w for w in event["text"].lower().split() if w not in stopwords]
    return {{"words": len(words)}}
"""


@pytest.mark.slow
def test_move_to_init_passes_setup_at_module_level() -> None:
    check("02.move-to-init", handler("words", WORDS.format(setup="STOPWORDS = load_stopwords()", body="    stopwords = STOPWORDS")))


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup, body, hint",
    [
        ("", "    stopwords = load_stopwords()", "still happens inside the handler"),
        ("STOPWORDS = load_stopwords()", "    stopwords = STOPWORDS\n    return {'words': 2}", "must still depend on each event"),
    ],
)
def test_move_to_init_hints(setup: str, body: str, hint: str) -> None:
    fails("02.move-to-init", handler("words", WORDS.format(setup=setup, body=body)), hint)


def provisioned(environments: int, memory_mb: int, hours: float) -> float:
    blocks = -(-hours * 3600 // 300)
    return environments * memory_mb / 1024 * blocks * 300 * 0.0000041667


def test_provisioned_cost_passes_the_formula() -> None:
    check("02.provisioned", provisioned)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n, mb, h: n * mb / 1024 * h * 3600 * 0.0000041667, "whole 5-minute blocks"),
        (lambda n, mb, h: provisioned(n, mb, h) * 1024, "1,024 times too big"),
        (lambda n, mb, h: provisioned(n, mb, h) * 1.024, "not 1,000"),
        (lambda n, mb, h: provisioned(n, mb, h) * 4, "multiply environments"),
        (lambda n, mb, h: str(provisioned(n, mb, h)), "return a number"),
        (provisioned(1, 1024, 1), "pass your function itself"),
    ],
)
def test_provisioned_cost_hints(answer: Any, hint: str) -> None:
    fails("02.provisioned", answer, hint)


# -- 05 -------------------------------------------------------------------------------------

PAY_ONCE = """
import json, os
import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent

sqs = boto3.client("sqs")


@idempotent(persistence_store=DynamoDBPersistenceLayer(table_name=os.environ["TABLE"]),
            config=IdempotencyConfig(event_key_jmespath="payment_id"))
def handler(event, context):
    result = {"payment_id": event["payment_id"], "charged": event["amount"]}
    sqs.send_message(QueueUrl=os.environ["CHARGES"], MessageBody=json.dumps(result))
    return result
"""

PAY_ONCE_BY_HAND = """
import json, os
import boto3
from botocore.exceptions import ClientError

sqs = boto3.client("sqs")
TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    key = event["payment_id"]
    try:
        TABLE.put_item(Item={"id": key}, ConditionExpression="attribute_not_exists(id)")
    except ClientError:
        return json.loads(TABLE.get_item(Key={"id": key})["Item"]["result"])
    result = {"payment_id": key, "charged": event["amount"]}
    sqs.send_message(QueueUrl=os.environ["CHARGES"], MessageBody=json.dumps(result))
    TABLE.update_item(Key={"id": key}, UpdateExpression="SET #r = :r", ExpressionAttributeNames={"#r": "result"},
                      ExpressionAttributeValues={":r": json.dumps(result)})
    return result
"""

PAY_EVERY_TIME = """
import json, os
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["CHARGES"], MessageBody=json.dumps(event))
    return {"payment_id": event["payment_id"], "charged": event["amount"]}
"""

PAY_NEVER = """
def handler(event, context):
    return {"payment_id": event["payment_id"], "charged": event["amount"]}
"""


def test_idempotent_passes_a_handler_with_powertools_idempotency() -> None:
    check("05.idempotent", handler("pay_once", PAY_ONCE))


@pytest.mark.parametrize(
    "source, hint",
    [
        (PAY_EVERY_TIME, "event_key_jmespath"),
        (PAY_NEVER, "charged 0 times"),
        (PAY_ONCE_BY_HAND, "as Powertools writes them"),
        (PAY_ONCE_BY_HAND.replace('return json.loads(TABLE.get_item(Key={"id": key})["Item"]["result"])', 'return {"duplicate": True}'), "same response"),
    ],
)
def test_idempotent_hints(source: str, hint: str) -> None:
    fails("05.idempotent", handler("pay_once", source), hint)


REJECTED = {"statusCode": 400, "error": "InvalidQuantity"}
DLQ_DONE = {
    "dead_letters": [{"order_id": 3, "quantity": "three"}, {"order_id": 5, "quantity": "a few"}],
    "replayed": [REJECTED, REJECTED],
    "left": 0,
}


def test_dlq_replay_passes_the_poison_orders_replayed() -> None:
    check("05.dlq-replay", DLQ_DONE)


@pytest.mark.parametrize(
    "answer, hint",
    [
        ({**DLQ_DONE, "dead_letters": []}, "DeadLetterConfig"),
        ({**DLQ_DONE, "dead_letters": DLQ_DONE["dead_letters"] + [{"order_id": 1, "quantity": 2}]}, "should not be in the DLQ"),
        ({**DLQ_DONE, "dead_letters": DLQ_DONE["dead_letters"][:1]}, "are missing"),
        ({**DLQ_DONE, "replayed": [{"errorType": "ValueError"}, REJECTED]}, "update_function_code"),
        ({**DLQ_DONE, "left": 2}, "delete each one"),
        ({"dead_letters": []}, "missing"),
        (["not", "a", "dict"], "pass a dict"),
    ],
)
def test_dlq_replay_hints(answer: Any, hint: str) -> None:
    fails("05.dlq-replay", answer, hint)


# -- 06 -------------------------------------------------------------------------------------

SLOW = """
import time
def handler(event, context):
    time.sleep(event["seconds"])
    return "done"
"""


def timed_out_invocation() -> Any:
    import labkit

    with labkit.Function("slow.handler", code=handler("slow", SLOW).parent, timeout_s=1) as fn:
        return fn.invoke({"seconds": 2}), fn.invoke({"seconds": 0})


def test_timeout_passes_the_numbers_read_from_a_timed_out_invocation() -> None:
    timed_out, fine = timed_out_invocation()
    billed = int(re.search(r"Billed Duration: (\d+) ms", timed_out.logs).group(1))
    answer = {"invocation": timed_out, "error_type": "Sandbox.Timedout", "timeout_s": 1.0, "billed_ms": billed}
    check("06.timeout", answer)
    fails("06.timeout", {**answer, "timeout_s": "1.00"}, "as a float")
    fails("06.timeout", {**answer, "billed_ms": 1000 if billed != 1000 else 999}, "Billed Duration")
    fails("06.timeout", {**answer, "error_type": "Timeout"}, "errorType")
    fails("06.timeout", {**answer, "invocation": fine}, "did not time out")
    fails("06.timeout", {"invocation": timed_out}, "missing")


STREAM = """
import hashlib, os, tempfile

def download(mb):
    for number in range(mb):
        yield bytes([number % 256]) * (1024 * 1024)

def handler(event, context):
    path = os.path.join(tempfile.gettempdir(), "download.bin")
    size = 0
    with open(path, "wb") as file:
        for chunk in download(event["mb"]):
            file.write(chunk)
            size += len(chunk)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1024 * 1024):
            digest.update(block)
    os.remove(path)
    return {"bytes": size, "sha256": digest.hexdigest()}
"""

IN_MEMORY = """
import hashlib

def download(mb):
    for number in range(mb):
        yield bytes([number % 256]) * (1024 * 1024)

def handler(event, context):
    data = b"".join(download(event["mb"]))
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
"""


def test_stream_tmp_passes_a_handler_that_streams_through_a_file() -> None:
    check("06.stream-tmp", handler("stream", STREAM))


@pytest.mark.parametrize(
    "source, hint",
    [
        (IN_MEMORY, "ran out of its 128 MB"),
        (STREAM.replace("digest.update(block)", "digest.update(block[:1])"), "sha256 is not the download"),
        (STREAM.replace('return {"bytes": size, ', 'return {"bytes": size - 1, '), "count every chunk"),
        (STREAM.replace('return {"bytes": size, "sha256": digest.hexdigest()}', "return digest.hexdigest()"), "return {'bytes'"),
    ],
)
def test_stream_tmp_hints(source: str, hint: str) -> None:
    fails("06.stream-tmp", handler("stream", source), hint)


# -- 07 -------------------------------------------------------------------------------------


def test_rate_times_duration_passes_the_rounded_up_product() -> None:
    check("07.rate-x-dur", lambda rate, ms: -(-rate * ms // 1000))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda rate, ms: rate * ms, "1,000 times too big"),
        (lambda rate, ms: int(rate * ms / 1000), "round up"),
        (lambda rate, ms: rate * ms / 1000, "an int"),
        (lambda rate, ms: rate * ms // 1000 + 2, "then round up"),
        (20, "pass your function itself"),
    ],
)
def test_rate_times_duration_hints(answer: Any, hint: str) -> None:
    fails("07.rate-x-dur", answer, hint)


def test_reserved_db_passes_six_reserved_a_full_burst_and_throttles() -> None:
    check("07.reserved-db", {"reserved": 6, "peak": 6, "throttles": 6})


@pytest.mark.parametrize(
    "answer, hint",
    [
        ({"reserved": 10, "peak": 10, "throttles": 2}, "other function's connections"),
        ({"reserved": 4, "peak": 4, "throttles": 8}, "unused"),
        ({"reserved": 6, "peak": 9, "throttles": 3}, "before the burst"),
        ({"reserved": 6, "peak": 3, "throttles": 0}, "send more requests"),
        ({"reserved": 6, "peak": 6, "throttles": 0}, "no request was throttled"),
        ({"reserved": 6.0, "peak": 6, "throttles": 6}, "ints"),
        ({"reserved": 6}, "missing"),
    ],
)
def test_reserved_db_hints(answer: Any, hint: str) -> None:
    fails("07.reserved-db", answer, hint)
