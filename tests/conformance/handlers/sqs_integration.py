"""For SQS event source mappings: fails the first N receives of a message, reporting each attempt.

The message body is {"destination": "<queue url>", "fail_attempts": N}; every attempt sends
{"error": ..., "event": <the event>} to the destination queue.
"""
import json
import os

import boto3


def handler(event, context):
    if len(event.get("Records", [])) != 1:
        raise ValueError("the payload must consist of exactly one record")
    record = event["Records"][0]
    message = json.loads(record["body"])
    if not message.get("destination"):
        raise ValueError("no destination for the event given")
    error = None
    try:
        if message["fail_attempts"] >= int(record["attributes"]["ApproximateReceiveCount"]):
            raise ValueError("failed attempt")
    except Exception as e:
        error = e
        raise
    finally:
        sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                           region_name=os.environ.get("AWS_REGION", "us-east-1"))
        result = {"error": None if not error else str(error), "event": event}
        sqs.send_message(QueueUrl=message.get("destination"), MessageBody=json.dumps(result))
