"""Two handlers in one module, to switch between with UpdateFunctionConfiguration."""


def handler(event, context):
    result = {"handler": "handler"}
    print(result)
    return result


def handler_two(event, context):
    result = {"handler": "handler_two"}
    print(result)
    return result
