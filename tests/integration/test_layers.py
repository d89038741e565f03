"""The Powertools layer: built from the installed package, without the SDK the runtime brings, usable by a function."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import labkit
from labkit.runtime.layers import powertools_layer


def test_powertools_layer_holds_powertools_and_its_extras_but_not_the_sdk() -> None:
    python_dir = powertools_layer() / "python"
    present = {path.name for path in python_dir.iterdir()}
    assert {"aws_lambda_powertools", "pydantic", "aws_xray_sdk", "fastjsonschema"} <= present
    assert not {"boto3", "botocore", "s3transfer"} & present


def test_a_function_uses_powertools_from_the_layer(make_code: Callable[..., Path], backend: str) -> None:
    code = make_code(app="""
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.utilities.parser import BaseModel, parse

        logger = Logger(service="orders")

        class Order(BaseModel):
            id: str
            amount: int

        def handler(event, context):
            order = parse(event, model=Order)
            logger.info("order accepted", extra={"order_id": order.id})
            return order.amount * 2
    """)
    with labkit.Function("app.handler", code=code, layers=[powertools_layer()], backend=backend, timeout_s=30) as fn:
        inv = fn.invoke({"id": "o-1", "amount": 21})
        bad = fn.invoke({"id": "o-2"})
    assert inv.result == 42, inv.logs
    record = json.loads(next(line for line in inv.logs.splitlines() if line.startswith("{")))
    assert record["message"] == "order accepted" and record["service"] == "orders" and record["order_id"] == "o-1"
    assert bad.error is not None and bad.error["errorType"] == "ValidationError"
