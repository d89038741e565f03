"""Chapter 04, asynchronous and stream triggers: a thumbnail-style S3 handler, an SQS handler that
reports partial batch failures, and schedule expressions.

The thumbnail check puts images into a bucket of the local AWS (`labkit.aws.start()`), hands the
learner's handler the S3 notification for them (built by :mod:`labkit.events.s3`, keys URL-encoded
as S3 sends them) and reads the thumbnails it wrote. The batch check hands the learner's SQS handler
batches built by :mod:`labkit.events.sqs` with poison messages among good ones. The schedule check compares the next firings
of the learner's expressions with the expected ones (:mod:`labkit.triggers.schedule`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import runpy
import uuid
from collections.abc import Callable
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.course.exercises.ch01 import expect_ok, handler_file, run_handler
from labkit.events import s3 as s3_events
from labkit.events.sqs import sqs_event, sqs_record
from labkit.triggers.schedule import Rate, Schedule, ScheduleExpressionError, parse

THUMBNAIL_PREFIX = "thumbs/"


def pgm(width: int, height: int) -> bytes:
    """A small greyscale test image in the plain PGM format (P2)."""
    pixels = " ".join(str((x * 31 + y * 17) % 256) for y in range(height) for x in range(width))
    return f"P2\n{width} {height}\n255\n{pixels}\n".encode()


@exercise("04.thumbnail", title="A thumbnail-style S3 handler")
def thumbnail(answer: Any) -> None:
    """`answer`: the path of a handler that writes a thumbnail of every .pgm object of an S3 notification
    to the bucket named by THUMBNAILS, at thumbs/<key>, with `imaging.thumbnail` (imaging.py next to it)."""
    path = handler_file(answer)
    imaging = path.parent / "imaging.py"
    expect(imaging.is_file(), f"there is no imaging.py next to {path.name}: run the cell that writes it first.")
    shrink: Callable[[bytes], bytes] = runpy.run_path(str(imaging))["thumbnail"]
    from labkit.aws import start

    aws = start()
    s3 = aws.client("s3")
    suffix = uuid.uuid4().hex[:8]
    photos, thumbs = f"check-photos-{suffix}", f"check-thumbs-{suffix}"
    uploads = {"cats/tom cat.pgm": pgm(8, 8), "dogs/rex+1.pgm": pgm(12, 4), "notes/readme.txt": b"not an image"}
    try:
        for bucket in (photos, thumbs):
            s3.create_bucket(Bucket=bucket)
        for key, body in uploads.items():
            s3.put_object(Bucket=photos, Key=key, Body=body)
        event = s3_events.events(*(s3_events.record(photos, key, size=len(body)) for key, body in uploads.items()))
        env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "THUMBNAILS": thumbs}
        [inv] = run_handler(path, [event], env=env, timeout_s=10)
        expect_ok(inv, "(an S3 notification with three records)")
        written = {item["Key"] for item in s3.list_objects_v2(Bucket=thumbs).get("Contents", [])}
        expected = {THUMBNAIL_PREFIX + key for key in uploads if key.endswith(".pgm")}
        encoded = {key for key in written if "%" in key or "+" in key.replace("rex+1", "")}
        expect(not encoded, f"the handler wrote {sorted(encoded)}: S3 sends keys URL-encoded (a space as +); "
                            "decode them with urllib.parse.unquote_plus before using them.")
        expect(written, f"no thumbnail in the bucket {thumbs}: write each one there (os.environ['THUMBNAILS']) "
                        f"with s3.put_object, at '{THUMBNAIL_PREFIX}' + the image's key.")
        expect(THUMBNAIL_PREFIX + "notes/readme.txt" not in written,
               "the handler made a thumbnail of a text file: skip keys that do not end in .pgm.")
        expect(written <= expected, f"unexpected objects {sorted(written - expected)}: name each thumbnail "
                                    f"'{THUMBNAIL_PREFIX}' + the image's key.")
        expect(written == expected, f"thumbnails missing for {sorted(expected - written)}: an S3 event can carry "
                                    "several records; handle every one of event['Records'].")
        for key in sorted(expected):
            original = uploads[key.removeprefix(THUMBNAIL_PREFIX)]
            body = s3.get_object(Bucket=thumbs, Key=key)["Body"].read()
            expect(body == shrink(original), f"{key} is not imaging.thumbnail() of the image: read the object "
                                             "with s3.get_object(...)['Body'].read() and write what thumbnail() returns.")
    finally:
        with contextlib.suppress(Exception):  # clean-up only: the check's verdict stands
            for bucket in (photos, thumbs):
                for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
                s3.delete_bucket(Bucket=bucket)


# -- 04.batch-fail -----------------------------------------------------------------------------------

# The orders of the batch check: those whose quantity is not a whole number above 0 are the poison messages.
BATCH_ORDERS: list[Any] = [
    {"order_id": 1, "quantity": 2},
    {"order_id": 2, "quantity": "three"},
    {"order_id": 3, "quantity": 1},
    {"order_id": 4, "quantity": 0},
    {"order_id": 5, "quantity": 7},
]


def _poison(order: dict[str, Any]) -> bool:
    quantity = order["quantity"]
    return not (isinstance(quantity, int) and quantity > 0)


@exercise("04.batch-fail", title="Report partial batch failures")
def batch_failures(answer: Any) -> None:
    """`answer`: the path of an SQS handler that returns {"batchItemFailures": [{"itemIdentifier": messageId}, ...]}
    for the orders it cannot process (quantity not a whole number above 0), and raises for none."""
    path = handler_file(answer)
    records = [sqs_record(order) for order in BATCH_ORDERS]
    clean = [sqs_record({"order_id": 10 + n, "quantity": n + 1}) for n in range(3)]
    mixed_inv, clean_inv = run_handler(path, [sqs_event(*records), sqs_event(*clean)])
    expect(
        mixed_inv.error is None,
        f"with a poison message in the batch the handler raised {(mixed_inv.error or {}).get('errorType')}: a raise fails "
        "the whole batch, and every message (the good ones too) comes back. Catch the failure per record and report it.",
    )
    result = mixed_inv.result
    expect(isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list),
           f"the handler returned {result!r}: return {{'batchItemFailures': [{{'itemIdentifier': ...}}, ...]}}.")
    reported = result["batchItemFailures"]
    expect(all(isinstance(item, dict) and "itemIdentifier" in item for item in reported),
           f"each failure is a dict with the key 'itemIdentifier', not {reported!r}.")
    ids = [item["itemIdentifier"] for item in reported]
    by_id = {record["messageId"]: order for record, order in zip(records, BATCH_ORDERS)}
    unknown = [i for i in ids if i not in by_id]
    expect(not unknown, f"{unknown} are not message ids of the batch: report each failed record's record['messageId'].")
    wrong = sorted(by_id[i]["order_id"] for i in ids if not _poison(by_id[i]))
    expect(not wrong, f"orders {wrong} are fine but were reported as failed: they would be processed again.")
    missed = sorted(order["order_id"] for record, order in zip(records, BATCH_ORDERS)
                    if _poison(order) and record["messageId"] not in ids)
    expect(not missed, f"orders {missed} cannot be processed (their quantity is not a whole number above 0) but were "
                       "not reported: they would be deleted from the queue as if they had succeeded.")
    expect(len(ids) == len(set(ids)), "report each failed message once.")
    expect(clean_inv.error is None and clean_inv.result in ({"batchItemFailures": []}, {}, None),
           f"for a batch without poison messages the handler returned {clean_inv.result!r}: return "
           "{'batchItemFailures': []} (an empty list: every message succeeded).")


# -- 04.schedules -----------------------------------------------------------------------------------

SCHEDULES = {
    "weekday_mornings": ("cron(30 8 ? * MON-FRI *)", "08:30 UTC, Monday to Friday"),
    "every_15_minutes": ("rate(15 minutes)", "every 15 minutes"),
    "month_end": ("cron(0 23 L * ? *)", "23:00 UTC on the last day of every month"),
}
SCHEDULE_START = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.timezone.utc).timestamp()  # a Monday
FIRINGS_COMPARED = 12


def _firings(schedule: Schedule, count: int = FIRINGS_COMPARED) -> list[float]:
    moment, found = SCHEDULE_START, []
    for _ in range(count):
        moment = schedule.next_after(moment, SCHEDULE_START)
        found.append(moment)
    return found


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%a %Y-%m-%d %H:%M UTC")


@exercise("04.schedules", title="Schedule expressions")
def schedules(answer: Any) -> None:
    """`answer`: {"weekday_mornings": ..., "every_15_minutes": ..., "month_end": ...}, EventBridge schedule expressions."""
    expect(isinstance(answer, dict), "pass a dict of schedule expressions: {" + ", ".join(f'"{k}": "..."' for k in SCHEDULES) + "}.")
    missing = set(SCHEDULES) - set(answer)
    expect(not missing, f"the dict is missing {sorted(missing)}.")
    for name, (reference, meaning) in SCHEDULES.items():
        expression = answer[name]
        expect(isinstance(expression, str), f"{name}: write the expression as a string, e.g. 'rate(5 minutes)'.")
        try:
            schedule = parse(expression)
        except ScheduleExpressionError as error:
            raise AssertionError(f"{name}: EventBridge would reject it: {error}") from None
        wanted = parse(reference)
        if isinstance(schedule, Rate) and isinstance(wanted, Rate):
            expect(schedule.seconds == wanted.seconds, f"{name} fires every {schedule.seconds // 60} minutes; it should be {meaning}.")
            continue
        got, expected = _firings(schedule), _firings(wanted)
        if got != expected:
            index = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            weekend = any(dt.datetime.fromtimestamp(t, dt.timezone.utc).weekday() >= 5 for t in got)
            hint = " Days of the week count from 1 = SUN in AWS's cron; names (MON-FRI) are safer." if weekend and name == "weekday_mornings" else ""
            raise AssertionError(
                f"{name} should fire at {meaning}, but its firing #{index + 1} after {_when(SCHEDULE_START)} is "
                f"{_when(got[index])}, not {_when(expected[index])}. Remember the fields: minutes hours day-of-month "
                f"month day-of-week year, in UTC.{hint}"
            )
