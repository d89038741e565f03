"""Logs the event and request id, then fails (the raise must stay on line 7, as recorded)."""
import json


def handler(event, context):
    print(json.dumps({"event": event, "aws_request_id": context.aws_request_id}))
    raise Exception("intentional failure")
