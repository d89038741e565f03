"""Logs one line with print and one with logging, then returns the event and parts of the context.

With {"raise_error": ...} in the event it raises instead. The `raise` must stay on line 55:
AWS's recorded stack traces point there (LocalStack's handler of the same behaviour has it there).
"""
import logging

logging.basicConfig(level=logging.INFO)
LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

RAISE_ERROR_FLAG = "raise_error"


def context_summary(context):
    """The parts of the context this handler returns."""
    return {
        "invoked_function_arn": context.invoked_function_arn,
        "function_version": context.function_version,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_context": context.client_context,
    }


def handler(event, context):
    print("Lambda log message - print function", flush=True)
    LOGGER.info("Lambda log message - logging module")
    # (kept blank so that the raise below stays on line 55)





















    if RAISE_ERROR_FLAG in event:
        raise Exception("Test exception (this is intentional)")
    return {"event": event, "context": context_summary(context)}
