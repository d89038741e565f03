"""labkit.observe's pure parts: Lambda's JSON log records, EMF extraction, alarm decisions, trace trees."""
from __future__ import annotations

import json

from labkit.observe import logs, metrics
from labkit.observe.alarms import decide
from labkit.observe.traces import build_trace, lambda_documents, parse_header, sampled_header
from labkit.runtime.invocation import Invocation, Report
from labkit.service.invoke import FunctionMetrics

REQUEST = "8f5e1a4e-0000-4000-8000-000000000001"


def invocation(error: bool = False, init_ms: float | None = 120.5) -> Invocation:
    report = Report(REQUEST, 12.34, 133, 128, 40, init_ms)
    lines = [f"START RequestId: {REQUEST} Version: $LATEST", "hello", f"END RequestId: {REQUEST}", report.line]
    return Invocation(REQUEST, b'"ok"', {"errorType": "E"} if error else None, "\n".join(lines) + "\n", report,
                      "env", 1_700_000_000.0, "2023/11/14/[$LATEST]" + "0" * 32)


def test_text_format_keeps_lines_and_stamps_the_report_at_the_end() -> None:
    events = logs.invocation_events(invocation())
    assert [e["message"] for e in events][:3] == [f"START RequestId: {REQUEST} Version: $LATEST", "hello",
                                               f"END RequestId: {REQUEST}"]
    assert events[-1]["timestamp"] == 1_700_000_000_000 + 132 and events[0]["timestamp"] == 1_700_000_000_000


def test_json_format_writes_platform_records_and_drops_end() -> None:
    events = logs.invocation_events(invocation(), "JSON")
    assert len(events) == 3 and events[1]["message"] == "hello"
    start, report = json.loads(events[0]["message"]), json.loads(events[2]["message"])
    assert start["type"] == "platform.start" and start["record"] == {"requestId": REQUEST, "version": "$LATEST"}
    assert report["type"] == "platform.report" and report["record"]["metrics"] == {
        "durationMs": 12.34, "billedDurationMs": 133, "memorySizeMB": 128, "maxMemoryUsedMB": 40, "initDurationMs": 120.5}
    assert report["time"].endswith("Z")
    assert [e["message"] for e in logs.invocation_events(invocation(), "JSON", "WARN")] == ["hello"]


def test_empty_lines_are_left_out_as_cloudwatch_takes_no_empty_message() -> None:
    report = Report(REQUEST, 1.0, 1, 128, 40)
    spaced = Invocation(REQUEST, b"1", None, f"a\n\n \nb\n\n{report.line}\n", report, "env", 1.0, "s")
    assert [e["message"] for e in logs.invocation_events(spaced)] == ["a", " ", "b", report.line]


def test_a_report_as_its_line_shows_it_is_what_the_line_parses_back_to() -> None:
    reports = [Report(REQUEST, 12.345, 13, 128, 40, 120.555), Report(REQUEST, 2.675, 3, 512, 70),
               Report(REQUEST, 0.004, 1, 128, 40, None, "error", "ValueError"),
               Report(REQUEST, 3000.0, 3000, 128, 40, None, "timeout", "Sandbox.Timedout")]
    for report in reports:
        assert logs.as_shown(report) == Report.parse(report.line)
    shown = Invocation(REQUEST, b"1", None, reports[0].line, reports[0], "env", 1.0, "s")
    looks_alike = Invocation(REQUEST, b"1", None, reports[1].line, reports[0], "env", 1.0, "s")
    for invocation_ in (shown, looks_alike):
        record = json.loads(logs.invocation_events(invocation_, "JSON")[0]["message"])["record"]
        assert record == logs.report_record(Report.parse(invocation_.logs))


def test_counter_watch_sends_each_concurrency_step_once() -> None:
    def counters(samples: list[tuple[float, int]]) -> FunctionMetrics:
        return FunctionMetrics("f", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, samples)

    watch = metrics.CounterWatch()
    first = watch.data(counters([(1.0, 1), (2.0, 2)]), 2.5)
    again = watch.data(counters([(1.0, 1), (2.0, 2), (3.0, 1), (4.0, 0)]), 4.5)
    assert [(d.timestamp, d.value) for d in first] == [(1.0, 1), (2.0, 2)]
    assert [(d.timestamp, d.value) for d in again] == [(3.0, 1), (4.0, 0)]
    assert watch.data(counters([(3.0, 1), (4.0, 0)]), 5.0) == []


def test_log_batches_respect_put_log_events_limits() -> None:
    events = [{"timestamp": i, "message": "x" * 1000} for i in range(2000)]
    calls = logs.batches(events)
    assert len(calls) == 2 and sum(len(c) for c in calls) == 2000
    assert calls[0][0] == events[0] and len(calls[0]) * 1026 <= logs.MAX_BATCH_BYTES < (len(calls[0]) + 1) * 1026


def test_emf_lines_give_one_datum_per_value_and_dimension_set() -> None:
    line = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Shop", "Dimensions": [
        ["service"], ["service", "stage"]], "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
        "service": "cart", "stage": "dev", "Orders": [1, 2]})
    data = metrics.emf_data(line, 5.0)
    assert len(data) == 4 and {d.namespace for d in data} == {"Shop"}
    assert {d.dimensions for d in data} == {(("service", "cart"),), (("service", "cart"), ("stage", "dev"))}
    assert metrics.emf_data("not json {", 0) == [] and metrics.emf_data('{"_aws": 3}', 0) == []


def test_percentile_is_nearest_rank() -> None:
    assert metrics.percentile(list(range(1, 101)), 99) == 99
    assert metrics.percentile([5.0], 50) == 5.0 and metrics.percentile([], 50) is None


def alarm(**extra: object) -> dict[str, object]:
    return {"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 2, "EvaluationPeriods": 3,
            "StateValue": "OK", **extra}


def test_alarm_decisions_follow_datapoints_to_alarm_and_missing_data() -> None:
    assert decide(alarm(), [0, 5, 3])[0] == "OK"  # 2 of 3 breach, 3 needed
    assert decide(alarm(DatapointsToAlarm=2), [0, 5, 3])[0] == "ALARM"
    assert decide(alarm(), [None, None, None])[0] == "INSUFFICIENT_DATA"
    assert decide(alarm(TreatMissingData="ignore"), [None, None, None]) is None
    assert decide(alarm(TreatMissingData="breaching"), [None, 5, None])[0] == "ALARM"
    state, reason = decide(alarm(EvaluationPeriods=1), [4])
    assert state == "ALARM" and reason.startswith("Threshold Crossed: 1 datapoint [4]")


def test_lambda_segments_and_sdk_subsegments_form_one_tree() -> None:
    header = sampled_header("1-6553f100-000000000000000000000001", "aaaaaaaaaaaaaaaa")
    documents = lambda_documents(invocation(), header, "f", "arn:aws:lambda:us-east-1:1:function:f", "us-east-1")
    documents.append({"type": "subsegment", "trace_id": parse_header(header)["Root"], "parent_id": "aaaaaaaaaaaaaaaa",
                      "id": "bbbbbbbbbbbbbbbb", "name": "## handler", "start_time": 1_700_000_000.121,
                      "end_time": 1_700_000_000.13, "subsegments": [
                          {"id": "cccccccccccccccc", "name": "DynamoDB", "namespace": "aws",
                           "start_time": 1_700_000_000.122, "end_time": 1_700_000_000.129}]})
    trace = build_trace(parse_header(header)["Root"], documents)
    assert [(s.name, s.depth) for s in trace.spans] == [
        ("f", 0), ("f", 1), ("Initialization", 2), ("Invocation", 2), ("## handler", 2), ("DynamoDB", 3)]
    assert trace.slowest("aws").name == "DynamoDB"
    assert round(trace.duration_ms, 2) == round(120.5 + 12.34, 2)


def test_the_daemon_keeps_what_the_sdk_sends_and_syncs_with_it() -> None:
    import socket

    from labkit.observe.traces import TraceDaemon

    daemon = TraceDaemon()
    try:
        host, port = daemon.address.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sdk:
            for i in range(20):
                document = {"trace_id": "1-a-b", "id": f"{i:016x}", "name": "s3", "start_time": 1, "end_time": 2}
                sdk.sendto(b'{"format":"json","version":1}\n' + json.dumps(document).encode(), (host, int(port)))
            sdk.sendto(b"not json at all", (host, int(port)))
        assert daemon.sync()
        assert len(daemon.documents("1-a-b")) == 20 and daemon.trace_ids() == ["1-a-b"]
    finally:
        daemon.close()
