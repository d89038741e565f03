"""Warm-invoke latency and cold start of labkit's process backend against the official Runtime
Interface Emulator (RIE), measured in the same run with the same awslambdaric and handler.

    .venv/bin/python bench/invoke.py [--n 2000] [--cold 5]

Prints each peer's figures and the ratios labkit / RIE (goals: warm p50 <= 0.5x, cold <= 1x).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peers import RiePeer, percentile, warm_latencies  # noqa: E402

import labkit  # noqa: E402

HANDLER = "def handler(event, context):\n    return {'ok': True, 'echo': event}\n"
EVENT = {"name": "Ada", "n": 1}


def labkit_cold_seconds(code: Path) -> float:
    """Wall time of a fresh function's first invoke (process start, init, invoke)."""
    start = time.perf_counter()
    with labkit.Function("app.handler", code=code) as fn:
        fn.invoke(EVENT)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="warm invokes per peer")
    parser.add_argument("--cold", type=int, default=5, help="cold starts per peer (median)")
    args = parser.parse_args()
    code = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    (code / "app.py").write_text(HANDLER)

    with labkit.Function("app.handler", code=code) as fn:
        ours = warm_latencies(lambda: fn.invoke(EVENT), n=args.n, warmup=200)
    with RiePeer(handler="app.handler", code_dir=code) as rie:
        rie.start()
        theirs = warm_latencies(lambda: rie.invoke(EVENT), n=args.n, warmup=200)
    ours_cold = statistics.median(labkit_cold_seconds(code) for _ in range(args.cold))
    theirs_cold = statistics.median(RiePeer(handler="app.handler", code_dir=code).cold_start_seconds() for _ in range(args.cold))

    rows = [
        ("warm p50", percentile(ours, 50), percentile(theirs, 50), 0.5),
        ("warm p99", percentile(ours, 99), percentile(theirs, 99), None),
        ("cold start", ours_cold, theirs_cold, 1.0),
    ]
    print(f"{'':12}{'labkit':>12}{'RIE':>12}{'ratio':>9}  goal")
    for label, mine, peer, goal in rows:
        ratio = mine / peer
        verdict = "" if goal is None else (f"<= {goal}x " + ("met" if ratio <= goal else "MISSED"))
        print(f"{label:12}{mine * 1000:>9.3f} ms{peer * 1000:>9.3f} ms{ratio:>8.2f}x  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
