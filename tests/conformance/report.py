"""How well labkit's Lambda API matches AWS's recorded answers: match rate per area and overall.

    .venv/bin/python -m tests.conformance.report               # every case
    .venv/bin/python -m tests.conformance.report --area invoke --verbose
    .venv/bin/python -m tests.conformance.report --case 'test_function_lifecycle/create_response'
    .venv/bin/python -m tests.conformance.report --update-known  # rewrite known_differences.json

Re-enacts every case of `cases/*.json` on a fresh local AWS, then prints matched / re-enacted per
area and overall, the causes of the differences (how many cases each explains), every 5xx answer
and hang met, the cases that differ but are not in `known_differences.json` and those listed there
that now match, and the snapshot answers not re-enacted, counted by reason (`skipped.json`).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter

from tests.conformance.runner import HERE, Outcome, load_cases, session

KNOWN_FILE = HERE / "known_differences.json"

CAUSES: list[tuple[str, str]] = [
    # (cause, regex over one difference line); the first that matches names the line's cause
    ("500: role authorization (moto seam)", r"could not authorize"),
    ("no answer (hang) or a wait that never ended", r"got no answer|still not \w+ after"),
    ("operation not implemented (labkit answers UnknownOperationException)", r"UnknownOperationException"),
    ("State Pending / LastUpdateStatus InProgress not modelled (labkit is Active/Successful at once)",
     r"expected 'Pending'|expected 'InProgress'|StateReason|LastUpdateStatusReason|^LastUpdateStatus: not in|\.LastUpdateStatus: not in"),
    ("RuntimeVersionConfig not returned", r"RuntimeVersionConfig: missing"),
    ("empty Environment {Variables: {}} not returned", r"Environment: missing"),
    ("validation message differs (constraint list of a ValidationException)", r"Count: (missing|not in|expected)|Errors: (missing|not in)|Errors\[\d*\]: expected|Errors: expected"),
    ("provisioned concurrency: no IN_PROGRESS phase / allocation counts", r"IN_PROGRESS|ProvisionedConcurrentExecutions: expected"),
    ("error body shape (Type / message / Message fields)", r"^(Type|message|Message|Error): (missing|not in)"),
    ("error code differs", r"(^|\.)Code: expected"),
    ("error message text differs", r"(Error\.Message|^Message|^message|errorMessage): expected"),
    ("HTTP status differs", r"HTTPStatusCode: expected"),
    ("tags on event source mappings / capacity providers not supported", r"tag_resource\) failed|event-source-mapping|capacity-provider"),
    ("asynchronous delivery missing (no destination message / EventBridge event / log line)", r"expected an object, got None|Messages: missing|events|: expected \d+ items"),
    ("function URL config: InvokeMode returned", r"InvokeMode: not in"),
    ("event source mapping fields differ", r"StateTransitionReason|FunctionResponseTypes|EventSourceMappingArn|BatchSize|MaximumBatchingWindowInSeconds|ScalingConfig|FilterCriteria|DestinationConfig|md5OfMessageAttributes|Topics|SelfManaged"),
    ("stack trace / log lines differ", r"stackTrace|logs|log_result|Records"),
    ("a setup call failed", r"^step \d+ \([\w.]+\) failed"),
]


def phrase(difference: str) -> str:
    """One difference line as "what AWS answers, what labkit answers"."""
    line = re.sub(r"^step \d+: ", "", difference)
    if m := re.match(r"(.+?): missing \(AWS: (.*)\)$", line):
        return f"AWS has {m.group(1)}={m.group(2)}, labkit none"
    if m := re.match(r"(.+?): not in AWS's answer \(labkit: (.*)\)$", line):
        return f"labkit adds {m.group(1)}={m.group(2)}, AWS none"
    if m := re.match(r"(.*?): expected (.*), got (.*)$", line, re.DOTALL):
        return f"{m.group(1) or 'answer'}: AWS {m.group(2)}, labkit {m.group(3)}"
    if m := re.match(r"step \d+ \(([\w.]+)\) failed: (.*)$", line):
        return f"setup call {m.group(1)} fails in labkit: {m.group(2)}"
    return line


def _short(text: str | None, limit: int = 110) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reason(outcome: Outcome, limit: int = 300) -> str:
    """A short reason for known_differences.json: what AWS answers and what labkit answers."""
    if any("could not authorize" in e for e in outcome.server_errors):
        return "500: role authorization (moto seam)"
    if outcome.aws_error and not outcome.labkit_error and not _setup_failed(outcome):
        return f"AWS refuses: {_short(outcome.aws_error)}; labkit accepts the request"
    if outcome.labkit_error and not outcome.aws_error:
        return f"AWS accepts the request; labkit refuses: {_short(outcome.labkit_error)}"
    if outcome.aws_error and outcome.labkit_error and outcome.aws_error.split(":")[0] != outcome.labkit_error.split(":")[0]:
        return f"AWS: {_short(outcome.aws_error, 130)}; labkit: {_short(outcome.labkit_error, 130)}"
    parts = [phrase(d) for d in outcome.differences[:2]]
    more = len(outcome.differences) - len(parts)
    text = "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _setup_failed(outcome: Outcome) -> bool:
    return any(re.match(r"step \d+ \(", d) or d.startswith("no saved value") for d in outcome.differences)


def _code(error: str | None) -> str:
    return (error or "").split(":")[0]


def causes_of(outcome: Outcome) -> set[str]:
    """The causes that explain why a case differs (see CAUSES), or "other: ..." for the unexplained."""
    if _setup_failed(outcome) and not outcome.server_errors:
        lines = [d for d in outcome.differences if re.match(r"step \d+ \(|no saved value", d)]
        if any("UnknownOperationException" in line for line in lines):
            return {"operation not implemented (labkit answers UnknownOperationException)"}
        return {"a call that sets the scene fails in labkit: " + re.sub(r"^step \d+ \(([\w.]+)\) failed: (\w+).*", r"\1 -> \2", lines[0])[:90]}
    if outcome.aws_error and not outcome.labkit_error:
        return {f"labkit accepts what AWS refuses with {_code(outcome.aws_error)}"}
    if outcome.labkit_error and not outcome.aws_error:
        if "UnknownOperationException" in outcome.labkit_error:
            return {"operation not implemented (labkit answers UnknownOperationException)"}
        return {f"labkit refuses with {_code(outcome.labkit_error)} what AWS accepts"}
    if outcome.aws_error and _code(outcome.aws_error) != _code(outcome.labkit_error):
        return {f"error code differs: AWS {_code(outcome.aws_error)}, labkit {_code(outcome.labkit_error)}"}
    found: set[str] = set()
    for line in outcome.differences + outcome.server_errors + outcome.hangs:
        text = re.sub(r"^step \d+: ", "", line) if not re.match(r"^step \d+ \(", line) else line
        for cause, pattern in CAUSES:
            if re.search(pattern, text):
                found.add(cause)
                break
        else:
            found.add("other: " + re.sub(r"\[\d+\]", "[]", text.split(": expected")[0].split(": missing")[0])[:80])
    return found


def run(area: str | None = None, case_filter: str | None = None) -> list[Outcome]:
    cases = [c for c in load_cases(area) if case_filter is None or case_filter in c["id"]]
    with session() as s:
        return [s.run(case) for case in cases]


def skipped_by_reason() -> tuple[Counter[str], dict[str, dict[str, int]]]:
    data = json.loads((HERE / "skipped.json").read_text())
    counts: Counter[str] = Counter()
    for entry in data["skipped"]:
        counts[entry["reason"]] += len(entry["keys"])
    return counts, data["totals"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--area", help="only the cases of cases/AREA.json")
    parser.add_argument("--case", help="only cases whose id contains this text")
    parser.add_argument("--verbose", "-v", action="store_true", help="print the differences of every case that differs")
    parser.add_argument("--json", help="also write every outcome to this file")
    parser.add_argument("--update-known", action="store_true", help="rewrite known_differences.json from this run")
    args = parser.parse_args(argv)

    started = time.monotonic()
    outcomes = run(args.area, args.case)
    known: dict[str, str] = json.loads(KNOWN_FILE.read_text())

    if args.verbose:
        for outcome in outcomes:
            if not outcome.matched:
                print(outcome.summary())
        print()
    by_area: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_area.setdefault(outcome.area, []).append(outcome)
    print(f"{'area':<22} {'matched':>7} / {'total':<5}  rate")
    for area, items in sorted(by_area.items()):
        matched = sum(o.matched for o in items)
        print(f"{area:<22} {matched:>7} / {len(items):<5}  {100 * matched / len(items):5.1f}%")
    matched = sum(o.matched for o in outcomes)
    print(f"{'overall':<22} {matched:>7} / {len(outcomes):<5}  {100 * matched / max(len(outcomes), 1):5.1f}%"
          f"   ({time.monotonic() - started:.0f} s)")

    causes: Counter[str] = Counter()
    for outcome in outcomes:
        if not outcome.matched:
            causes.update(causes_of(outcome))
    print(f"\ncauses of the {len(outcomes) - matched} differences (cases each explains; a case can have several):")
    for cause, count in causes.most_common():
        print(f"  {count:>4}  {cause}")

    server_errors = [(o.case_id, e) for o in outcomes for e in o.server_errors]
    hangs = [(o.case_id, h) for o in outcomes for h in o.hangs]
    print(f"\n5xx answers: {len(server_errors)}")
    for case_id, error in server_errors:
        print(f"  {case_id}: {error}")
    print(f"hangs: {len(hangs)}")
    for case_id, hang in hangs:
        print(f"  {case_id}: {hang}")
    unlisted = [o.case_id for o in outcomes if not o.matched and o.case_id not in known]
    stale = [o.case_id for o in outcomes if o.matched and o.case_id in known]
    print(f"differences not in known_differences.json: {len(unlisted)}")
    for case_id in unlisted[:50]:
        print(f"  {case_id}")
    print(f"known differences that now match (take them off the list): {len(stale)}")
    for case_id in stale:
        print(f"  {case_id}")

    counts, totals = skipped_by_reason()
    recorded = sum(t["recorded_keys"] for t in totals.values())
    print(f"\nsnapshot answers: {recorded} recorded in {len(totals)} files; "
          f"{len(load_cases())} re-enacted as cases; {sum(counts.values())} skipped, by reason:")
    for why, count in counts.most_common():
        print(f"  {count:>4}  {why}")

    if args.update_known:
        ran = {o.case_id for o in outcomes}
        kept = {k: v for k, v in known.items() if k not in ran}
        kept.update({o.case_id: reason(o) for o in outcomes if not o.matched})
        KNOWN_FILE.write_text(json.dumps(dict(sorted(kept.items())), indent=1, ensure_ascii=False) + "\n")
        print(f"\nwrote {len(kept)} known differences to {KNOWN_FILE}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([o.__dict__ for o in outcomes], out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
