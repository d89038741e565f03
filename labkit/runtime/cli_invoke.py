"""`labkit invoke`: run a handler from the command line and print what Lambda would."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from labkit.errors import ConfigurationError
from labkit.runtime.function import Function


def parse_event(text: str) -> Any:
    """`--event` is JSON text, or @FILE naming a JSON file."""
    source = "--event"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"event file {str(path)!r} does not exist: give --event @PATH to a JSON file")
        source, text = str(path), path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"{source} is not valid JSON ({exc}); quote it for the shell, e.g. --event '{{\"name\": \"Ada\"}}'"
        ) from None


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--env {pair!r} is not of the form KEY=VALUE")
        env[key] = value
    return env


def run_invoke(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise ConfigurationError(f"--repeat {args.repeat} must be at least 1")
    event = parse_event(args.event)
    with Function(
        args.handler,
        code=args.code,
        memory_mb=args.memory,
        timeout_s=args.timeout,
        env=parse_env(args.env),
        backend=args.backend,
    ) as function:
        for _ in range(args.repeat):
            invocation = function.invoke(event)
            if args.json:
                print(json.dumps(invocation.to_dict()), flush=True)
                continue
            print(invocation.logs, end="")
            body = invocation.error if invocation.error is not None else invocation.result
            label = "Error" if invocation.error is not None else "Result"
            print(f"{label}: {json.dumps(body, indent=2)}\n", flush=True)
    return 0
