"""Logs one line with logging and returns the request id."""
import logging

logging.basicConfig(level=logging.INFO)
LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)


def handler(event, context):
    LOGGER.info("RequestId log message")
    return context.aws_request_id
