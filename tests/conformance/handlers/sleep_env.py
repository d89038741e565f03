"""Sleeps $TEST_SLEEP_S seconds."""
import os
import time


def handler(event, context):
    time.sleep(int(os.environ.get("TEST_SLEEP_S", "0")))
    return event
