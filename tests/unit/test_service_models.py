"""The Lambda service's state: names and ARNs, versions, aliases, concurrency settings, event-invoke configs."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit.service import exceptions as exc
from labkit.service.models import (
    LATEST,
    CodeArtifact,
    EventInvokeConfig,
    LambdaModel,
    VersionConfig,
    parse_function_ref,
    unreserved_floor,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


def config(name: str = "orders", sha: str = "sha-1", **changes: object) -> VersionConfig:
    code = CodeArtifact(Path("/nonexistent"), sha, 100)
    return VersionConfig(name, "python3.12", "arn:aws:iam::123456789012:role/r", "app.handler", code, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ref", "qualifier", "expected"),
    [
        ("orders", None, ("orders", None)),
        ("orders:live", None, ("orders", "live")),
        ("orders", "3", ("orders", "3")),
        (ARN, None, ("orders", None)),
        (f"{ARN}:$LATEST", None, ("orders", "$LATEST")),
        ("123456789012:function:orders:7", None, ("orders", "7")),
        (f"{ARN}:live", "live", ("orders", "live")),
    ],
)
def test_function_names_arns_and_qualifiers(ref: str, qualifier: str | None, expected: tuple[str, str | None]) -> None:
    assert parse_function_ref(ref, qualifier) == expected


def test_a_qualifier_that_contradicts_the_arn_is_refused() -> None:
    with pytest.raises(exc.InvalidParameterValueException, match="derived qualifier"):
        parse_function_ref(f"{ARN}:live", "3")
    with pytest.raises(exc.InvalidParameterValueException, match="functionName"):
        parse_function_ref("bad name!")


def test_creating_a_function_twice_is_a_conflict_and_missing_ones_are_not_found() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config())
    with pytest.raises(exc.ResourceConflictException, match="Function already exist: orders"):
        model.create_function(config())
    with pytest.raises(exc.ResourceNotFoundException, match=r"Function not found: .*function:nope$"):
        model.function("nope")
    with pytest.raises(exc.ResourceNotFoundException, match=r"function:orders:9$"):
        model.resolve("orders", "9")


def test_publishing_freezes_latest_and_an_unchanged_function_keeps_its_last_version() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config(memory_size=128))
    first, new = model.publish_version("orders", description="v1")
    assert (first.version, new, first.description, first.arn) == ("1", True, "v1", f"{ARN}:1")
    again, new_again = model.publish_version("orders")
    assert (again.version, new_again) == ("1", False)
    model.update_latest("orders", memory_size=512)
    second, _ = model.publish_version("orders")
    assert second.version == "2" and second.memory_size == 512
    assert model.resolve("orders", "1")[1].memory_size == 128, "version 1 changed with $LATEST"
    with pytest.raises(exc.InvalidParameterValueException, match="CodeSHA256"):
        model.publish_version("orders", code_sha256="other")
    with pytest.raises(exc.PreconditionFailedException):
        model.publish_version("orders", revision_id="stale")


def test_update_latest_checks_the_revision_and_changes_it() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config())
    before = model.function("orders").latest  # Active: the end of Pending gave it a new RevisionId
    with pytest.raises(exc.PreconditionFailedException, match="Revision Id"):
        model.update_latest("orders", "wrong", timeout=10)
    after = model.update_latest("orders", before.revision_id, timeout=10)
    assert after.timeout == 10 and after.revision_id != before.revision_id


def test_aliases_route_between_published_versions_only() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config())
    model.publish_version("orders")
    model.update_latest("orders", timeout=9)
    model.publish_version("orders")
    alias = model.create_alias("orders", "live", "1", weights={"2": 0.1})
    assert alias.weights == {"2": 0.1}
    _state, version, found = model.resolve("orders", "live")
    assert version.version == "1" and found is not None and found.name == "live"
    with pytest.raises(exc.ResourceConflictException):
        model.create_alias("orders", "live", "1")
    with pytest.raises(exc.InvalidParameterValueException, match=r"\$LATEST"):
        model.create_alias("orders", "canary", LATEST, weights={"1": 0.5})
    with pytest.raises(exc.InvalidParameterValueException, match="weight"):
        model.create_alias("orders", "canary", "1", weights={"2": 1.5})
    with pytest.raises(exc.InvalidParameterValueException, match="regular expression"):
        model.create_alias("orders", "42", "1")
    with pytest.raises(exc.ResourceNotFoundException):
        model.create_alias("orders", "canary", "7")
    with pytest.raises(exc.ResourceConflictException, match="aliases reference it"):
        model.delete_function("orders", "2")
    model.update_alias("orders", "live", weights={})
    model.delete_function("orders", "2")
    with pytest.raises(exc.InvalidParameterValueException, match="cannot be deleted"):
        model.delete_function("orders", LATEST)


@pytest.mark.parametrize(("limit", "floor"), [(1000, 100), (5000, 100), (500, 50), (100, 10), (10, 1), (1, 1)])
def test_the_unreserved_floor_is_100_or_a_tenth_of_a_small_lesson_account(limit: int, floor: int) -> None:
    assert unreserved_floor(limit) == floor


def test_reserved_concurrency_cannot_eat_into_the_unreserved_floor() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config("a"))
    model.create_function(config("b"))
    assert model.put_reserved("a", 600) == 600
    assert model.put_reserved("b", 300) == 300
    assert model.unreserved_limit() == 100
    with pytest.raises(exc.InvalidParameterValueException, match=r"below its minimum value of \[100\]"):
        model.put_reserved("b", 301)
    model.put_reserved("a", 0)  # lowering is always fine
    assert model.unreserved_limit() == 700


def test_a_small_lesson_account_scales_the_floor_down() -> None:
    model = LambdaModel(account_concurrency=10, transition_s=0)
    model.create_function(config())
    assert model.put_reserved("orders", 9) == 9
    with pytest.raises(exc.InvalidParameterValueException, match=r"minimum value of \[1\]"):
        model.put_reserved("orders", 10)
    with pytest.raises(exc.InvalidParameterValueException, match="unreserved"):
        model.set_account_limit(5)  # 9 reserved would not fit
    model.delete_reserved("orders")
    model.set_account_limit(5)
    assert model.account_limit == 5


def test_provisioned_concurrency_needs_a_published_version_within_the_reservation() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config())
    with pytest.raises(exc.InvalidParameterValueException, match="unpublished function versions"):
        model.put_provisioned("orders", LATEST, 2)
    model.publish_version("orders")
    model.put_reserved("orders", 3)
    with pytest.raises(exc.InvalidParameterValueException, match="reservedConcurrentExecution"):
        model.put_provisioned("orders", "1", 4)
    assert model.put_provisioned("orders", "1", 2).requested == 2
    with pytest.raises(exc.InvalidParameterValueException, match="an alias or a published version"):
        model.provisioned("orders", None)
    with pytest.raises(exc.InvalidParameterValueException, match=r"lower than function's total provisioned concurrency \[2\]"):
        model.put_reserved("orders", 1)


def test_event_invoke_configs_put_replaces_update_merges() -> None:
    model = LambdaModel(transition_s=0)
    model.create_function(config())
    with pytest.raises(exc.ResourceNotFoundException, match="doesn't have an EventInvokeConfig"):
        model.event_config("orders", None)
    with pytest.raises(exc.ResourceNotFoundException):
        model.put_event_config("orders", None, EventInvokeConfig(LATEST, 1), merge=True)
    model.put_event_config("orders", None, EventInvokeConfig(LATEST, 1, 120, "arn:aws:sqs:us-east-1:123456789012:ok"), merge=False)
    merged = model.put_event_config("orders", LATEST, EventInvokeConfig(LATEST, None, 300), merge=True)
    assert (merged.retries, merged.max_age_s, merged.on_success) == (1, 300, "arn:aws:sqs:us-east-1:123456789012:ok")
    replaced = model.put_event_config("orders", None, EventInvokeConfig(LATEST, None, 300), merge=False)
    assert (replaced.retries, replaced.on_success) == (2, None), "Put must drop the settings it does not name"
    assert model.effective_event_config("orders", "1").max_age_s == 6 * 3600
    model.delete_event_config("orders", None)
    assert model.event_configs("orders") == []
