"""S3 bucket notifications to Lambda: AWS's records, and Lambda destinations invoked through the bridge.

moto builds a short record (no userIdentity, requestParameters, responseElements, sequencer or
versionId, and a key with ``/`` encoded as ``%2F``); :func:`notification` builds AWS's record with
:mod:`labkit.events.s3` instead, for every destination (Lambda, SQS, SNS). A Lambda destination
is invoked asynchronously by ``s3.amazonaws.com`` through the bridge, and, as on AWS, a notification
configuration is refused when S3 may not invoke one of its functions (``add_permission`` first).
"""
from __future__ import annotations

from typing import Any

from labkit.aws.embedded.hooks import ObjectEvent
from labkit.events import s3 as s3_events

PRINCIPAL = "s3.amazonaws.com"


def notification(event: ObjectEvent) -> dict[str, Any]:
    """The notification for one object event, as S3 sends it."""
    return s3_events.events(
        s3_events.record(
            event.bucket,
            event.key,
            event_name=event.event_name,
            size=event.size,
            etag=event.etag,
            version_id=event.version_id,
            configuration_id=event.configuration_id,
            region=event.region,
        )
    )
