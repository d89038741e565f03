"""Warm invoke through the local AWS's single port against the official Runtime Interface Emulator (RIE).

    .venv/bin/python bench/service_invoke.py [--n 2000] [--rounds 10] [--seconds 2] [--levels 1,4,16]

Every peer gets the same handler, the same event and the same client: raw HTTP/1.1 with
``http.client`` on a kept-alive connection (TCP_NODELAY), ``POST /2015-03-31/functions/<name>/invocations``.
labkit's side is the whole path a boto3 call takes: the single-port server (``labkit serve``, here
started in a child process), Lambda's REST API, the service's concurrency accounting, and the
function's warm execution environment. A third peer, the floor (``bench/forwarder.py``), is a bare
Python forwarder to the same awslambdaric: what the process layout and the sockets alone cost.
The RIE serves one invoke at a time: overlapping invokes crash it (SIGSEGV in rapidcore's
``Server.Invoke``, aws-sam-cli 1.170.0), so its clients take turns (a lock on the client side),
which is what queueing in front of it would give.

The peers run side by side for the whole measurement and take turns: the warm latencies in
``--rounds`` alternating rounds, the throughput level by level, so that a machine whose speed
drifts during the run (a shared host) weighs on all of them alike.

Prints the warm p50/p99 of each peer and labkit / RIE ratios (goal: warm p50 <= 0.5x), then the
throughput (invokes per second) of labkit and the RIE at 1, 4 and 16 concurrent clients (each client thread
has its own connection; failed invokes are counted apart), and where labkit's time goes: the
same warm invoke in process, through ``labkit.Function.invoke`` alone and through
``LambdaService.handle`` (the API and the service without the server).
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import shutil
import socket
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forwarder import BareForwarder
from bench.peers import INVOKE_PATH, RiePeer, alternating_latencies, percentile, warm_latencies

HANDLER = "def handler(event, context):\n    return {'ok': True, 'echo': event}\n"
EVENT = json.dumps({"name": "Ada", "n": 1}).encode()
FUNCTION = "bench"
LABKIT_PATH = f"/2015-03-31/functions/{FUNCTION}/invocations"
ROLE = "arn:aws:iam::123456789012:role/bench"
SETTLE_S = 1.1  # a pause between the peers' turns: longer than labkit's observer interval (1 s)


class Client:
    """One kept-alive HTTP connection that POSTs the event to an invoke path."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.path = path
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Content-Type": "application/json"}

    def invoke(self) -> int:
        self.conn.request("POST", self.path, body=EVENT, headers=self.headers)
        response = self.conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self.conn.close()


def throughput(
    make_client: Callable[[], Client], concurrency: int, seconds: float, serial: bool = False
) -> tuple[float, int]:
    """(successful invokes per second, failed invokes) with `concurrency` clients for `seconds`.

    `serial`: the clients take turns (one invoke in flight at a time), for a peer that serves one.
    """
    turn = threading.Lock() if serial else None
    clients = [make_client() for _ in range(concurrency)]
    for client in clients:  # warm every environment the level needs (one at a time)
        client.invoke()
    ok = [0] * concurrency
    failed = [0] * concurrency
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def run(i: int) -> None:
        client = clients[i]
        start.wait()
        while time.perf_counter() < deadline[0]:
            try:
                if turn is not None:
                    with turn:
                        status = client.invoke()
                else:
                    status = client.invoke()
            except (OSError, http.client.HTTPException):
                failed[i] += 1
                client.close()
                clients[i] = client = make_client()
                continue
            if status == 200:
                ok[i] += 1
            else:
                failed[i] += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for client in clients:
        client.close()
    return sum(ok) / elapsed, sum(failed)


def in_process(code: Path, n: int) -> tuple[list[float], list[float]]:
    """Warm latencies of Function.invoke and of LambdaService.handle (no HTTP), in this process."""
    from labkit.service.lambda_service import LambdaService
    from labkit.service.wire import HttpRequest

    with LambdaService() as service:
        import base64

        service.create_function({
            "FunctionName": FUNCTION, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(package()).decode()},
        })
        function = service.pool.function(service.model.resolve(FUNCTION, None)[1])
        request = HttpRequest("POST", LABKIT_PATH, {}, {"content-type": "application/json"}, EVENT)
        direct = warm_latencies(lambda: function.invoke(EVENT), n=n, warmup=200)
        handled = warm_latencies(lambda: service.handle(request), n=n, warmup=200)
    return direct, handled


def create_function(endpoint: str) -> None:
    """The benchmark's function in the local AWS at `endpoint`, created with boto3 as a learner would."""
    import boto3

    from labkit.runtime.lambda_env import LOCAL_CREDENTIALS

    lam = boto3.client(
        "lambda", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    lam.create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package()})


def _serve(conn: Connection) -> None:
    """The child process: `labkit serve` on a free port until told to stop."""
    from labkit.aws.local import LocalAws

    aws = LocalAws.start(0)
    conn.send(aws.endpoint_url)
    conn.recv()
    aws.close()


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="warm invokes per peer for the latency figures")
    parser.add_argument("--rounds", type=int, default=10, help="latency rounds; the peers take turns, round by round")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each throughput level")
    parser.add_argument("--levels", default="1,4,16", help="client concurrency levels for throughput")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    code = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    (code / "app.py").write_text(HANDLER)

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    endpoint = parent.recv()
    host, port = endpoint.rsplit("/", 1)[-1].rsplit(":", 1)
    try:
        create_function(endpoint)
        with RiePeer(handler="app.handler", code_dir=code) as rie, BareForwarder("app.handler", code) as floor:
            rie.start()
            assert rie.port is not None and floor.port is not None
            rie_port, floor_port = rie.port, floor.port
            peers = {
                "labkit": lambda: Client(host, int(port), LABKIT_PATH),
                "RIE": lambda: Client("127.0.0.1", rie_port, INVOKE_PATH),
                "floor": lambda: Client("127.0.0.1", floor_port, LABKIT_PATH),
            }
            clients = {name: make() for name, make in peers.items()}
            latencies = alternating_latencies(
                {name: client.invoke for name, client in clients.items()}, args.n, args.rounds, settle_s=SETTLE_S
            )
            for client in clients.values():
                client.close()
            rates = {  # the floor serves one connection at a time: no throughput for it
                level: {name: throughput(peers[name], level, args.seconds, serial=name == "RIE") for name in ("labkit", "RIE")}
                for level in levels
            }
    finally:
        parent.send("stop")
        server.join(10)

    direct, handled = in_process(code, args.n)
    shutil.rmtree(code, ignore_errors=True)
    print(f"warm invoke over HTTP, {args.n} invokes each in {args.rounds} alternating rounds (labkit: single-port server + Lambda API; RIE: emulator)")
    print(f"{'':14}{'labkit':>12}{'RIE':>12}{'ratio':>9}  goal          {'floor':>12}{'ratio':>9}")
    for label, p, goal in (("warm p50", 50, 0.5), ("warm p99", 99, None)):
        mine, peer, least = (percentile(latencies[name], p) for name in ("labkit", "RIE", "floor"))
        ratio = mine / peer
        verdict = "" if goal is None else (f"<= {goal}x " + ("met" if ratio <= goal else "MISSED"))
        print(f"{label:14}{mine * 1000:>9.3f} ms{peer * 1000:>9.3f} ms{ratio:>8.2f}x  {verdict:12}"
              f"{least * 1000:>9.3f} ms{least / peer:>8.2f}x")
    print("floor: a bare Python forwarder to the same awslambdaric (bench/forwarder.py), the least any Python "
          "server in front of the real runtime client costs here")
    print(f"throughput, {args.seconds:g} s per level (invokes/s; failed invokes in brackets)")
    for level in levels:
        (mine, mine_failed), (peer, peer_failed) = rates[level]["labkit"], rates[level]["RIE"]
        print(
            f"{'concurrency ' + str(level):14}{mine:>9.0f}/s [{mine_failed}]{peer:>9.0f}/s [{peer_failed}]"
            f"{mine / peer if peer else float('inf'):>7.2f}x"
        )
    print("labkit in process, warm p50 (no HTTP): "
          f"Function.invoke {percentile(direct, 50) * 1000:.3f} ms, "
          f"LambdaService.handle {percentile(handled, 50) * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
