"""CPU share proportional to memory: a CPU-bound handler at 256 MB against 1,769 MB.

    .venv/bin/python bench/cpu_share.py [--low 256] [--high 1769] [--runs 5] [--loops 10000000]

On Lambda, and in labkit's docker backend, a function gets ``memory / 1769`` vCPUs (1,769 MB = one
vCPU; the container's CPU quota, capped at the host's cores), so a single-threaded CPU-bound
handler takes about 1769 / 256 = 6.9x longer at 256 MB than at 1,769 MB. This script measures
that, rather than asserting a time: a fixed loop of integer arithmetic (about 0.3 s on one full
core) is invoked warm ``--runs`` times at each memory size, and the medians of the REPORT's
Duration are compared with the expected ratio ``share(high) / share(low)``. The handler also
returns its own CPU time, which stays the same at both sizes: the work is equal, only the share
differs.

The same is then run on the process backend, which does not limit CPU: there the two sizes take
the same time, as this script prints.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import labkit  # noqa: E402
from labkit.runtime.backends.docker import cpu_share as share  # noqa: E402

HANDLER = '''import time


def handler(event, context):
    cpu = time.process_time()
    x = 0
    for i in range(event["loops"]):
        x = (x * 31 + i) % 1000003
    return {"x": x, "cpu_ms": (time.process_time() - cpu) * 1000}
'''


@dataclass(frozen=True)
class Sample:
    """Medians over the warm runs at one memory size."""

    memory_mb: int
    duration_ms: float  # the REPORT's Duration
    cpu_ms: float  # CPU time the handler itself used


def measure(code: Path, backend: str, memory_mb: int, runs: int, loops: int) -> Sample:
    """One untimed invoke (the cold start), then ``runs`` warm invokes on the same environment."""
    with labkit.Function("app.handler", code=code, memory_mb=memory_mb, timeout_s=120, backend=backend) as fn:
        first = fn.invoke({"loops": loops})
        if first.error is not None:
            raise RuntimeError(f"{backend} at {memory_mb} MB failed: {first.error}")
        durations: list[float] = []
        cpus: list[float] = []
        for _ in range(runs):
            inv = fn.invoke({"loops": loops})
            if inv.error is not None:
                raise RuntimeError(f"{backend} at {memory_mb} MB failed: {inv.error}")
            assert inv.report is not None and not inv.report.cold
            durations.append(inv.report.duration_ms)
            cpus.append(float(inv.result["cpu_ms"]))
    return Sample(memory_mb, statistics.median(durations), statistics.median(cpus))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=int, default=256, help="the smaller memory size (MB)")
    parser.add_argument("--high", type=int, default=1769, help="the larger memory size (MB)")
    parser.add_argument("--runs", type=int, default=5, help="warm invokes per size (median)")
    parser.add_argument("--loops", type=int, default=10_000_000, help="loop iterations of the handler (about 0.3 s on one full core)")
    args = parser.parse_args()
    expected = share(args.high) / share(args.low)
    print(f"host: {os.cpu_count()} cores; handler: {args.loops:,} loop iterations; median of {args.runs} warm invokes")

    with tempfile.TemporaryDirectory(prefix="labkit-bench-cpu-") as tmp:
        code = Path(tmp)
        (code / "app.py").write_text(HANDLER)
        results: dict[str, tuple[Sample, Sample]] = {}
        for backend in ("docker", "process"):
            results[backend] = (
                measure(code, backend, args.low, args.runs, args.loops),
                measure(code, backend, args.high, args.runs, args.loops),
            )

    print()
    print(f"{'backend':10}{'memory':>9}{'vCPU':>7}{'duration':>13}{'handler CPU':>14}")
    for backend, pair in results.items():
        for sample in pair:
            vcpu = f"{share(sample.memory_mb):.3f}" if backend == "docker" else "-"
            print(f"{backend:10}{sample.memory_mb:>6} MB{vcpu:>7}{sample.duration_ms:>10.1f} ms{sample.cpu_ms:>11.1f} ms")
    print()
    low, high = results["docker"]
    ratio = low.duration_ms / high.duration_ms
    print(f"docker:  {args.low} MB takes {ratio:.2f}x as long as {args.high} MB "
          f"(expected {args.high}/{args.low} = {expected:.2f}x from the CPU share; "
          f"{ratio / expected:.0%} of it)")
    plow, phigh = results["process"]
    pratio = plow.duration_ms / phigh.duration_ms
    print(f"process: {args.low} MB takes {pratio:.2f}x as long as {args.high} MB: "
          f"CPU does not scale with memory on the process backend (no CPU limit); use the docker backend for that")
    return 0


if __name__ == "__main__":
    sys.exit(main())
