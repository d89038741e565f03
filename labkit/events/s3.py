"""S3 event notifications as Lambda receives them: ``{"Records": [...]}`` with one record per object event.

The shape is AWS's "event message structure" (eventVersion 2.1): object keys URL-encoded as S3
sends them (a space becomes ``+``), ``size`` and ``eTag`` except on removals, and
``versionId`` only for versioned buckets. The S3 trigger of the local AWS builds its records here.

>>> event = s3.event("photos", "cats/tom.jpg", size=2048)
>>> event["Records"][0]["s3"]["object"]["key"]
'cats/tom.jpg'
"""
from __future__ import annotations

import itertools
import time
import uuid
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from labkit.runtime import limits

EVENT_VERSION = "2.1"
PRINCIPAL_ID = "AWS:AIDAJDPLRKLG7UEXAMPLE"
"""Who made the request (an IAM user's principal id; AWS shows the caller's)."""
OWNER_PRINCIPAL_ID = "A3NL1KOZZKExample"
"""The bucket owner's canonical id."""
SOURCE_IP = "127.0.0.1"

_sequence = itertools.count(1)


def record(
    bucket: str,
    key: str,
    *,
    event_name: str = "ObjectCreated:Put",
    size: int = 1024,
    etag: str = "0123456789abcdef0123456789abcdef",
    version_id: str | None = None,
    configuration_id: str = "testConfigRule",
    region: str = limits.DEFAULT_REGION,
    event_time: float | None = None,
    request_id: str | None = None,
    source_ip: str = SOURCE_IP,
    principal_id: str = PRINCIPAL_ID,
    sequencer: str | None = None,
) -> dict[str, Any]:
    """One S3 event record.

    Parameters
    ----------
    bucket, key
        The bucket's name and the object's key as stored (this builder URL-encodes it).
    event_name
        ``ObjectCreated:Put``, ``ObjectCreated:Copy``, ``ObjectRemoved:Delete``... (with or without ``s3:``).
    size, etag
        The object's size in bytes and its ETag without quotes (left out of ObjectRemoved and
        LifecycleExpiration records).
    version_id
        The object's version, for versioned buckets only.
    event_time
        Epoch seconds (default: now).
    """
    event_name = event_name.removeprefix("s3:")
    request_id = request_id or uuid.uuid4().hex[:16].upper()
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if not event_name.startswith(("ObjectRemoved", "LifecycleExpiration")):
        obj["size"] = size
        obj["eTag"] = etag.strip('"')
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer or f"{time.time_ns():016X}{next(_sequence) % 256:02X}"
    return {
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_millis(event_time),
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": request_id,
            "x-amz-id-2": f"{request_id}/{uuid.uuid4().hex}{uuid.uuid4().hex}",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": OWNER_PRINCIPAL_ID},
                "arn": bucket_arn(bucket),
            },
            "object": obj,
        },
    }


def event(bucket: str = "example-bucket", key: str = "test/key", **fields: Any) -> dict[str, Any]:
    """An S3 notification with one record (keyword arguments as :func:`record`)."""
    return {"Records": [record(bucket, key, **fields)]}


def events(*records: dict[str, Any]) -> dict[str, Any]:
    """A notification carrying several records (made with :func:`record`)."""
    return {"Records": list(records)}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_key(record: dict[str, Any]) -> str:
    """The object's key as stored (records carry it URL-encoded): what a handler passes to get_object."""
    return unquote_plus(record["s3"]["object"]["key"])


def iso_millis(epoch: float | None = None) -> str:
    """``2026-01-02T03:04:05.678Z``: the UTC timestamp with milliseconds S3 and SNS events carry."""
    epoch = time.time() if epoch is None else epoch
    whole = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((epoch - whole) * 1000):03d}Z"
