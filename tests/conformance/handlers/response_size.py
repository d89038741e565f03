"""Returns a string of event["bytenum"] characters."""


def handler(event, ctx):
    print("generating bytes...")
    return "a" * event["bytenum"]
