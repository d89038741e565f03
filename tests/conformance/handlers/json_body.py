"""Returns the JSON document in the event's body (a function URL answer built by the caller)."""
import json


def handler(event, context):
    print(json.dumps(event))
    return json.loads(event["body"])
