def handler(event, context):
    raise Exception("Handler fails")
