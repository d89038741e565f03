"""S3 bucket notifications to Lambda: moto's records replaced by labkit's, and its Lambda invoke by the bridge's.

moto builds a short record (no userIdentity, requestParameters, responseElements, sequencer or
versionId, and a key with ``/`` encoded as ``%2F``); :func:`moto_record` builds AWS's record with
:mod:`labkit.events.s3` instead, for every destination (Lambda, SQS, SNS). A Lambda destination
is invoked asynchronously by ``s3.amazonaws.com`` through the bridge, and, as on AWS, a notification
configuration is refused when S3 may not invoke one of its functions (``add_permission`` first).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from labkit.events import s3 as s3_events

PRINCIPAL = "s3.amazonaws.com"


def moto_record(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    """The notification for one object event of moto's `bucket` and `key`, as S3 sends it."""
    return s3_events.events(
        s3_events.record(
            bucket.name,
            key.name,
            event_name=getattr(event_name, "value", event_name),  # moto passes its S3NotificationEvent enum
            size=key.size,
            etag=key.etag,
            version_id=key.version_id if getattr(bucket, "is_versioned", False) else None,
            configuration_id=notification_id,
            region=bucket.region_name,
        )
    )


def install(module: ModuleType, current_bridge: Callable[[], Any]) -> None:
    """Patch ``moto.s3.notifications`` (labkit's records, Lambda destinations through the bridge) and
    moto's PutBucketNotificationConfiguration (S3 may invoke each Lambda destination, as AWS checks)."""
    _check_destinations(importlib.import_module("moto.s3.models").S3Backend, current_bridge)
    original_invoke = module._invoke_awslambda
    original_record = module._get_s3_event

    def record(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        if current_bridge() is None:
            return original_record(event_name, bucket, key, notification_id)
        return moto_record(event_name, bucket, key, notification_id)

    def invoke_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        bridge = current_bridge()
        if bridge is None:
            return original_invoke(account_id, event_body, fn_arn, region_name)
        record = event_body["Records"][0]
        bucket_arn = record["s3"]["bucket"]["arn"]
        bridge.deliver("s3", bucket_arn, PRINCIPAL, account_id, fn_arn, event_body)

    setattr(module, "_get_s3_event", record)
    setattr(module, "_invoke_awslambda", invoke_lambda)


def _check_destinations(backend_class: Any, current_bridge: Callable[[], Any]) -> None:
    original_put = backend_class.put_bucket_notification_configuration
    from moto.s3.exceptions import InvalidArgumentError

    def put_bucket_notification_configuration(self: Any, bucket_name: str, notification_config: dict[str, Any]) -> None:
        bridge = current_bridge()
        for config in (notification_config.get("CloudFunctionConfiguration") or []) if bridge is not None else []:
            arn = config["CloudFunction"]
            if bridge.refusal(PRINCIPAL, s3_events.bucket_arn(bucket_name), self.account_id, arn) is not None:
                raise InvalidArgumentError(
                    "Unable to validate the following destination configurations", config.get("Id") or arn,
                    f"Not authorized to invoke function [{arn}]",
                )
        original_put(self, bucket_name, notification_config)

    backend_class.put_bucket_notification_configuration = put_bucket_notification_configuration
