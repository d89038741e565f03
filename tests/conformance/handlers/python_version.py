"""Returns the Python version the function runs on, as {"version": "python3.12"}."""
import sys


def handler(event, context):
    return {"version": f"python{sys.version_info.major}.{sys.version_info.minor}"}
