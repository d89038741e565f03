"""Warm-invoke latency and cold start of labkit's process backend against the official Runtime
Interface Emulator (RIE), measured in the same run with the same awslambdaric and handler.

    .venv/bin/python bench/invoke.py [--n 2000] [--rounds 10] [--cold 5]

The warm latencies are measured in alternating rounds (see ``bench.peers.alternating_latencies``),
labkit twice: as it runs, and with busy-polling turned off (``labkit.runtime.busy_poll``), to show
what the invoking thread's short spin for the runtime's answer saves.

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

from bench.peers import RiePeer, alternating_latencies, percentile  # noqa: E402

import labkit  # noqa: E402
from labkit.runtime import busy_poll  # noqa: E402

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
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds the warm invokes are split into")
    parser.add_argument("--cold", type=int, default=5, help="cold starts per peer (median)")
    args = parser.parse_args()
    code = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    (code / "app.py").write_text(HANDLER)

    with labkit.Function("app.handler", code=code) as fn, RiePeer(handler="app.handler", code_dir=code) as rie:
        rie.start()

        def without_busy_poll() -> None:
            spin_s, busy_poll.SPIN_S = busy_poll.SPIN_S, 0.0
            try:
                fn.invoke(EVENT)
            finally:
                busy_poll.SPIN_S = spin_s

        latencies = alternating_latencies(
            {"labkit": lambda: fn.invoke(EVENT), "no spin": without_busy_poll, "RIE": lambda: rie.invoke(EVENT)},
            args.n, args.rounds,
        )
    ours, theirs = latencies["labkit"], latencies["RIE"]
    ours_cold = statistics.median(labkit_cold_seconds(code) for _ in range(args.cold))
    theirs_cold = statistics.median(RiePeer(handler="app.handler", code_dir=code).cold_start_seconds() for _ in range(args.cold))

    rows = [
        ("warm p50", percentile(ours, 50), percentile(theirs, 50), 0.5),
        ("warm p99", percentile(ours, 99), percentile(theirs, 99), None),
        ("p50 no spin", percentile(latencies["no spin"], 50), percentile(theirs, 50), None),
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
