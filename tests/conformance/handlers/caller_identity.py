"""Returns STS GetCallerIdentity as seen by the function's own credentials."""
import os

import boto3


def handler(event, context):
    return boto3.client("sts", endpoint_url=os.environ.get("AWS_ENDPOINT_URL")).get_caller_identity()
