"""The local API Gateway end to end: `requests` -> gateway -> real awslambdaric -> mapped response."""
from __future__ import annotations

import base64
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from labkit import Function
from labkit.errors import ConfigurationError
from labkit.triggers.apigateway import ApiGateway

HANDLERS = """
import json, threading, time

def rest(event, context):
    item = event["pathParameters"]["id"]
    if item == "404":
        return {"statusCode": 404, "body": json.dumps({"error": "no order 404"})}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"id": item, "resource": event["resource"], "path": event["path"],
                            "query": event["multiValueQueryStringParameters"],
                            "trace": event["multiValueHeaders"].get("X-Trace")}),
    }

def v2(event, context):
    return {"routeKey": event["routeKey"], "rawPath": event["rawPath"], "params": event.get("pathParameters"),
            "cookies": event.get("cookies"), "query": event.get("queryStringParameters"),
            "context": event["requestContext"].get("authorizer")}

def binary(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
            "body": event["body"], "isBase64Encoded": event["isBase64Encoded"], "cookies": ["seen=1"]}

def boom(event, context):
    raise ValueError("boom")

def malformed(event, context):
    return {"statusCode": "two hundred"}

def slow(event, context):
    time.sleep(1.5)
    return "late"
"""


@pytest.fixture
def functions(make_code: Callable[..., Path]) -> Iterator[Callable[[str], Function]]:
    code = make_code(app=HANDLERS)
    made: list[Function] = []

    def make(handler: str, timeout_s: float = 3) -> Function:
        fn = Function(f"app.{handler}", code=code, timeout_s=timeout_s, name=handler)
        made.append(fn)
        return fn

    yield make
    for fn in made:
        fn.close()


def test_rest_v1_path_parameters_multi_value_and_404(functions: Callable[[str], Function]) -> None:
    with ApiGateway("rest", stage="dev") as api:
        api.route("GET", "/orders/{id}", functions("rest"))
        with requests.Session() as http:
            ok = http.get(f"{api.url}/orders/42?tag=a&tag=b", headers={"X-Trace": "t1"})
            missing = http.get(f"{api.url}/orders/404")
            no_route = http.get(f"{api.url}/customers/1")
            no_stage = http.get(api.url.rsplit("/", 1)[0] + "/orders/42")
    assert ok.status_code == 200
    assert ok.json() == {"id": "42", "resource": "/orders/{id}", "path": "/orders/42",
                         "query": {"tag": ["a", "b"]}, "trace": ["t1"]}
    assert ok.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert missing.status_code == 404 and missing.json() == {"error": "no order 404"}
    assert no_route.status_code == 403 and no_route.json() == {"message": "Missing Authentication Token"}
    assert no_stage.status_code == 403
    assert [entry.status for entry in api.log] == [200, 404, 403, 403]


def test_http_v2_routes_cookies_and_the_plain_dict_shortcut(functions: Callable[[str], Function]) -> None:
    fn = functions("v2")
    with ApiGateway("http") as api:
        api.route("GET", "/files/{proxy+}", fn)
        api.route("ANY", "$default", fn)
        files = requests.get(f"{api.url}/files/a/b.txt?x=1&x=2", cookies={"session": "s1"})
        other = requests.post(f"{api.url}/elsewhere", data="hi")
    assert files.status_code == 200 and files.headers["Content-Type"] == "application/json"
    assert files.json() == {"routeKey": "GET /files/{proxy+}", "rawPath": "/files/a/b.txt", "params": {"proxy": "a/b.txt"},
                            "cookies": ["session=s1"], "query": {"x": "1,2"}, "context": None}
    assert other.json()["routeKey"] == "$default"


def test_binary_bodies_travel_base64_both_ways(functions: Callable[[str], Function]) -> None:
    data = bytes(range(256))
    with ApiGateway("http") as api:
        api.route("POST", "/echo", functions("binary"))
        answer = requests.post(f"{api.url}/echo", data=data, headers={"Content-Type": "image/png"})
    assert answer.status_code == 200 and answer.content == data
    assert answer.headers["Set-Cookie"] == "seen=1"


def test_function_url_uses_the_v2_shape(functions: Callable[[str], Function]) -> None:
    with ApiGateway("url", target=functions("v2")) as url:
        answer = requests.get(f"{url.url}/any/path?q=1")
    assert answer.json()["routeKey"] == "$default" and answer.json()["rawPath"] == "/any/path"


def test_function_errors_and_malformed_responses_are_502(functions: Callable[[str], Function]) -> None:
    with ApiGateway("rest") as api:
        api.route("GET", "/boom", functions("boom"))
        api.route("GET", "/malformed", functions("malformed"))
        boom = requests.get(f"{api.url}/boom")
        malformed = requests.get(f"{api.url}/malformed")
    for answer in (boom, malformed):
        assert answer.status_code == 502 and answer.json() == {"message": "Internal server error"}


def test_integration_timeout_answers_504_and_the_function_runs_on(functions: Callable[[str], Function]) -> None:
    slow = functions("slow")
    with ApiGateway("rest", integration_timeout_s=0.3) as api:
        api.route("GET", "/slow", slow)
        answer = requests.get(f"{api.url}/slow")
    assert answer.status_code == 504 and answer.json() == {"message": "Endpoint request timed out"}
    assert slow.history[-1].result == "late"  # close() waited for the invoke in flight


def test_a_burst_over_the_bucket_gets_429s(functions: Callable[[str], Function]) -> None:
    fn = functions("v2")
    with ApiGateway("http", rate_limit=0.01, burst_limit=3) as api:
        api.route("GET", "/x", fn)
        statuses: list[int] = []
        lock = threading.Lock()

        def call() -> None:
            status = requests.get(f"{api.url}/x").status_code
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        throttled = requests.get(f"{api.url}/x")
    assert sorted(statuses) == [200] * 3 + [429] * 5
    assert throttled.status_code == 429 and throttled.json() == {"message": "Too Many Requests"}


def test_api_keys_and_authorizers(functions: Callable[[str], Function]) -> None:
    fn = functions("v2")

    def authorizer(headers: dict[str, str]) -> dict[str, str] | None:
        return {"user": "ada"} if headers.get("authorization") == "Bearer good" else None

    with ApiGateway("http", api_keys=["k1"]) as api:
        api.route("GET", "/keyed", fn, api_key_required=True)
        api.route("GET", "/authorized", fn, authorizer=authorizer)
        no_key = requests.get(f"{api.url}/keyed")
        keyed = requests.get(f"{api.url}/keyed", headers={"x-api-key": "k1"})
        denied = requests.get(f"{api.url}/authorized", headers={"Authorization": "Bearer bad"})
        allowed = requests.get(f"{api.url}/authorized", headers={"Authorization": "Bearer good"})
    assert no_key.status_code == 403 and keyed.status_code == 200
    assert denied.status_code == 401 and denied.json() == {"message": "Unauthorized"}
    assert allowed.json()["context"] == {"lambda": {"user": "ada"}}


def test_keep_alive_serves_many_requests_on_one_connection(functions: Callable[[str], Function]) -> None:
    with ApiGateway("http") as api:
        api.route("GET", "/x", functions("v2"))
        with requests.Session() as http:
            answers = [http.get(f"{api.url}/x") for _ in range(5)]
        assert api._server.open_connections <= 1
    assert {a.status_code for a in answers} == {200}


def test_http_api_timeout_is_503_and_function_urls_wait_for_the_function(functions: Callable[[str], Function]) -> None:
    slow = functions("slow")
    with ApiGateway("http", integration_timeout_s=0.3) as api:
        api.route("GET", "/slow", slow)
        answer = requests.get(f"{api.url}/slow")
    assert answer.status_code == 503 and answer.json() == {"message": "Service Unavailable"}
    with ApiGateway("url", target=slow) as url:
        assert url.integration_timeout_s is None
        assert requests.get(url.url).text == "late"


def test_routes_to_functions_of_a_lambda_service_and_their_throttles(tmp_path: Path) -> None:
    from labkit.service.exceptions import ResourceNotFoundException
    from labkit.service.lambda_service import LambdaService

    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", HANDLERS)
    zipped = base64.b64encode(package.getvalue()).decode()
    with LambdaService(data_dir=tmp_path / "lambda", state_transition_s=0) as service:  # Active at the next call
        service.create_function({"FunctionName": "orders", "Runtime": "python3.12", "Handler": "app.rest",
                                 "Role": "arn:aws:iam::123456789012:role/lambda-role", "Code": {"ZipFile": zipped}})
        with ApiGateway("rest", service=service) as api:
            api.route("GET", "/orders/{id}", "arn:aws:lambda:us-east-1:123456789012:function:orders")
            assert requests.get(f"{api.url}/orders/5").json()["id"] == "5"
            service.put_function_concurrency("orders", 0)  # every invoke is throttled now
            throttled = requests.get(f"{api.url}/orders/5")
            assert throttled.status_code == 500 and throttled.json() == {"message": "Internal server error"}
            with pytest.raises(ResourceNotFoundException, match="no-such-function"):
                api.route("GET", "/x", "no-such-function")


def test_an_http_api_can_send_payload_1_0(functions: Callable[[str], Function]) -> None:
    with ApiGateway("http", payload_version="1.0") as api:
        api.route("GET", "/orders/{id}", functions("rest"))
        api.route("GET", "/plain", functions("v2"))
        order = requests.get(f"{api.url}/orders/9?tag=x")
        plain = requests.get(f"{api.url}/plain")
    assert order.json()["path"] == "/orders/9" and order.json()["query"] == {"tag": ["x"]}
    assert plain.status_code == 502  # 1.0 has no shortcut for a dict without statusCode
    with pytest.raises(ConfigurationError, match="payload_version"):
        ApiGateway("rest", payload_version="2.0")


def test_every_backend_serves_behind_the_gateway(make_code: Callable[..., Path], backend: str) -> None:
    code = make_code(app=HANDLERS)
    with Function("app.rest", code=code, backend=backend) as fn, ApiGateway("rest") as api:
        api.route("GET", "/orders/{id}", fn)
        answer = requests.get(f"{api.url}/orders/3")
    assert answer.status_code == 200 and answer.json()["id"] == "3"


def test_close_leaves_no_thread_and_frees_the_port(functions: Callable[[str], Function]) -> None:
    import socket

    api = ApiGateway("http").start()
    api.route("GET", "/x", functions("v2"))
    port = int(api.url.rsplit(":", 1)[1])
    http = requests.Session()
    assert http.get(f"{api.url}/x").status_code == 200  # a kept-alive connection stays open
    api.close()
    http.close()
    alive = [t.name for t in threading.enumerate() if t.name.endswith(f"-{port}") or t.name.startswith("labkit-apigw")]
    assert alive == []
    with socket.create_server(("127.0.0.1", port)):  # the port is free again
        pass
