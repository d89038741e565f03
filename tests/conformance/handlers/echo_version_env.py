"""Logs the function version, $CUSTOM_VAR and the event as one JSON line, and returns the event."""
import json
import os


def handler(event, context):
    print(json.dumps({"function_version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
                      "CUSTOM_VAR": os.environ.get("CUSTOM_VAR"), "event": event}))
    return event
