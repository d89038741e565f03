"""Triggers that invoke functions in the local AWS: API Gateway (REST v1, HTTP v2), function URLs,
S3 notifications, SQS and DynamoDB Streams mappings, SNS subscriptions, EventBridge rules and
schedules (one module per trigger)."""
