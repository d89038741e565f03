"""The scale simulator against the real local Lambda service: the same small load, the same cold starts and throttles.

The simulator is calibrated from measured local runs (how long an invoke holds its execution
environment, warm and cold), then fed the very send times of a load test against
`labkit.LambdaService` with a small account quota. Tolerance: cold starts within 1, throttles
within 5 requests or 20 % of the requests sent, whichever is larger (the local service's
timings move with the machine's load; the model's do not).
"""
from __future__ import annotations

import base64
import io
import threading
import time
import zipfile
from collections.abc import Iterator

import numpy as np
import pytest

from labkit.cost import Times, Workload, simulate
from labkit.service.exceptions import TooManyRequestsException
from labkit.service.lambda_service import LambdaService

QUOTA = 4
WORK = "import time\n\n\ndef handler(event, context):\n    time.sleep(0.1)\n    return 'done'\n"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def _zip(source: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def service(tmp_path) -> Iterator[LambdaService]:
    service = LambdaService(  # transitions end at the next call: this test is about cold starts and throttles
        account_concurrency=QUOTA, data_dir=tmp_path / "lambda", idle_timeout_s=600, state_transition_s=0
    )
    yield service
    service.close()


def deploy(service: LambdaService, name: str) -> None:
    service.create_function({"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
                             "Code": {"ZipFile": _zip(WORK)}})


def held_invoke(service: LambdaService, name: str) -> tuple[object, float]:
    started = time.perf_counter()
    result = service.invoke(name, None, b"{}")
    return result.invocation, (time.perf_counter() - started) * 1000


def test_simulator_agrees_with_the_local_service_on_cold_starts_and_throttles(service: LambdaService) -> None:
    deploy(service, "calibration")
    runs = [held_invoke(service, "calibration") for _ in range(12)]
    workload = Workload.calibrate([run for run, _ in runs], held_ms=[ms for _, ms in runs])

    deploy(service, "load")
    schedule = np.random.default_rng(7).exponential(1 / 60, 150).cumsum()  # Poisson, 60 requests/s
    sent: list[float] = []
    outcomes: list[str] = []
    lock = threading.Lock()
    origin = time.perf_counter()

    def one(at: float) -> None:
        time.sleep(max(0.0, origin + at - time.perf_counter()))
        start = time.perf_counter() - origin
        try:
            invocation = service.invoke("load", None, b"{}").invocation
            outcome = "cold" if invocation.report.cold else "warm"
        except TooManyRequestsException:
            outcome = "throttled"
        with lock:
            sent.append(start)
            outcomes.append(outcome)

    threads = [threading.Thread(target=one, args=(at,)) for at in schedule]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == len(schedule)

    sim = simulate(Times(sent), workload, account_concurrency=QUOTA, idle_timeout_s=600, seed=1)
    real_cold = outcomes.count("cold")
    real_throttles = outcomes.count("throttled")
    print(f"local service: {real_cold} cold starts, {real_throttles} throttles; "
          f"simulator: {sim.cold_starts} cold starts, {sim.throttles} throttles, of {len(sent)} requests")
    assert real_throttles > 0, "the load must go past the quota for the comparison to mean anything"
    assert abs(sim.cold_starts - real_cold) <= 1
    assert abs(sim.throttles - real_throttles) <= max(5, 0.2 * len(sent))
