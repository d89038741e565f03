"""CPU share proportional to memory: a CPU-bound handler at 128, 512, 1,024 and 1,769 MB, process backend against docker.

    .venv/bin/python bench/cpu_share.py [--sizes 128,512,1024,1769] [--runs 3] [--loops 10000000]

On Lambda, and in labkit's docker backend, a function gets ``memory / 1769`` vCPUs (1,769 MB = one
vCPU; the container's CPU quota, capped at the host's cores); the process backend holds the same
share without root by duty-cycling the environment's processes (``labkit.runtime.backends.governor``).
A fixed loop of integer arithmetic (about 0.3 s on one full core) is invoked warm ``--runs`` times
at each memory size on both backends; the script prints the medians of the REPORT's Duration, the
ratio process / docker at each size (goal: within 15 %), and the handler's own CPU time, which
stays the same at every size: the work is equal, only the share differs.
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
    parser.add_argument("--sizes", default="128,512,1024,1769", help="memory sizes (MB), comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="warm invokes per size (median)")
    parser.add_argument("--loops", type=int, default=10_000_000, help="loop iterations of the handler (about 0.3 s on one full core)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"host: {os.cpu_count()} cores; handler: {args.loops:,} loop iterations; median of {args.runs} warm invokes")

    with tempfile.TemporaryDirectory(prefix="labkit-bench-cpu-") as tmp:
        code = Path(tmp)
        (code / "app.py").write_text(HANDLER)
        results = {(backend, size): measure(code, backend, size, args.runs, args.loops)
                   for size in sizes for backend in ("docker", "process")}

    print()
    print(f"{'memory':>9}{'vCPU':>7}{'docker':>12}{'process':>12}{'ratio':>8}  goal{'handler CPU':>15}")
    for size in sizes:
        docker, process = results["docker", size], results["process", size]
        ratio = process.duration_ms / docker.duration_ms
        verdict = "met" if abs(ratio - 1) <= 0.15 else "MISSED"
        print(f"{size:>6} MB{share(size):>7.3f}{docker.duration_ms:>9.1f} ms{process.duration_ms:>9.1f} ms"
              f"{ratio:>7.2f}x  within 15 % {verdict}{process.cpu_ms:>8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
