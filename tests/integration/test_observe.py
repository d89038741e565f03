"""labkit.observe end to end: a local AWS whose Lambda service ships logs, metrics, traces; alarms that move."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.observe import ServiceObserver, attach
from labkit.observe.sinks import BackendSink, ClientSink
from labkit.runtime.layers import powertools_layer
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")

APP = """
import json, logging, time
logger = logging.getLogger()
logger.setLevel(logging.INFO)
def handler(event, context):
    print("hello from the handler")
    logger.info("structured %s", "record")
    if event.get("emf"):
        print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
            {"Namespace": "Shop", "Dimensions": [["service"]], "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
            "service": "cart", "Orders": event["emf"]}))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return "ok"
"""

TRACED = """
import boto3
from aws_lambda_powertools import Tracer
tracer = Tracer(service="shop")
s3 = boto3.client("s3")
@tracer.capture_lambda_handler
def handler(event, context):
    s3.list_buckets()
    return "traced"
"""


def package(source: str, *folders: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app.py", source)
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class Local:
    def __init__(self, aws: LocalAws, service: LambdaService, observer: ServiceObserver) -> None:
        self.aws = aws
        self.service = service
        self.observer = observer
        self.lam = aws.client("lambda")
        self.logs = aws.client("logs")
        self.cloudwatch = aws.client("cloudwatch")

    def create(self, name: str, source: str = APP, *folders: Path, **extra: Any) -> None:
        self.lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": package(source, *folders)}, **extra,
        )
        wait_function_ready(self.lam, name)

    def invoke(self, name: str, event: Any = None) -> dict[str, Any]:
        return self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())

    def metric_sum(self, metric: str, dimensions: list[dict[str, str]], namespace: str = "AWS/Lambda",
                   statistic: str = "Sum") -> float:
        now = self.service.clock.now()
        answer = self.cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName=metric, Dimensions=dimensions,
            StartTime=dt.datetime.fromtimestamp(now - 3600, dt.timezone.utc),
            EndTime=dt.datetime.fromtimestamp(now + 60, dt.timezone.utc), Period=3600 + 60, Statistics=[statistic],
        )
        return sum(point[statistic] for point in answer["Datapoints"])


@pytest.fixture(params=["backends"])
def local(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Local]:
    """The local AWS, its observer shipping into moto's backends; `indirect` "boto3": through boto3 instead."""
    yield from _local(tmp_path, "process", request.param)


@pytest.fixture
def local_on(tmp_path: Path, backend: str) -> Iterator[Local]:
    """The local AWS with the Lambda service on each backend (process and docker)."""
    yield from _local(tmp_path, backend)


def _local(tmp_path: Path, backend: str, sink: str = "backends") -> Iterator[Local]:
    service = LambdaService(clock=LessonClock(speed=1), data_dir=tmp_path / "lambda", idle_timeout_s=60, backend=backend)
    aws = LocalAws.start(lambda_app=service)
    aws.reset()  # moto's backends are the process's: no logs or metrics of an earlier test
    service.endpoint_url = aws.endpoint_url
    observer = attach(service, sink=ClientSink(aws.client) if sink == "boto3" else None)
    assert isinstance(observer.sink, BackendSink if sink == "backends" else ClientSink)
    try:
        yield Local(aws, service, observer)
    finally:
        aws.close()
        service.close()
    assert not [t for t in threading.enumerate() if t.name in ("labkit-observe", "labkit-xray-daemon")]


BOTH_SINKS = pytest.mark.parametrize("local", ["backends", "boto3"], indirect=True)


@BOTH_SINKS
def test_logs_land_in_the_functions_group_one_stream_per_environment(local: Local) -> None:
    local.create("hello")
    request_ids = [local.invoke("hello")["ResponseMetadata"]["RequestId"] for _ in range(3)]
    local.observer.flush()
    streams = local.logs.describe_log_streams(logGroupName="/aws/lambda/hello")["logStreams"]
    assert len(streams) == 1 and STREAM.match(streams[0]["logStreamName"])
    events = local.logs.get_log_events(logGroupName="/aws/lambda/hello", logStreamName=streams[0]["logStreamName"])
    messages = [e["message"] for e in events["events"]]
    assert sum(m.startswith("START RequestId:") for m in messages) == 3
    assert sum(m.startswith("REPORT RequestId:") for m in messages) == 3
    assert messages.count("hello from the handler") == 3
    found = local.logs.filter_log_events(logGroupName="/aws/lambda/hello", filterPattern="REPORT")["events"]
    assert len(found) == 3 and len(request_ids) == 3


@BOTH_SINKS
def test_json_log_format_turns_platform_lines_into_records(local: Local) -> None:
    local.create("structured", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
    config = local.lam.get_function_configuration(FunctionName="structured")["LoggingConfig"]
    assert config == {"LogFormat": "JSON", "LogGroup": "/aws/lambda/structured", "ApplicationLogLevel": "INFO",
                      "SystemLogLevel": "INFO"}
    request_id = local.invoke("structured")["ResponseMetadata"]["RequestId"]
    local.observer.flush()
    events = local.logs.filter_log_events(logGroupName="/aws/lambda/structured")["events"]
    records = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
    types = [r.get("type") for r in records]
    assert "platform.start" in types and "platform.report" in types
    assert not any(e["message"].startswith(("START", "END", "REPORT")) for e in events)
    report = next(r for r in records if r.get("type") == "platform.report")
    assert report["record"]["requestId"] == request_id
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                                                 "initDurationMs"}
    application = next(r for r in records if r.get("message") == "structured record")
    assert application["level"] == "INFO" and application["requestId"] == request_id


@BOTH_SINKS
def test_metrics_count_the_invocations_made(local: Local) -> None:
    local.create("counted")
    for event in [{}, {}, {"fail": True}, {}, {"fail": True}]:
        local.invoke("counted", event)
    local.observer.flush()
    dims = [{"Name": "FunctionName", "Value": "counted"}]
    assert local.metric_sum("Invocations", dims) == 5
    assert local.metric_sum("Errors", dims) == 2
    assert local.metric_sum("Duration", dims, statistic="SampleCount") == 5
    assert local.metric_sum("ConcurrentExecutions", dims, statistic="Maximum") == 1
    summary = local.observer.summary("counted", period_s=3600, periods=1)
    assert summary.totals == {"invocations": 5, "errors": 2, "cold_starts": 1}
    assert summary.buckets[0].concurrency == 1 and summary.recent_logs[-1].startswith("REPORT RequestId:")


def test_async_events_are_counted_with_their_age(local: Local) -> None:
    local.create("later")
    for _ in range(3):
        local.lam.invoke(FunctionName="later", InvocationType="Event", Payload=b"{}")
    assert local.service.wait_for_async(30)
    local.observer.flush()
    dims = [{"Name": "FunctionName", "Value": "later"}]
    assert local.metric_sum("AsyncEventsReceived", dims) == 3
    assert local.metric_sum("AsyncEventAge", dims, statistic="SampleCount") == 3
    assert local.metric_sum("Invocations", dims) == 3


def test_emf_lines_become_custom_metrics(local: Local) -> None:
    local.create("emf")
    local.invoke("emf", {"emf": 3})
    local.invoke("emf", {"emf": 4})
    local.observer.flush()
    assert local.metric_sum("Orders", [{"Name": "service", "Value": "cart"}], namespace="Shop") == 7


def test_an_alarm_goes_to_alarm_under_errors_and_back_to_ok(tmp_path: Path) -> None:
    clock = LessonClock(speed=20)  # a 60 s period lasts 3 real seconds
    service = LambdaService(clock=clock, data_dir=tmp_path / "lambda", idle_timeout_s=60)
    with LocalAws.start(lambda_app=service) as aws:
        service.endpoint_url = aws.endpoint_url
        observer = attach(service)
        local = Local(aws, service, observer)
        try:
            local.create("flaky")
            sqs, sns = aws.client("sqs"), aws.client("sns")
            inbox = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
            inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            topic = sns.create_topic(Name="on-call")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
            local.cloudwatch.put_metric_alarm(AlarmActions=[topic],
                AlarmName="flaky-errors", Namespace="AWS/Lambda", MetricName="Errors",
                Dimensions=[{"Name": "FunctionName", "Value": "flaky"}], Statistic="Sum", Period=60,
                EvaluationPeriods=1, Threshold=2, ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
            )
            clock.sleep(60 - clock.now() % 60 + 1)  # at the start of a period: the burst stays in one
            local.invoke("flaky")
            assert observer.alarm_state("flaky-errors") == "OK"
            for _ in range(3):
                local.invoke("flaky", {"fail": True})
            assert observer.alarm_state("flaky-errors") == "ALARM"
            alarm = local.cloudwatch.describe_alarms(AlarmNames=["flaky-errors"])["MetricAlarms"][0]
            assert alarm["StateReason"].startswith("Threshold Crossed")
            clock.sleep(61)  # the burst's period is over
            local.invoke("flaky")
            assert observer.alarm_state("flaky-errors") == "OK"
            assert [(c.old, c.new) for c in observer.alarm_changes] == [("OK", "ALARM"), ("ALARM", "OK")]
            messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
            assert [json.loads(m["Body"])["NewStateValue"] for m in messages] == ["ALARM"]  # AlarmActions only
        finally:
            service.close()


def test_a_traced_function_has_init_invocation_and_boto3_subsegments(local_on: Local) -> None:
    local = local_on
    local.create("traced", TRACED, powertools_layer() / "python", TracingConfig={"Mode": "Active"})
    local.invoke("traced")
    local.invoke("traced")
    first, second = local.observer.traces("traced")
    names = [span.name for span in first.spans]
    assert names[:2] == ["traced", "traced"]  # AWS::Lambda, then AWS::Lambda::Function
    assert "Initialization" in names and "Invocation" in names
    assert "## handler" in names
    calls = [span for span in first.spans if span.origin == "aws"]  # boto3, patched by the X-Ray SDK
    assert [span.name.lower() for span in calls] == ["s3"]
    assert calls[0].parent_id == first.find("## handler")[0].id
    assert "Initialization" not in [span.name for span in second.spans]


@BOTH_SINKS
def test_a_deleted_log_group_comes_back_and_bad_questions_get_clear_errors(local: Local) -> None:
    from labkit.errors import ConfigurationError, LabkitError
    from labkit.observe import AlarmNotFoundError

    local.create("phoenix")
    local.invoke("phoenix")
    local.observer.flush()
    local.logs.delete_log_group(logGroupName="/aws/lambda/phoenix")
    local.invoke("phoenix")
    local.observer.flush()
    assert local.observer.last_error is None
    messages = [e["message"] for e in local.logs.filter_log_events(logGroupName="/aws/lambda/phoenix")["events"]]
    assert sum(m.startswith("REPORT") for m in messages) == 1
    stream = local.logs.describe_log_streams(logGroupName="/aws/lambda/phoenix")["logStreams"][0]["logStreamName"]
    local.logs.delete_log_stream(logGroupName="/aws/lambda/phoenix", logStreamName=stream)
    local.invoke("phoenix")
    local.observer.flush()
    assert local.observer.last_error is None
    events = local.logs.get_log_events(logGroupName="/aws/lambda/phoenix", logStreamName=stream)["events"]
    assert sum(e["message"].startswith("REPORT") for e in events) == 1
    with pytest.raises(AlarmNotFoundError, match="put_metric_alarm"):
        local.observer.alarm_state("no-such-alarm")
    with pytest.raises(ConfigurationError, match="period_s"):
        local.observer.summary("phoenix", period_s=0)
    assert issubclass(AlarmNotFoundError, LabkitError)


def test_the_local_aws_ships_into_its_own_moto_backends_without_a_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labkit.aws.embedded.app import MotoApp
    from labkit.observe import observer as observer_of

    requests: list[str] = []
    serve = MotoApp.__call__

    def recording(app: MotoApp, environ: dict[str, Any], start_response: Any) -> Any:
        requests.append(f"{environ.get('HTTP_X_AMZ_TARGET', '')} {environ.get('PATH_INFO', '')}")
        return serve(app, environ, start_response)

    monkeypatch.setattr(MotoApp, "__call__", recording)
    with LocalAws.start() as aws:  # labkit's own Lambda service, observed as `labkit.aws.start()` does it
        aws.reset()
        local = Local(aws, aws.lambda_app.app, observer_of(aws))  # type: ignore[attr-defined]
        local.create("direct")
        local.invoke("direct", {"emf": 2})
        assert local.observer.flush()
        assert isinstance(local.observer.sink, BackendSink) and local.observer.last_error is None
        messages = [e["message"] for e in local.logs.filter_log_events(logGroupName="/aws/lambda/direct")["events"]]
        assert "hello from the handler" in messages
        assert local.metric_sum("Invocations", [{"Name": "FunctionName", "Value": "direct"}]) == 1
        assert local.metric_sum("Orders", [{"Name": "service", "Value": "cart"}], namespace="Shop") == 2
    shipped = [r for r in requests if any(op in r for op in ("PutLogEvents", "CreateLogStream", "PutMetricData"))]
    assert any("FilterLogEvents" in r for r in requests) and shipped == []
    elsewhere = LambdaService(aws.endpoint_url, data_dir=tmp_path / "lambda")  # that local AWS is closed now
    try:
        assert isinstance(attach(elsewhere).sink, ClientSink)
    finally:
        elsewhere.close()


def test_what_the_backend_sink_stores_reads_back_as_what_boto3_sent() -> None:
    from labkit.observe import metrics

    now = dt.datetime.now(dt.timezone.utc).timestamp()
    events = [{"timestamp": int((now - 5 + i / 4) * 1000), "message": message}
              for i, message in enumerate(["START RequestId: 1 Version: $LATEST", "héllo ✓", '{"level":"INFO"}',
                                           "REPORT RequestId: 1\tDuration: 1.00 ms\t"])]
    data = [metrics.Datum("*", "Duration", (("FunctionName", "f"),), value, "Milliseconds", now - 3.5 + value / 10)
            for value in (1, 2.5, 7)]
    data += [metrics.Datum("*", "Orders", (), 3, "Count", now - 60), metrics.Datum("*", "Orders", (), 4, "Count", now)]
    with LocalAws.start() as aws:
        sinks = {"Sent": ClientSink(aws.client), "Stored": BackendSink()}
        for prefix, sink in sinks.items():
            sink.create_stream(f"/{prefix}", "stream")
            sink.create_stream(f"/{prefix}", "stream")  # twice: one that exists is fine
            sink.put_log_events(f"/{prefix}", "stream", events)
            for _, entries in metrics.put_calls([replace(datum, namespace=prefix) for datum in data]):
                sink.put_metric_data(prefix, entries)
            with pytest.raises(LookupError):
                sink.put_log_events(f"/{prefix}", "no-such-stream", events)
        logs, cloudwatch = aws.client("logs"), aws.client("cloudwatch")
        start, end = dt.datetime.fromtimestamp(now - 120, dt.timezone.utc), dt.datetime.fromtimestamp(now + 60, dt.timezone.utc)

        def reads(prefix: str) -> dict[str, Any]:
            group = f"/{prefix}"
            return _without_volatile({
                "group": logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"],
                "streams": logs.describe_log_streams(logGroupName=group)["logStreams"],
                "events": logs.get_log_events(logGroupName=group, logStreamName="stream", startFromHead=True)["events"],
                "filtered": logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"],
                "statistics": [cloudwatch.get_metric_statistics(
                    Namespace=prefix, MetricName=name, Dimensions=dimensions, StartTime=start, EndTime=end, Period=60,
                    Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"])["Datapoints"]
                    for name, dimensions in [("Duration", [{"Name": "FunctionName", "Value": "f"}]), ("Orders", [])]],
                "data": cloudwatch.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
                    {"Id": "p99", "MetricStat": {"Metric": {"Namespace": prefix, "MetricName": "Duration",
                     "Dimensions": [{"Name": "FunctionName", "Value": "f"}]}, "Period": 60, "Stat": "Maximum"}},
                    {"Id": "orders", "MetricStat": {"Metric": {"Namespace": prefix, "MetricName": "Orders"},
                     "Period": 60, "Stat": "Sum"}}])["MetricDataResults"],
                "metrics": sorted((m["MetricName"], str(m["Dimensions"])) for m in
                                  cloudwatch.list_metrics(Namespace=prefix)["Metrics"]),
            }, prefix)

        sent, stored = reads("Sent"), reads("Stored")
        assert sent == stored
        assert [e["message"] for e in stored["events"]] == [e["message"] for e in events]
        assert stored["statistics"][0] and stored["data"][1]["Values"]


def _without_volatile(answer: Any, prefix: str) -> Any:
    """`answer` without what differs between two puts of the same data (times of ingestion, ids, names)."""
    volatile = {"ingestionTime", "eventId", "creationTime", "lastIngestionTime", "uploadSequenceToken", "ResponseMetadata"}
    if isinstance(answer, dict):
        return {k: _without_volatile(v, prefix) for k, v in answer.items() if k not in volatile}
    if isinstance(answer, list):
        return [_without_volatile(v, prefix) for v in answer]
    return answer.replace(prefix, "<prefix>") if isinstance(answer, str) else answer
