"""The stack's implicit APIs, as SAM makes them: ``ServerlessRestApi`` (API Gateway REST, stage Prod) for Api
events and ``ServerlessHttpApi`` (HTTP API, stage $default) for HttpApi events, through boto3's
``apigateway`` and ``apigatewayv2`` clients, with Lambda proxy integrations to the function.

When the local AWS runs in this process, each API is also served by a local API Gateway
(:class:`labkit.triggers.apigateway.ApiGateway`) with the same routes, so its URLs answer:
:func:`local_url` turns an ``https://{api}.execute-api...`` URL into the gateway's. The gateways
live in :data:`GATEWAYS` until :func:`close_gateways` (or the interpreter's exit).
"""
from __future__ import annotations

import atexit
import re
import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from labkit.deploy.context import Context
from labkit.runtime import limits

if TYPE_CHECKING:
    from labkit.deploy.functions import DeployedFunction
    from labkit.service.lambda_service import LambdaService
    from labkit.triggers.apigateway import ApiGateway

REST_API, HTTP_API = "ServerlessRestApi", "ServerlessHttpApi"
REST_STAGE, HTTP_STAGE = "Prod", "$default"


class LocalGateways:
    """The local API Gateways serving deployed APIs: one per (Lambda service, API id); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gateways: dict[tuple[int, str], tuple[LambdaService, ApiGateway]] = {}
        self._atexit = False

    def gateway(self, service: LambdaService, api_id: str, kind: str, stage: str) -> ApiGateway:
        from labkit.triggers.apigateway import ApiGateway

        key = (id(service), api_id)
        with self._lock:
            if key not in self._gateways:
                gateway = (ApiGateway(kind, service=service, stage=stage) if kind == "rest"
                           else ApiGateway(kind, service=service)).start()
                self._gateways[key] = (service, gateway)
                if not self._atexit:
                    atexit.register(self.close)
                    self._atexit = True
            return self._gateways[key][1]

    def find(self, api_id: str) -> ApiGateway | None:
        with self._lock:
            return next((gateway for (_, key), (_, gateway) in self._gateways.items() if key == api_id), None)

    def close(self, service: LambdaService | None = None, api_id: str | None = None) -> None:
        """Close the gateways of one service (None: all), or of one API (deleted with its stack)."""
        with self._lock:
            keys = [(owner_id, key) for (owner_id, key), (owner, _) in self._gateways.items()
                    if (service is None or owner is service) and (api_id is None or key == api_id)]
            closing = [self._gateways.pop(key)[1] for key in keys]
        for gateway in closing:
            gateway.close()


GATEWAYS = LocalGateways()
_EXECUTE_API = re.compile(r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?P<rest>/.*)?$")


def close_gateways(service: LambdaService | None = None) -> None:
    """Stop the local API Gateways of deployed APIs (of one Lambda service, or all)."""
    GATEWAYS.close(service)


def local_url(value: Any) -> Any:
    """An API's AWS URL (``https://{api}.execute-api.{region}.amazonaws.com/Prod/...``) as its local gateway's URL."""
    match = _EXECUTE_API.match(value) if isinstance(value, str) else None
    gateway = GATEWAYS.find(match.group("api")) if match else None
    if match is None or gateway is None:
        return value
    rest = match.group("rest") or "/"
    if gateway.kind == "rest":
        stage_prefix = f"/{gateway.stage}"
        rest = rest[len(stage_prefix):] if rest.startswith(stage_prefix) else rest
    return gateway.url + (rest if rest.startswith("/") else f"/{rest}")


def _serve(ctx: Context, api_id: str, kind: str, stage: str, method: str, path: str, fn: DeployedFunction) -> None:
    if ctx.service is None:
        ctx.note("the local AWS runs in another process: API routes are deployed, but no local gateway serves them here")
        return
    GATEWAYS.gateway(ctx.service, api_id, kind, stage).route(method, path, fn.target_arn)


def _method(method: Any) -> str:
    text = str(method or "ANY").upper()
    return "ANY" if text == "ANY" else text


def _rest_api(ctx: Context) -> str:
    if REST_API in ctx.scope.refs:
        return str(ctx.scope.refs[REST_API])
    client = ctx.aws("apigateway")
    name = ctx.template.stack_name
    found = [api["id"] for api in client.get_rest_apis(limit=500).get("items", []) if api["name"] == name]
    api_id = found[0] if found else client.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = next(r["id"] for r in client.get_resources(restApiId=api_id, limit=500)["items"] if r["path"] == "/")
    ctx.scope.refs[REST_API] = api_id
    ctx.scope.attributes[REST_API] = {"RootResourceId": root}
    ctx.record(REST_API, "AWS::ApiGateway::RestApi", "unchanged" if found else "created", api_id)
    return api_id


def add_rest_route(ctx: Context, fn: DeployedFunction, event: str, path: str, method: Any) -> None:
    """An Api event: resource + method + AWS_PROXY integration on the implicit REST API, deployed to Prod."""
    client = ctx.aws("apigateway")
    api_id = _rest_api(ctx)
    resources = {r["path"]: r["id"] for r in client.get_resources(restApiId=api_id, limit=500)["items"]}
    current = "/"
    for part in [p for p in str(path).split("/") if p]:
        child = f"{current.rstrip('/')}/{part}"
        if child not in resources:
            resources[child] = client.create_resource(restApiId=api_id, parentId=resources[current], pathPart=part)["id"]
        current = child
    verb = _method(method)
    resource_id = resources[current]
    uri = f"arn:aws:apigateway:{limits.DEFAULT_REGION}:lambda:path/2015-03-31/functions/{fn.target_arn}/invocations"
    try:
        existing = client.get_integration(restApiId=api_id, resourceId=resource_id, httpMethod=verb).get("uri")
    except ClientError:
        existing = None
    action = "created" if existing is None else "unchanged" if existing == uri else "updated"
    if action != "unchanged":
        client.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=verb, authorizationType="NONE")
        client.put_integration(
            restApiId=api_id, resourceId=resource_id, httpMethod=verb, type="AWS_PROXY", integrationHttpMethod="POST",
            uri=uri,
        )
        client.create_deployment(restApiId=api_id, stageName=REST_STAGE)
    _serve(ctx, api_id, "rest", REST_STAGE, verb, current, fn)
    ctx.record(f"{fn.logical_id}/{event}", "Api", action, f"{verb} {current} on {api_id} stage {REST_STAGE}",
               physical_id=f"{verb} {current}", ApiId=api_id)


def _http_api(ctx: Context) -> str:
    if HTTP_API in ctx.scope.refs:
        return str(ctx.scope.refs[HTTP_API])
    client = ctx.aws("apigatewayv2")
    name = ctx.template.stack_name
    found = [a for a in client.get_apis()["Items"] if a["Name"] == name and a["ProtocolType"] == "HTTP"]
    api = found[0] if found else client.create_api(Name=name, ProtocolType="HTTP")
    if not any(s["StageName"] == HTTP_STAGE for s in client.get_stages(ApiId=api["ApiId"])["Items"]):
        client.create_stage(ApiId=api["ApiId"], StageName=HTTP_STAGE, AutoDeploy=True)
    ctx.scope.refs[HTTP_API] = api["ApiId"]
    ctx.scope.attributes[HTTP_API] = {"ApiEndpoint": api.get("ApiEndpoint", "")}
    ctx.record(HTTP_API, "AWS::ApiGatewayV2::Api", "unchanged" if found else "created", api["ApiId"])
    return str(api["ApiId"])


def add_http_route(ctx: Context, fn: DeployedFunction, event: str, path: Any, method: Any) -> None:
    """An HttpApi event: a route (``$default`` without Path and Method) to a payload-2.0 proxy integration."""
    client = ctx.aws("apigatewayv2")
    api_id = _http_api(ctx)
    integrations = [i for i in client.get_integrations(ApiId=api_id)["Items"] if i.get("IntegrationUri") == fn.target_arn]
    integration = integrations[0]["IntegrationId"] if integrations else client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn.target_arn, PayloadFormatVersion="2.0",
        IntegrationMethod="POST",
    )["IntegrationId"]
    key = f"{_method(method)} {path}" if path else "$default"
    routes = [r for r in client.get_routes(ApiId=api_id)["Items"] if r["RouteKey"] == key]
    if routes:
        client.update_route(ApiId=api_id, RouteId=routes[0]["RouteId"], Target=f"integrations/{integration}")
        action = "unchanged"
    else:
        client.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
        action = "created"
    if path:
        _serve(ctx, api_id, "http", HTTP_STAGE, _method(method), str(path), fn)
    else:
        _serve(ctx, api_id, "http", HTTP_STAGE, "ANY", "$default", fn)
    ctx.record(f"{fn.logical_id}/{event}", "HttpApi", action, f"{key} on {api_id}", physical_id=key, ApiId=api_id)
