"""An environment's Runtime API serves only that environment's processes, as on Lambda: another
function's handler (or any local process) that finds its port is refused and gets no event."""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import labkit

CodeMaker = Callable[..., Path]

GET_NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"

VICTIM = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))  # long enough for labkit to poll for new connections
    return {"secret": event["secret"], "api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
"""

# Asks the victim's Runtime API for events over and over, and answers any it gets with a forgery.
ATTACKER = """
import socket, time
GET_NEXT = %r
def handler(event, context):
    host, port = event["api"].split(":")
    stolen, refused = 0, 0
    end = time.time() + event["seconds"]
    while time.time() < end:
        try:
            conn = socket.create_connection((host, int(port)), timeout=1)
        except OSError:
            refused += 1
            continue
        try:
            conn.sendall(GET_NEXT)
            data = conn.recv(65536).decode("latin-1")
            if not data:
                refused += 1
                continue
            stolen += 1
            ids = [l.split(":", 1)[1].strip() for l in data.split("\\r\\n") if l.lower().startswith("lambda-runtime-aws-request-id")]
            body = b'{"secret": "forged"}'
            head = f"POST /2018-06-01/runtime/invocation/{ids[0]}/response HTTP/1.1\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n"
            conn.sendall(head.encode() + body)
            conn.recv(65536)
        except TimeoutError:
            pass
        except OSError:
            refused += 1
        finally:
            conn.close()
    return {"stolen": stolen, "refused": refused}
""" % GET_NEXT


def test_another_process_is_refused_and_the_environment_keeps_all_its_invocations(
    make_code: CodeMaker, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="labkit.runtime")
    with labkit.Function("app.handler", code=make_code("victim", app=VICTIM), backend=backend) as victim, \
            labkit.Function("app.handler", code=make_code("attacker", app=ATTACKER), backend=backend,
                            memory_mb=1769, timeout_s=30) as attacker:
        api = victim.invoke({"secret": "s-warm-up"}).result["api"]
        (victim_env,) = victim.environments
        host, port = api.split(":")

        # A plain client in labkit's own process: closed at once, no event.
        plain = socket.create_connection((host, int(port)), timeout=5)
        plain.sendall(GET_NEXT)
        assert victim.invoke({"secret": "s-plain", "sleep": 0.1}).result["secret"] == "s-plain"
        try:
            answer = plain.recv(65536)
        except ConnectionResetError:  # closed with the request unread
            answer = b""
        finally:
            plain.close()
        assert answer == b"", "a foreign connection must be closed without an answer"

        # Another function's handler attacks while the victim is invoked 40 times.
        outcome: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: outcome.update(inv=attacker.invoke({"api": api, "seconds": 4})))
        thread.start()
        while not attacker.environments or not attacker.environments[0].busy:
            time.sleep(0.01)
        time.sleep(0.5)  # its runtime started: the handler is connecting
        secrets = [f"s-{i}" for i in range(40)]
        results = []
        for secret in secrets:
            results.append(victim.invoke({"secret": secret, "sleep": 0.01}))
            time.sleep(0.05)
        thread.join()
    assert [inv.error for inv in results] == [None] * 40
    assert [inv.result["secret"] for inv in results] == secrets, "the victim got every one of its invocations"
    attack = outcome["inv"]
    assert attack.error is None, attack.error
    assert attack.result["stolen"] == 0 and attack.result["refused"] > 0, attack.result
    refusals = [r.getMessage() for r in caplog.records if "refused a connection to the Runtime API" in r.getMessage()]
    assert refusals and f"of environment {victim_env.id} of function" in refusals[0]
