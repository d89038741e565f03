
def handler(event, context):
    if event.get("mode") == "failure":
        raise Exception("intentional failure!")
    else:
        return {"hello": "world", "test": "abc", "val": 5, "success": True}