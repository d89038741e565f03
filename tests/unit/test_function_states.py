"""Function states: Pending after CreateFunction, InProgress after an update, on the lesson clock."""
from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labkit.service import exceptions as exc
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService
from labkit.service.models import LambdaModel
from labkit.service.responses import function_configuration
from labkit.service.wire import HttpRequest
from tests.unit.test_service_models import config

PENDING = "The operation cannot be performed at this time. The function is currently in the following state: Pending"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


class StoppedClock(LessonClock):
    """Lesson time that moves only when a test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.at = 1_700_000_000.0

    def now(self) -> float:
        return self.at


def shape(model: LambdaModel, qualifier: str | None = None) -> dict[str, Any]:
    _state, version, _alias = model.resolve("orders", qualifier)
    return function_configuration(version, version.arn)


def test_a_created_function_is_pending_then_active_with_a_new_revision() -> None:
    clock = StoppedClock()
    model = LambdaModel(clock=clock, transition_s=0.3)
    created = model.create_function(config()).latest
    out = shape(model)
    assert (out["State"], out["StateReason"], out["StateReasonCode"]) == ("Pending", "The function is being created.", "Creating")
    assert "LastUpdateStatus" not in out
    with pytest.raises(exc.ResourceConflictException, match=PENDING):
        model.resolve_invocable("orders", None)
    with pytest.raises(exc.ResourceConflictException, match=PENDING):
        model.update_latest("orders", timeout=10)
    clock.at += 0.29
    assert shape(model)["State"] == "Pending"
    clock.at += 0.02
    out = shape(model)
    assert (out["State"], out["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in out and out["RevisionId"] != created.revision_id
    assert model.resolve_invocable("orders", None)[1].revision_id == out["RevisionId"]


def test_an_update_is_in_progress_refuses_updates_and_publishing_and_invokes_run_the_previous_configuration() -> None:
    clock = StoppedClock()
    model = LambdaModel(clock=clock, transition_s=0.3)
    model.create_function(config(timeout=3))
    clock.at += 1
    model.update_latest("orders", timeout=10)
    out = shape(model)
    assert (out["State"], out["LastUpdateStatus"], out["LastUpdateStatusReasonCode"], out["Timeout"]) == (
        "Active", "InProgress", "Creating", 10
    )
    in_progress = f"The operation cannot be performed at this time. An update is in progress for resource: {ARN}"
    with pytest.raises(exc.ResourceConflictException, match=in_progress):
        model.update_latest("orders", timeout=20)
    with pytest.raises(exc.ResourceConflictException, match=in_progress):
        model.publish_version("orders")
    assert model.resolve_invocable("orders", None)[1].timeout == 3
    clock.at += 0.3
    assert shape(model)["LastUpdateStatus"] == "Successful"
    assert model.resolve_invocable("orders", None)[1].timeout == 10
    version, created = model.publish_version("orders")
    assert created and function_configuration(version, version.arn)["State"] == "Active"


def test_a_version_published_with_the_create_is_pending_with_it() -> None:
    clock = StoppedClock()
    model = LambdaModel(clock=clock, transition_s=0.3)
    model.create_function(config())
    version, _ = model.publish_version("orders", with_change=True)
    assert function_configuration(version, version.arn)["State"] == "Pending"
    with pytest.raises(exc.ResourceConflictException, match=PENDING):
        model.resolve_invocable("orders", "1")
    clock.at += 0.3
    assert shape(model, "1")["State"] == "Active"


def test_a_fast_lesson_clock_shortens_the_transition() -> None:
    model = LambdaModel(clock=LessonClock(speed=1000), transition_s=30)  # 30 lesson seconds: 30 ms
    model.create_function(config())
    assert shape(model)["State"] == "Pending"
    time.sleep(0.06)
    assert shape(model)["State"] == "Active"


def test_the_transition_is_set_by_environment_and_refused_when_it_is_not_a_number(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LABKIT_STATE_TRANSITION_S", "2.5")
    with LambdaService("http://127.0.0.1:1", data_dir=tmp_path / "a") as service:
        assert service.model.transition_s == 2.5
    monkeypatch.setenv("LABKIT_STATE_TRANSITION_S", "soon")
    with pytest.raises(exc.InvalidParameterValueException, match="LABKIT_STATE_TRANSITION_S='soon' must be a number"):
        LambdaService("http://127.0.0.1:1", data_dir=tmp_path / "b")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_the_api_refuses_invokes_of_a_pending_function_with_409(tmp_path: Path) -> None:
    with LambdaService("http://127.0.0.1:1", data_dir=tmp_path / "lambda", state_transition_s=60) as service:
        body = json.dumps({
            "FunctionName": "orders", "Runtime": "python3.12", "Handler": "app.handler",
            "Role": "arn:aws:iam::123456789012:role/lambda-role", "Code": {"ZipFile": base64.b64encode(_zip()).decode()},
        }).encode()
        created = service.handle(HttpRequest("POST", "/2015-03-31/functions", {}, {}, body))
        assert created.status == 201 and json.loads(created.body)["State"] == "Pending"
        for invocation_type in ("RequestResponse", "Event"):
            answer = service.handle(HttpRequest(
                "POST", "/2015-03-31/functions/orders/invocations", {}, {"x-amz-invocation-type": invocation_type}, b"{}"
            ))
            assert answer.status == 409, invocation_type
            assert answer.headers["x-amzn-ErrorType"] == "ResourceConflictException"
            assert json.loads(answer.body)["message"] == PENDING


def test_provisioned_concurrency_is_in_progress_until_it_settles() -> None:
    clock = StoppedClock()
    model = LambdaModel(clock=clock, transition_s=0, provisioning_s=60)
    model.create_function(config())
    model.publish_version("orders")
    model.put_provisioned("orders", "1", 2)
    model.set_provisioned_status("orders", "1", 2, "READY")
    got = model.provisioned("orders", "1")
    assert (got.status, got.allocated) == ("IN_PROGRESS", 0)
    clock.at += 60
    got = model.provisioned("orders", "1")
    assert (got.status, got.allocated, got.pending) == ("READY", 2, None)
    assert model.delete_provisioned("orders", "1") == got
    assert model.delete_provisioned("orders", "1") is None  # none configured: no error, as on Lambda
