"""Fast checks of the runtime's pure parts: configuration rules, REPORT lines, log splitting, payloads."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from labkit.errors import ConfigurationError, PayloadTooLargeError
from labkit.runtime.config import FunctionConfig, validate_env, validate_handler
from labkit.runtime.function import default_name, encode_event
from labkit.runtime.invocation import Report
from labkit.runtime.lambda_env import log_stream_name, trace_header
from labkit.runtime.logs import init_report_line, split_output


@pytest.mark.parametrize("handler", ["app", "app.py.handler", "app.", ".handler", "app.class", "my app.handler", 3])
def test_bad_handler_strings_are_refused_with_the_form_to_use(handler: object) -> None:
    with pytest.raises(ConfigurationError, match="module.function|\\.py ending"):
        validate_handler(handler)  # type: ignore[arg-type]


@pytest.mark.parametrize("handler", ["app.handler", "pkg/app.handler", "pkg.app.handler", "lambda_function.lambda_handler"])
def test_good_handler_strings_pass(handler: str) -> None:
    validate_handler(handler)


def _config(tmp_path: Path, **changes: object) -> FunctionConfig:
    values: dict[str, object] = {"handler": "app.handler", "code_dir": tmp_path, "name": "fn", **changes}
    return FunctionConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("memory_mb", 100, "128 to 10,240 MB"),
        ("memory_mb", 10_241, "128 to 10,240 MB"),
        ("timeout_s", 0, "1 to 900 seconds"),
        ("timeout_s", 901, "1 to 900 seconds"),
        ("ephemeral_storage_mb", 256, "512 to 10,240 MB"),
        ("name", "bad name!", "1-64 letters"),
    ],
)
def test_out_of_range_configuration_names_the_allowed_range(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _config(tmp_path, **{field: value}).validate()


def test_missing_code_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        _config(tmp_path / "nope").validate()


def test_reserved_environment_keys_are_refused_as_lambda_refuses_them() -> None:
    with pytest.raises(ConfigurationError, match="Reserved keys used in this request: AWS_REGION, _HANDLER"):
        validate_env({"AWS_REGION": "x", "_HANDLER": "y", "STAGE": "dev"})


def test_environment_over_4kb_is_refused() -> None:
    validate_env({"A": "x" * 4000})
    with pytest.raises(ConfigurationError, match="4KB"):
        validate_env({"A": "x" * 4100})


def test_environment_values_must_be_strings() -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        validate_env({"PORT": 8080})  # type: ignore[dict-item]


def test_billed_duration_includes_init_and_rounds_up_to_the_millisecond() -> None:
    # AWS docs' example (shared/FACTS.md): Duration 15.74 ms, Init 130.49 ms -> Billed 147 ms.
    assert Report.billed(15.74, 130.49) == 147
    # AWS News Blog's 1 ms example: 27.40 ms -> 28 ms.
    assert Report.billed(27.40, None) == 28
    assert Report.billed(3.0, None) == 3


def test_report_line_is_lambdas_exact_format_and_parses_back() -> None:
    report = Report("8f5c", 15.74, 147, 128, 56, init_ms=130.49)
    assert report.line == (
        "REPORT RequestId: 8f5c\tDuration: 15.74 ms\tBilled Duration: 147 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tInit Duration: 130.49 ms\t"
    )
    assert Report.parse(report.line) == report
    timeout = Report("x", 3000.0, 3000, 128, 40, status="timeout")
    assert timeout.line.endswith("Status: timeout\t")
    assert Report.parse(timeout.line) == timeout


def test_power_tuning_style_parsers_read_our_report_line() -> None:
    # aws-lambda-power-tuning extracts durations with regexes like these from the log tail.
    line = Report("id", 27.4, 28, 512, 70).line
    assert re.search(r"\tDuration: (\d+\.\d+) ms", line).group(1) == "27.40"  # type: ignore[union-attr]
    assert re.search(r"Billed Duration: (\d+) ms", line).group(1) == "28"  # type: ignore[union-attr]


def test_init_report_line() -> None:
    line = init_report_line(45.151, "init", "error", "Runtime.ImportModuleError")
    assert line == "INIT_REPORT Init Duration: 45.15 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError"


def test_runtime_output_splits_into_lines_including_awslambdaric_cr_joined_errors() -> None:
    assert split_output(b"a\nb\r  c\n") == ["a", "b", "  c"]
    assert split_output(b"") == []


def test_events_encode_as_json_and_the_6mb_limit_is_lambdas() -> None:
    assert encode_event({"a": 1}) == b'{"a": 1}'
    assert encode_event(None) == b"null"
    assert encode_event(b'{"raw": true}') == b'{"raw": true}'
    with pytest.raises(ConfigurationError, match="JSON"):
        encode_event({1, 2})
    with pytest.raises(PayloadTooLargeError, match="6291456 bytes"):
        encode_event("x" * (6 * 1024 * 1024))


def test_log_stream_and_trace_header_shapes() -> None:
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", log_stream_name())
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=.*", trace_header())


def test_default_function_name_comes_from_the_code_folder(tmp_path: Path) -> None:
    assert default_name(tmp_path / "hello world", "app.handler") == "hello-world"
