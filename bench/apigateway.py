"""What the local API Gateway adds to a warm invoke: HTTP request -> event -> invoke -> response.

    .venv/bin/python bench/apigateway.py [--n 1000]

Peers, measured in the same run on the same warm execution environment and handler:
``labkit.Function.invoke`` called directly (the invoke alone), and a GET through
``labkit.ApiGateway`` (REST 1.0 and HTTP API 2.0) with ``http.client`` on one kept-alive
connection. Prints the warm p50/p99 of each and the gateway / direct ratios.
"""
from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peers import percentile
from labkit import ApiGateway, Function

HANDLER = "import json\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps({'ok': True})}\n"


def timed(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(50, n)):  # warm up
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def through(api: ApiGateway, path: str) -> Callable[[], object]:
    url = urlsplit(api.url)  # a REST API's URL ends in its stage
    connection = http.client.HTTPConnection(url.hostname, url.port)
    prefix = url.path

    def get() -> object:
        connection.request("GET", prefix + path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"the gateway answered {response.status}: {body[:200]!r}")
        return body

    return get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="warm requests per peer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as code:
        Path(code, "app.py").write_text(HANDLER)
        with Function("app.handler", code=code, name="bench-apigw") as fn, ApiGateway("rest") as rest, ApiGateway("http") as http_api:
            rest.route("GET", "/items/{id}", fn)
            http_api.route("GET", "/items/{id}", fn)
            direct = timed(lambda: fn.invoke({"id": "1"}), args.n)
            peers = {"REST API (1.0)": timed(through(rest, "/items/1"), args.n), "HTTP API (2.0)": timed(through(http_api, "/items/1"), args.n)}
    base50, base99 = percentile(direct, 50), percentile(direct, 99)
    print(f"{'peer':<28}{'p50 ms':>10}{'p99 ms':>10}{'p50 ratio':>12}")
    print(f"{'Function.invoke (direct)':<28}{base50:>10.3f}{base99:>10.3f}{1:>12.2f}")
    for name, samples in peers.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print(f"{'GET via ' + name:<28}{p50:>10.3f}{p99:>10.3f}{p50 / base50:>12.2f}")


if __name__ == "__main__":
    main()
