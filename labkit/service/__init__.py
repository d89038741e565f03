"""The Lambda service: functions, versions, aliases, invoke types, concurrency, async queue, and its boto3-compatible HTTP API."""
