"""Safe releases: an alias's traffic shifted to a new version step by step, rolled back when an alarm fires.

As CodeDeploy does for SAM's ``DeploymentPreference``: ``Canary10Percent5Minutes`` sends 10 % of
the alias's traffic to the new version, then all of it after 5 minutes; ``Linear10PercentEvery1Minute``
adds 10 % every minute; ``AllAtOnce`` moves everything at once. The alias keeps the old version as
its primary and gives the new one a weight (``RoutingConfig.AdditionalVersionWeights``) until the
end. While traffic shifts, the alarms named in ``Alarms`` are watched (CloudWatch
``describe_alarms``); one in ``ALARM`` rolls the alias back to the old version.

Waits run on the lesson clock (:mod:`labkit.clock`): at ``labkit.clock.speed(60)`` a 5-minute
canary takes 5 real seconds.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from labkit.deploy.errors import UnsupportedError
from labkit.service.clock import CLOCK, LessonClock

IN_PROGRESS, SUCCEEDED, ROLLED_BACK = "InProgress", "Succeeded", "RolledBack"
_CANARY = re.compile(r"^Canary(\d+)Percent(\d+)Minutes?$")
_LINEAR = re.compile(r"^Linear(\d+)PercentEvery(\d+)Minutes?$")
DEFAULT_POLL_S = 10.0  # lesson seconds between two looks at the alarms


@dataclass(frozen=True)
class TrafficStep:
    """From `at_s` lesson seconds after the start, `weight` of the traffic goes to the new version."""

    at_s: float
    weight: float


def traffic_plan(kind: str) -> list[TrafficStep]:
    """The steps of a deployment preference type, e.g. Canary10Percent5Minutes -> [(0, 0.1), (300, 1.0)]."""
    if kind == "AllAtOnce":
        return [TrafficStep(0, 1.0)]
    canary = _CANARY.match(kind)
    if canary:
        percent, minutes = int(canary.group(1)), int(canary.group(2))
        return [TrafficStep(0, percent / 100), TrafficStep(minutes * 60, 1.0)]
    linear = _LINEAR.match(kind)
    if linear:
        percent, minutes = int(linear.group(1)), int(linear.group(2))
        steps = [TrafficStep(i * minutes * 60, min(1.0, (i + 1) * percent / 100)) for i in range(-(-100 // percent))]
        return steps
    raise UnsupportedError(
        f"DeploymentPreference Type {kind!r} is not known: use AllAtOnce, Canary<P>Percent<M>Minutes "
        "(e.g. Canary10Percent5Minutes) or Linear<P>PercentEvery<M>Minute(s) (e.g. Linear10PercentEvery1Minute)"
    )


@dataclass
class Release:
    """One traffic shift of an alias from `old_version` to `new_version`."""

    function_name: str
    alias: str
    old_version: str
    new_version: str
    kind: str
    alarms: list[str]
    lambda_client: Any
    cloudwatch_client: Any
    clock: LessonClock = CLOCK
    poll_s: float = DEFAULT_POLL_S
    status: str = IN_PROGRESS
    alarm: str | None = None  # the alarm that caused a rollback
    history: list[tuple[float, float]] = field(default_factory=list)  # (lesson s since start, weight on new)
    error: BaseException | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def plan(self) -> list[TrafficStep]:
        return traffic_plan(self.kind)

    def run(self) -> Release:
        """Shift the traffic step by step (blocking); returns when it succeeded or rolled back."""
        start = self.clock.now()
        try:
            for step in self.plan:
                if not self._wait_watching(start, start + step.at_s):
                    return self
                self._route(step.weight, start)
                if step.weight >= 1.0:
                    self.status = SUCCEEDED
                    return self
            self.status = SUCCEEDED
        except BaseException as exc:  # reported by wait(); a thread must not die silently
            self.error = exc
            self.status = ROLLED_BACK
            self._rollback(start)
        return self

    def start(self) -> Release:
        """Run in a background thread; `wait()` joins it."""
        self._thread = threading.Thread(target=self.run, name=f"release-{self.function_name}", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> Release:
        """Block until the release ended (real seconds; None: no limit)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(
                    f"the release of {self.function_name}:{self.alias} is still shifting traffic after {timeout} s: "
                    "wait longer, or speed the lesson clock up (labkit.clock.speed(60))"
                )
        if self.error is not None:
            raise self.error
        return self

    def summary(self) -> str:
        shift = f"{self.function_name}:{self.alias} {self.old_version} -> {self.new_version} ({self.kind})"
        if self.status == ROLLED_BACK and self.alarm:
            return f"{shift}: rolled back to version {self.old_version}, alarm {self.alarm} is in ALARM"
        return f"{shift}: {self.status}"

    # -- internals --------------------------------------------------------------------------------------

    def _wait_watching(self, start: float, until: float) -> bool:
        """Sleep on the lesson clock until `until`, looking at the alarms; False after a rollback."""
        while True:
            firing = self._firing_alarm()
            if firing is not None:
                self.alarm = firing
                self.status = ROLLED_BACK
                self._rollback(start)
                return False
            remaining = until - self.clock.now()
            if remaining <= 0:
                return True
            self.clock.sleep(min(self.poll_s, remaining))

    def _firing_alarm(self) -> str | None:
        if not self.alarms:
            return None
        found = self.cloudwatch_client.describe_alarms(AlarmNames=self.alarms)["MetricAlarms"]
        return next((a["AlarmName"] for a in found if a["StateValue"] == "ALARM"), None)

    def _route(self, weight: float, start: float) -> None:
        if weight >= 1.0:
            self.lambda_client.update_alias(
                FunctionName=self.function_name, Name=self.alias, FunctionVersion=self.new_version,
                RoutingConfig={"AdditionalVersionWeights": {}},
            )
        else:
            self.lambda_client.update_alias(
                FunctionName=self.function_name, Name=self.alias, FunctionVersion=self.old_version,
                RoutingConfig={"AdditionalVersionWeights": {self.new_version: weight}},
            )
        self.history.append((self.clock.now() - start, weight))

    def _rollback(self, start: float) -> None:
        self.lambda_client.update_alias(
            FunctionName=self.function_name, Name=self.alias, FunctionVersion=self.old_version,
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        self.history.append((self.clock.now() - start, 0.0))
