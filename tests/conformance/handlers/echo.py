"""Returns the event it was given (and logs it)."""
import json


def handler(event, context):
    print(json.dumps(event))
    return event
