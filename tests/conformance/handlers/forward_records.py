"""Sends the records of its event, as one message, to the queue in $SQS_QUEUE_URL."""
import json
import os

import boto3


def handler(event, context):
    sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                       region_name=os.environ.get("AWS_REGION", "us-east-1"))
    records = event.get("Records", [])
    sqs.send_message(QueueUrl=os.environ.get("SQS_QUEUE_URL"), MessageBody=json.dumps(records))
    return {"count": len(records)}
