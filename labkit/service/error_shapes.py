"""AWS's error shapes for answers the local AWS gives itself (not a service's): JSON or query/REST XML."""
from __future__ import annotations

import json
from collections.abc import Mapping
from xml.sax.saxutils import escape


def aws_error_body(headers: Mapping[str, str], code: str, message: str, *, sender: bool = False) -> tuple[str, bytes]:
    """An error as the request's protocol carries it, so any AWS SDK reads its code and message:
    JSON for JSON protocols (``X-Amz-Target`` or a JSON content type), else query/REST XML."""
    content_type = headers.get("content-type", "")
    if "x-amz-target" in headers or "json" in content_type:
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    fault = "Sender" if sender else "Receiver"
    text = f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>" \
           "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    return "text/xml", text.encode()
