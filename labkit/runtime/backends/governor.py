"""The process backend's watch over one environment's processes, on a thread of its own.

Two jobs, each tick: the resident memory of the processes besides the runtime (so a child that
allocates is counted against the function's memory, while the invoking thread reads one cached
number), and, from the first invoke on, Lambda's CPU share (1,769 MB = one vCPU) without root:
a token bucket of CPU time filled at `share` CPU-seconds per second, holding at most one 100 ms
period's quota, as the kernel's CFS bandwidth control does for the docker backend. When the
environment has used its tokens, its processes are stopped (SIGSTOP) until the bucket is back
at zero, then continued (SIGCONT). An environment is looked at every IDLE_TICK_S while it uses
CPU; while it uses none, ever less often (up to IDLE_MAX_S, so that many warm environments cost
the host next to nothing), until the next invoke wakes the watch. What a burst used beyond its
tokens before being seen is paid back by a longer stop.

Each invoke starts with a full bucket, as each of Lambda's starts from a frozen environment:
when the runtime's main thread has waited (a voluntary context switch: it waits for its next
event between invokes) since the last look, the bucket is refilled before what it used is taken.
So short invokes back to back run at full speed, while a CPU-bound handler, or the processes it
starts, are held to the share. (A handler that alternates computing and waiting gets more than
its share: that is the price of not knowing, from here, which wait is the one between invokes.)
"""
from __future__ import annotations

import os
import signal
import threading
import time

from labkit.runtime.backends.proctree import ProcessTree, anonymous_mb, cpu_ns, send, voluntary_switches

IDLE_TICK_S = 0.02
IDLE_MAX_S = 1.0
PERIOD_S = 0.1  # CFS's default period, as the docker backend's quota uses
MIN_WAIT_S = 0.0005


class Governor:
    """Samples the tree's memory and, once `hold(share)` is called, duty-cycles it to that CPU share."""

    def __init__(self, tree: ProcessTree) -> None:
        self._tree = tree
        self._share: float | None = None
        self._cpus = os.cpu_count() or 1
        self._wake = threading.Event()
        self._stopped = False
        self._seen_cpu: dict[int, int] = {}  # CPU ns of each process at the last look
        self._tokens = 0.0  # CPU seconds the sandbox may still use now
        self._last = 0.0
        self._waits = -1  # the runtime's voluntary context switches at the last look
        self._idle_looks = 0  # looks in a row that found no CPU used
        self._cpu_total = -1  # CPU ns of the sandbox's processes at the last look
        self.others_mb = 0.0
        self.others_peak_mb = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"labkit-governor-{tree.root}", daemon=True)
        self._thread.start()

    def hold(self, share: float) -> None:
        """Hold the processes to `share` vCPUs from now on (no limit when the host has no more)."""
        if share >= self._cpus:
            return
        self._seen_cpu = {pid: cpu_ns(pid) for pid in self._tree.sandboxed()}  # what INIT used is not held to it
        self._tokens, self._last = share * PERIOD_S, time.monotonic()
        self._share = share
        self._wake.set()

    def invoke_started(self) -> None:
        """An event goes to the runtime: look again now if the watch had slowed down for an idle environment."""
        if self._idle_looks:
            self._idle_looks = 0
            self._wake.set()

    def stop(self) -> None:
        """End the thread (it continues any process it had stopped)."""
        self._stopped = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _loop(self) -> None:
        while not self._stopped:
            sandboxed = self._tree.sandboxed()
            self._sample_memory(sandboxed)
            cpu = {pid: cpu_ns(pid) for pid in sandboxed}  # one reading per look serves both decisions
            wait = IDLE_TICK_S if self._share is None else self._govern(self._share, cpu)
            self._wake.wait(max(wait, self._idle_wait(cpu)))
            self._wake.clear()

    def _idle_wait(self, cpu: dict[int, int]) -> float:
        """0 while the sandbox uses CPU (`cpu`: ns per process now); after looks that found it idle, a wait
        that doubles up to IDLE_MAX_S."""
        total = sum(cpu.values())
        if total != self._cpu_total:
            self._cpu_total, self._idle_looks = total, 0
            return 0.0
        self._idle_looks += 1
        return min(IDLE_MAX_S, IDLE_TICK_S * 2 ** self._idle_looks)

    def _govern(self, share: float, cpu: dict[int, int]) -> float:
        """Take what the sandbox used (`cpu`: ns per process now) from the bucket, stop it while in debt;
        return when to look again."""
        capacity = share * PERIOD_S
        runtime = self._tree.runtime_pid()
        used = self._cpu_used(cpu)
        now = time.monotonic()
        waits = voluntary_switches(runtime) if runtime is not None else 0
        if waits != self._waits:  # it waited for its next event: a fresh bucket
            self._tokens = capacity
        self._tokens = min(capacity, self._tokens + (now - self._last) * share) - used
        self._last, self._waits = now, waits
        if self._tokens < 0:
            self._waits = self._pause(-self._tokens / share, runtime)
            return 0.0
        return min(IDLE_TICK_S, max(MIN_WAIT_S, self._tokens / self._cpus))

    def _pause(self, seconds: float, runtime: int | None) -> int:
        """Stop every process of the sandbox for `seconds`, then continue them; return the runtime's
        voluntary switches before it runs again (being stopped counts as one)."""
        stopped = self._tree.sandboxed()
        send(stopped, signal.SIGSTOP)
        late = [pid for pid in self._tree.sandboxed() if pid not in stopped]  # forked while we stopped the rest
        send(late, signal.SIGSTOP)
        try:
            self._wake.wait(seconds)
            return voluntary_switches(runtime) if runtime is not None else 0
        finally:
            send(stopped + late, signal.SIGCONT)

    def _sample_memory(self, sandboxed: list[int]) -> None:
        runtime = self._tree.runtime_pid()
        if runtime is None:
            return
        self.others_mb = sum(anonymous_mb(pid) for pid in sandboxed if pid != runtime)
        self.others_peak_mb = max(self.others_peak_mb, self.others_mb)

    def _cpu_used(self, cpu: dict[int, int]) -> float:
        """CPU seconds the sandbox used since the last look (processes that ended meanwhile are lost)."""
        used = sum(max(0, ns - self._seen_cpu.get(pid, 0)) for pid, ns in cpu.items())
        self._seen_cpu = dict(cpu)
        return used / 1e9
