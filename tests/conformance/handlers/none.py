"""Logs the event and returns nothing."""
import json


def handler(event, context):
    print(json.dumps(event))
    return
