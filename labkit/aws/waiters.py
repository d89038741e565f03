"""Waiting for a Lambda function to be ready, with boto3's own waiters polled at the local AWS's pace.

Lambda answers CreateFunction with ``State: Pending`` and an update with ``LastUpdateStatus:
InProgress``; code that invokes, updates or publishes next must wait (boto3's ``function_active_v2``
and ``function_updated_v2`` waiters). Against AWS they poll every second; labkit's own tools
(`labkit deploy`, the course's checks) poll the local service more often.
"""
from __future__ import annotations

from typing import Any

LOCAL_POLL_S = 0.02
"""Seconds between two polls of the local service (boto3's default against AWS: 1 s)."""
LOCAL_MAX_POLLS = 1500


def wait_function_ready(lambda_client: Any, function_name: str, *, delay_s: float = LOCAL_POLL_S) -> None:
    """Block until the function is Active and its last update Successful (a WaiterError if it fails)."""
    config = {"Delay": delay_s, "MaxAttempts": LOCAL_MAX_POLLS}
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=function_name, WaiterConfig=config)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function_name, WaiterConfig=config)
