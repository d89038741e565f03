"""Lambda's REST API: paths to operations, and the JSON shapes of its answers.

Paths, status codes and shapes follow botocore's service model for Lambda (2015-03-31), so
``boto3.client("lambda", endpoint_url=...)`` and ``curl`` work unchanged. Errors become AWS's
error responses (:mod:`labkit.service.exceptions`).

One addition of labkit's own: ``PUT /2016-08-19/account-settings`` with
``{"ConcurrentExecutions": N}`` sets the account's concurrency limit for a lesson, and answers as
GetAccountSettings does.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from labkit.runtime import limits
from labkit.service.exceptions import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaServiceError,
    RequestTooLargeException,
    ResourceNotFoundException,
    ServiceException,
    UnknownOperationException,
)
from labkit.service.layers import LayerVersion, layer_list_item, layer_version_document, layers_list_item
from labkit.service.models import (
    CREATING,
    LATEST,
    UPDATING,
    Alias,
    EventInvokeConfig,
    FunctionState,
    ProvisionedConfig,
    VersionConfig,
    function_arn,
    parse_function_ref,
)
from labkit.service import validation
from labkit.service.wire import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from labkit.service.lambda_service import LambdaService

LOG = logging.getLogger("labkit.service")
LOG_TAIL_BYTES = 4096
DEFAULT_PAGE = 50

Handler = Callable[..., HttpResponse]
_FN = r"(?P<fn>[^/]+)"
_LAYER_VERSION = "/2018-10-31/layers/(?P<layer>[^/]+)/versions/(?P<number>[^/]+)"
_CSC = "/2020-04-22/code-signing-configs/(?P<csc>[^/]+)"


def _route(method: str, pattern: str, name: str) -> tuple[str, re.Pattern[str], str]:
    return method, re.compile(f"^{pattern}/?$"), name


ROUTES = [
    _route("POST", "/2015-03-31/functions", "create_function"),
    _route("GET", "/2015-03-31/functions", "list_functions"),
    _route("GET", f"/2015-03-31/functions/{_FN}", "get_function"),
    _route("DELETE", f"/2015-03-31/functions/{_FN}", "delete_function"),
    _route("GET", f"/2015-03-31/functions/{_FN}/configuration", "get_function_configuration"),
    _route("PUT", f"/2015-03-31/functions/{_FN}/configuration", "update_function_configuration"),
    _route("PUT", f"/2015-03-31/functions/{_FN}/code", "update_function_code"),
    _route("GET", f"/2015-03-31/functions/{_FN}/package", "get_package"),
    _route("POST", f"/2015-03-31/functions/{_FN}/invocations", "invoke"),
    _route("POST", f"/2014-11-13/functions/{_FN}/invoke-async", "invoke_async"),
    _route("POST", f"/2015-03-31/functions/{_FN}/versions", "publish_version"),
    _route("GET", f"/2015-03-31/functions/{_FN}/versions", "list_versions_by_function"),
    _route("POST", f"/2015-03-31/functions/{_FN}/aliases", "create_alias"),
    _route("GET", f"/2015-03-31/functions/{_FN}/aliases", "list_aliases"),
    _route("GET", f"/2015-03-31/functions/{_FN}/aliases/(?P<alias>[^/]+)", "get_alias"),
    _route("PUT", f"/2015-03-31/functions/{_FN}/aliases/(?P<alias>[^/]+)", "update_alias"),
    _route("DELETE", f"/2015-03-31/functions/{_FN}/aliases/(?P<alias>[^/]+)", "delete_alias"),
    _route("PUT", f"/2017-10-31/functions/{_FN}/concurrency", "put_function_concurrency"),
    _route("DELETE", f"/2017-10-31/functions/{_FN}/concurrency", "delete_function_concurrency"),
    _route("GET", f"/2019-09-30/functions/{_FN}/concurrency", "get_function_concurrency"),
    _route("PUT", f"/2019-09-30/functions/{_FN}/provisioned-concurrency", "put_provisioned_concurrency_config"),
    _route("GET", f"/2019-09-30/functions/{_FN}/provisioned-concurrency", "get_provisioned_concurrency_config"),
    _route("DELETE", f"/2019-09-30/functions/{_FN}/provisioned-concurrency", "delete_provisioned_concurrency_config"),
    _route("PUT", f"/2019-09-25/functions/{_FN}/event-invoke-config", "put_function_event_invoke_config"),
    _route("POST", f"/2019-09-25/functions/{_FN}/event-invoke-config", "update_function_event_invoke_config"),
    _route("GET", f"/2019-09-25/functions/{_FN}/event-invoke-config", "get_function_event_invoke_config"),
    _route("DELETE", f"/2019-09-25/functions/{_FN}/event-invoke-config", "delete_function_event_invoke_config"),
    _route("GET", f"/2019-09-25/functions/{_FN}/event-invoke-config/list", "list_function_event_invoke_configs"),
    _route("POST", f"/2015-03-31/functions/{_FN}/policy", "add_permission"),
    _route("GET", f"/2015-03-31/functions/{_FN}/policy", "get_policy"),
    _route("DELETE", f"/2015-03-31/functions/{_FN}/policy/(?P<sid>[^/]+)", "remove_permission"),
    _route("POST", f"/2021-10-31/functions/{_FN}/url", "create_function_url_config"),
    _route("GET", f"/2021-10-31/functions/{_FN}/url", "get_function_url_config"),
    _route("PUT", f"/2021-10-31/functions/{_FN}/url", "update_function_url_config"),
    _route("DELETE", f"/2021-10-31/functions/{_FN}/url", "delete_function_url_config"),
    _route("GET", f"/2021-10-31/functions/{_FN}/urls", "list_function_url_configs"),
    _route("POST", "/2018-10-31/layers/(?P<layer>[^/]+)/versions", "publish_layer_version"),
    _route("GET", "/2018-10-31/layers/(?P<layer>[^/]+)/versions", "list_layer_versions"),
    _route("GET", "/2018-10-31/layers/(?P<layer>[^/]+)/versions/(?P<number>[^/]+)", "get_layer_version"),
    _route("DELETE", "/2018-10-31/layers/(?P<layer>[^/]+)/versions/(?P<number>[^/]+)", "delete_layer_version"),
    _route("GET", "/2018-10-31/layers/(?P<layer>[^/]+)/versions/(?P<number>[^/]+)/package", "get_layer_package"),
    _route("GET", "/2018-10-31/layers", "list_layers"),
    _route("POST", f"{_LAYER_VERSION}/policy", "add_layer_version_permission"),
    _route("GET", f"{_LAYER_VERSION}/policy", "get_layer_version_policy"),
    _route("DELETE", f"{_LAYER_VERSION}/policy/(?P<sid>[^/]+)", "remove_layer_version_permission"),
    _route("POST", "/2020-04-22/code-signing-configs", "create_code_signing_config"),
    _route("GET", "/2020-04-22/code-signing-configs", "list_code_signing_configs"),
    _route("GET", _CSC, "get_code_signing_config"),
    _route("PUT", _CSC, "update_code_signing_config"),
    _route("DELETE", _CSC, "delete_code_signing_config"),
    _route("GET", f"{_CSC}/functions", "list_functions_by_code_signing_config"),
    _route("PUT", f"/2020-06-30/functions/{_FN}/code-signing-config", "put_function_code_signing_config"),
    _route("GET", f"/2020-06-30/functions/{_FN}/code-signing-config", "get_function_code_signing_config"),
    _route("DELETE", f"/2020-06-30/functions/{_FN}/code-signing-config", "delete_function_code_signing_config"),
    _route("PUT", f"/2024-08-31/functions/{_FN}/recursion-config", "put_function_recursion_config"),
    _route("GET", f"/2024-08-31/functions/{_FN}/recursion-config", "get_function_recursion_config"),
    _route("GET", "/2016-08-19/account-settings", "get_account_settings"),
    _route("PUT", "/2016-08-19/account-settings", "put_account_settings"),
    _route("POST", "/2015-03-31/event-source-mappings", "create_event_source_mapping"),
    _route("GET", "/2015-03-31/event-source-mappings", "list_event_source_mappings"),
    _route("GET", "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)", "get_event_source_mapping"),
    _route("PUT", "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)", "update_event_source_mapping"),
    _route("DELETE", "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)", "delete_event_source_mapping"),
    _route("GET", "/2017-03-31/tags/(?P<arn>.+)", "list_tags"),
    _route("POST", "/2017-03-31/tags/(?P<arn>.+)", "tag_resource"),
    _route("DELETE", "/2017-03-31/tags/(?P<arn>.+)", "untag_resource"),
]
_INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIXES = ("/invocations", "/invocations/")


class LambdaResponses:
    """Turns HttpRequests into LambdaService calls and the results into Lambda's responses."""

    def __init__(self, service: LambdaService) -> None:
        self.service = service

    def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            path = request.path
            # The hot path first: invokes skip the route table.
            if request.method == "POST" and path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIXES):
                fn = path[len(_INVOKE_PREFIX):].rstrip("/")[: -len("/invocations")]
                if "/" not in fn:
                    _validate_invoke(path, _query(request, "Qualifier"), request.headers.get("x-amz-invocation-type"),
                                     request.headers.get("x-amz-log-type"))
                    return self.invoke(request, fn=fn)
            for method, pattern, name in ROUTES:
                match = pattern.match(path)
                if match is not None and method == request.method:
                    operation = _operation_name(name, request)
                    body = _body(request) if validation.reads_json_body(operation) else None
                    validation.validate(operation, path, request.query, request.headers, body)
                    return getattr(self, name)(request, **match.groupdict())
            raise UnknownOperationException(
                f"labkit's local Lambda has no operation for {request.method} {path}: see "
                "labkit.service.responses.ROUTES for the operations it implements"
            )
        except LambdaServiceError as exc:
            return exc.to_response(str(uuid.uuid4()))
        except Exception as exc:  # a bug must not reach the client as a dropped connection
            LOG.exception("internal error answering %s %s", request.method, request.path)
            return ServiceException(f"labkit's local Lambda failed on this request: {exc!r}").to_response(str(uuid.uuid4()))

    # -- functions ----------------------------------------------------------------------------------

    def create_function(self, request: HttpRequest) -> HttpResponse:
        config = self.service.create_function(_body(request))
        return _json(201, function_configuration(config, self._arn_for(config)))

    def list_functions(self, request: HttpRequest) -> HttpResponse:
        all_versions = _query(request, "FunctionVersion") == "ALL"
        items: list[dict[str, Any]] = []
        for state in self.service.model.functions():
            items.append(list_item(state.latest, function_arn(state.name, LATEST) if all_versions else state.latest.arn))
            if all_versions:
                items.extend(list_item(v, v.arn) for v in _versions(state))
        page, marker = _page(items, request)
        return _json(200, {"Functions": page, **({"NextMarker": marker} if marker else {})})

    def get_function(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        state, config, alias = self.service.model.resolve(name, qualifier)
        body: dict[str, Any] = {
            "Configuration": function_configuration(config, self._arn_for(config, alias)),
            "Code": {"RepositoryType": "S3", "Location": self._package_location(config)},
        }
        if state.tags:
            body["Tags"] = dict(state.tags)
        if state.reserved is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": state.reserved}
        return _json(200, body)

    def get_function_configuration(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        _state, config, alias = self.service.model.resolve(name, qualifier)
        return _json(200, function_configuration(config, self._arn_for(config, alias)))

    def get_package(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        _state, config, _alias = self.service.model.resolve(name, qualifier)
        if config.code.zip_path is None or not config.code.zip_path.is_file():
            raise ResourceNotFoundException(f"The package of {config.qualified_arn} is gone")
        return HttpResponse(200, config.code.zip_path.read_bytes(), {"Content-Type": "application/zip"})

    def update_function_configuration(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        config = self.service.update_function_configuration(name, _body(request))
        return _json(200, function_configuration(config, self._arn_for(config)))

    def update_function_code(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        config = self.service.update_function_code(name, _body(request))
        return _json(200, function_configuration(config, self._arn_for(config)))

    def delete_function(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        self.service.delete_function(name, qualifier)
        return HttpResponse(204)

    # -- versions and aliases -------------------------------------------------------------------------

    def publish_version(self, request: HttpRequest, fn: str) -> HttpResponse:
        config = self.service.publish_version(self._name(fn), _body(request))
        return _json(201, function_configuration(config, config.arn))

    def list_versions_by_function(self, request: HttpRequest, fn: str) -> HttpResponse:
        state = self.service.model.function(self._name(fn))
        items = [list_item(state.latest, function_arn(state.name, LATEST))]
        items += [list_item(v, v.arn) for v in _versions(state)]
        page, marker = _page(items, request)
        return _json(200, {"Versions": page, **({"NextMarker": marker} if marker else {})})

    def create_alias(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        return _json(201, alias_configuration(name, self.service.create_alias(name, _body(request))))

    def get_alias(self, request: HttpRequest, fn: str, alias: str) -> HttpResponse:
        name = self._name(fn)
        return _json(200, alias_configuration(name, self.service.model.function(name).alias(unquote(alias))))

    def update_alias(self, request: HttpRequest, fn: str, alias: str) -> HttpResponse:
        name = self._name(fn)
        return _json(200, alias_configuration(name, self.service.update_alias(name, unquote(alias), _body(request))))

    def delete_alias(self, request: HttpRequest, fn: str, alias: str) -> HttpResponse:
        self.service.delete_alias(self._name(fn), unquote(alias))
        return HttpResponse(204)

    def list_aliases(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        version = _query(request, "FunctionVersion")
        aliases = [
            alias_configuration(name, alias)
            for alias in sorted(self.service.model.function(name).aliases.values(), key=lambda a: a.name)
            if version is None or alias.function_version == version
        ]
        page, marker = _page(aliases, request)
        return _json(200, {"Aliases": page, **({"NextMarker": marker} if marker else {})})

    # -- concurrency --------------------------------------------------------------------------------------

    def put_function_concurrency(self, request: HttpRequest, fn: str) -> HttpResponse:
        body = _body(request)
        if "ReservedConcurrentExecutions" not in body:
            raise InvalidParameterValueException(
                "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy "
                "constraint: Member must not be null"
            )
        reserved = self.service.put_function_concurrency(self._name(fn), body["ReservedConcurrentExecutions"])
        return _json(200, {"ReservedConcurrentExecutions": reserved})

    def delete_function_concurrency(self, request: HttpRequest, fn: str) -> HttpResponse:
        self.service.delete_function_concurrency(self._name(fn))
        return HttpResponse(204)

    def get_function_concurrency(self, request: HttpRequest, fn: str) -> HttpResponse:
        state = self.service.model.function(self._name(fn))
        return _json(200, {} if state.reserved is None else {"ReservedConcurrentExecutions": state.reserved})

    def put_provisioned_concurrency_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        body = _body(request)
        config = self.service.put_provisioned_concurrency(name, qualifier, body.get("ProvisionedConcurrentExecutions"))
        return _json(202, provisioned_configuration(config))

    def get_provisioned_concurrency_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        if _query(request, "List") == "ALL":
            return self.list_provisioned_concurrency_configs(request, fn)
        name, qualifier = self._ref(request, fn)
        return _json(200, provisioned_configuration(self.service.model.provisioned(name, qualifier)))

    def list_provisioned_concurrency_configs(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        state = self.service.model.function(name)
        items = [
            {"FunctionArn": function_arn(name, config.qualifier), **provisioned_configuration(config)}
            for config in state.provisioned.values()
        ]
        page, marker = _page(items, request)
        return _json(200, {"ProvisionedConcurrencyConfigs": page, **({"NextMarker": marker} if marker else {})})

    def delete_provisioned_concurrency_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        self.service.delete_provisioned_concurrency(name, qualifier)
        return HttpResponse(204)

    # -- event invoke configs -------------------------------------------------------------------------------

    def put_function_event_invoke_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        config = self.service.put_event_invoke_config(name, qualifier, _body(request), merge=False)
        return _json(200, event_invoke_configuration(name, config))

    def update_function_event_invoke_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        config = self.service.put_event_invoke_config(name, qualifier, _body(request), merge=True)
        return _json(200, event_invoke_configuration(name, config))

    def get_function_event_invoke_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        return _json(200, event_invoke_configuration(name, self.service.model.event_config(name, qualifier)))

    def delete_function_event_invoke_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        self.service.model.delete_event_config(name, qualifier)
        return HttpResponse(204)

    def list_function_event_invoke_configs(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        items = [event_invoke_configuration(name, c) for c in self.service.model.event_configs(name)]
        page, marker = _page(items, request)
        return _json(200, {"FunctionEventInvokeConfigs": page, **({"NextMarker": marker} if marker else {})})

    # -- resource-based policies ---------------------------------------------------------------------------

    def add_permission(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        statement = self.service.add_permission(name, qualifier, _body(request))
        return _json(201, {"Statement": json.dumps(statement, separators=(",", ":"))})

    def get_policy(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        policy, revision_id = self.service.get_policy(name, qualifier)
        return _json(200, {"Policy": policy, "RevisionId": revision_id})

    def remove_permission(self, request: HttpRequest, fn: str, sid: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        self.service.remove_permission(name, qualifier, unquote(sid), _query(request, "RevisionId"))
        return HttpResponse(204)

    # -- layers -------------------------------------------------------------------------------------------

    def publish_layer_version(self, request: HttpRequest, layer: str) -> HttpResponse:
        published = self.service.publish_layer_version(unquote(layer), _body(request))
        return _json(201, layer_version_document(published, self._layer_location(published)))

    def get_layer_version(self, request: HttpRequest, layer: str, number: str) -> HttpResponse:
        found = self.service.layers.get(unquote(layer), number)
        return _json(200, layer_version_document(found, self._layer_location(found)))

    def get_layer_package(self, request: HttpRequest, layer: str, number: str) -> HttpResponse:
        found = self.service.layers.get(unquote(layer), number)
        zip_path = found.content.zip_path
        if zip_path is None or not zip_path.is_file():
            raise ResourceNotFoundException(f"The package of {found.arn} is gone")
        return HttpResponse(200, zip_path.read_bytes(), {"Content-Type": "application/zip"})

    def delete_layer_version(self, request: HttpRequest, layer: str, number: str) -> HttpResponse:
        self.service.layers.delete(unquote(layer), number)
        return HttpResponse(204)

    def list_layer_versions(self, request: HttpRequest, layer: str) -> HttpResponse:
        versions = self.service.layers.versions(
            unquote(layer), _query(request, "CompatibleRuntime"), _query(request, "CompatibleArchitecture")
        )
        page, marker = _page([layer_list_item(v) for v in versions], request)
        return _json(200, {"LayerVersions": page, **({"NextMarker": marker} if marker else {})})

    def add_layer_version_permission(self, request: HttpRequest, layer: str, number: str) -> HttpResponse:
        found = self.service.layers.existing(unquote(layer), number)
        statement, revision_id = self.service.layers.policies.add(found.arn, _body(request), _query(request, "RevisionId"))
        return _json(201, {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision_id})

    def get_layer_version_policy(self, request: HttpRequest, layer: str, number: str) -> HttpResponse:
        found = self.service.layers.existing(unquote(layer), number)
        policy, revision_id = self.service.layers.policies.get(found.arn)
        return _json(200, {"Policy": policy, "RevisionId": revision_id})

    def remove_layer_version_permission(self, request: HttpRequest, layer: str, number: str, sid: str) -> HttpResponse:
        found = self.service.layers.existing(unquote(layer), number)
        self.service.layers.policies.remove(found.arn, unquote(sid), _query(request, "RevisionId"))
        return HttpResponse(204)

    def list_layers(self, request: HttpRequest) -> HttpResponse:
        if _query(request, "find") == "LayerVersion":  # GetLayerVersionByArn
            found = self.service.layers.get_by_arn(_query(request, "Arn") or "")
            return _json(200, layer_version_document(found, self._layer_location(found)))
        layers = self.service.layers.layers(_query(request, "CompatibleRuntime"), _query(request, "CompatibleArchitecture"))
        page, marker = _page([layers_list_item(layer) for layer in layers], request)
        return _json(200, {"Layers": page, **({"NextMarker": marker} if marker else {})})

    # -- account and tags ------------------------------------------------------------------------------------

    def get_account_settings(self, request: HttpRequest) -> HttpResponse:
        return _json(200, self.service.account_settings())

    def put_account_settings(self, request: HttpRequest) -> HttpResponse:
        body = _body(request)
        if "ConcurrentExecutions" not in body:
            raise InvalidParameterValueException(
                'Give the account\'s concurrency limit: {"ConcurrentExecutions": 10}'
            )
        self.service.set_account_concurrency(body["ConcurrentExecutions"])
        return _json(200, self.service.account_settings())

    def list_tags(self, request: HttpRequest, arn: str) -> HttpResponse:
        return _json(200, {"Tags": self.service.tags.list_tags(unquote(arn))})

    def tag_resource(self, request: HttpRequest, arn: str) -> HttpResponse:
        self.service.tags.tag_resource(unquote(arn), _body(request).get("Tags") or {})
        return HttpResponse(204)

    def untag_resource(self, request: HttpRequest, arn: str) -> HttpResponse:
        self.service.tags.untag_resource(unquote(arn), request.query.get("tagKeys", []))
        return HttpResponse(204)

    # -- code signing configs (state in labkit.service.code_signing) -------------------------------------

    def create_code_signing_config(self, request: HttpRequest) -> HttpResponse:
        return _json(201, {"CodeSigningConfig": self.service.code_signing.create(_body(request)).to_wire()})

    def get_code_signing_config(self, request: HttpRequest, csc: str) -> HttpResponse:
        return _json(200, {"CodeSigningConfig": self.service.code_signing.get(unquote(csc)).to_wire()})

    def update_code_signing_config(self, request: HttpRequest, csc: str) -> HttpResponse:
        updated = self.service.code_signing.update(unquote(csc), _body(request))
        return _json(200, {"CodeSigningConfig": updated.to_wire()})

    def delete_code_signing_config(self, request: HttpRequest, csc: str) -> HttpResponse:
        self.service.code_signing.delete(unquote(csc))
        return HttpResponse(204)

    def list_code_signing_configs(self, request: HttpRequest) -> HttpResponse:
        page, marker = _page([config.to_wire() for config in self.service.code_signing.configs()], request)
        return _json(200, {"CodeSigningConfigs": page, **({"NextMarker": marker} if marker else {})})

    def list_functions_by_code_signing_config(self, request: HttpRequest, csc: str) -> HttpResponse:
        page, marker = _page(self.service.code_signing.functions(unquote(csc)), request)
        return _json(200, {"FunctionArns": page, **({"NextMarker": marker} if marker else {})})

    def put_function_code_signing_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        arn = _body(request)["CodeSigningConfigArn"]
        self.service.code_signing.put_function(name, arn)
        return _json(200, {"CodeSigningConfigArn": arn, "FunctionName": name})

    def get_function_code_signing_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        arn = self.service.code_signing.of_function(name)
        return _json(200, {} if arn is None else {"CodeSigningConfigArn": arn, "FunctionName": name})

    def delete_function_code_signing_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        self.service.code_signing.delete_function(self._name(fn))
        return HttpResponse(204)

    # -- recursion config (state in labkit.service.recursion) ---------------------------------------------

    def put_function_recursion_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        loop = self.service.recursion.put(self._name(fn), _body(request)["RecursiveLoop"])
        return _json(200, {"RecursiveLoop": loop})

    def get_function_recursion_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        return _json(200, {"RecursiveLoop": self.service.recursion.get(self._name(fn))})

    # -- function URLs (state in labkit.service.function_urls) -------------------------------------------

    def create_function_url_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        self._url_function(name, qualifier)
        spec = _body(request)
        config = self.service.function_urls.create(name, qualifier, spec).shape(invoke_mode="InvokeMode" in spec)
        config.pop("LastModifiedTime")
        return _json(201, config)

    def get_function_url_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        return _json(200, self.service.function_urls.get(*self._ref(request, fn)).shape())

    def update_function_url_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        spec = _body(request)
        name, qualifier = self._ref(request, fn)
        self._url_function(name, qualifier)
        updated = self.service.function_urls.update(name, qualifier, spec)
        return _json(200, updated.shape(invoke_mode="InvokeMode" in spec))

    def delete_function_url_config(self, request: HttpRequest, fn: str) -> HttpResponse:
        self.service.function_urls.delete(*self._ref(request, fn))
        return HttpResponse(204)

    def _url_function(self, name: str, qualifier: str | None) -> None:
        """Create, Update and ListFunctionUrlConfig(s) of a function or alias that does not exist: Lambda's answer."""
        try:
            self.service.model.resolve(name, qualifier)
        except ResourceNotFoundException:
            raise ResourceNotFoundException("Function does not exist") from None

    def list_function_url_configs(self, request: HttpRequest, fn: str) -> HttpResponse:
        name = self._name(fn)
        self._url_function(name, None)
        page, marker = _page([config.shape() for config in self.service.function_urls.list(name)], request)
        return _json(200, {"FunctionUrlConfigs": page, **({"NextMarker": marker} if marker else {})})

    # -- event source mappings ---------------------------------------------------------------------------

    def create_event_source_mapping(self, request: HttpRequest) -> HttpResponse:
        return _json(202, self.service.event_sources.create(_body(request)).to_wire())

    def get_event_source_mapping(self, request: HttpRequest, uuid: str) -> HttpResponse:
        return _json(200, self.service.event_sources.get(unquote(uuid)).to_wire())

    def update_event_source_mapping(self, request: HttpRequest, uuid: str) -> HttpResponse:
        return _json(202, self.service.event_sources.update(unquote(uuid), _body(request)).to_wire())

    def delete_event_source_mapping(self, request: HttpRequest, uuid: str) -> HttpResponse:
        return _json(202, self.service.event_sources.delete(unquote(uuid)).to_wire())

    def list_event_source_mappings(self, request: HttpRequest) -> HttpResponse:
        mappings = self.service.event_sources.list(_query(request, "EventSourceArn"), _query(request, "FunctionName"))
        page, marker = _page([m.to_wire() for m in mappings], request)
        return _json(200, {"EventSourceMappings": page, **({"NextMarker": marker} if marker else {})})

    # -- invoke --------------------------------------------------------------------------------------------

    def invoke(self, request: HttpRequest, fn: str) -> HttpResponse:
        name, qualifier = self._ref(request, fn)
        invocation_type = request.headers.get("x-amz-invocation-type") or "RequestResponse"
        payload = request.body
        if invocation_type == "RequestResponse":
            if len(payload) > limits.SYNC_REQUEST_MAX_BYTES:
                raise RequestTooLargeException(
                    f"Request must be smaller than {limits.SYNC_REQUEST_MAX_BYTES} bytes for the InvokeFunction operation"
                )
            _check_json(payload)
            result = self.service.invoke(name, qualifier, payload, _client_context(request))
            invocation = result.invocation
            headers = {
                "Content-Type": "application/json",
                "X-Amz-Executed-Version": result.executed_version,
                "x-amzn-RequestId": invocation.request_id,
            }
            body = invocation.payload
            if invocation.error is not None:
                headers["X-Amz-Function-Error"] = "Unhandled"
                body = body or json.dumps(invocation.error).encode()
            if request.headers.get("x-amz-log-type") == "Tail":
                headers["X-Amz-Log-Result"] = base64.b64encode(invocation.logs.encode()[-LOG_TAIL_BYTES:]).decode()
            return HttpResponse(200, body, headers)
        if invocation_type == "Event":
            if len(payload) > limits.ASYNC_REQUEST_MAX_BYTES:
                raise RequestTooLargeException(
                    f"Request must be smaller than {limits.ASYNC_REQUEST_MAX_BYTES} bytes for the InvokeFunction operation"
                )
            _check_json(payload)
            self.service.model.resolve_invocable(name, qualifier)  # a Pending function refuses Event invokes too
            request_id = self.service.invoke_async(name, qualifier, payload)
            return HttpResponse(202, b"", {"x-amzn-RequestId": request_id})
        if invocation_type == "DryRun":
            self.service.model.resolve(name, qualifier)
            return HttpResponse(204, b"", {"x-amzn-RequestId": str(uuid.uuid4())})
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )

    def invoke_async(self, request: HttpRequest, fn: str) -> HttpResponse:
        """InvokeAsync, the deprecated 2014 form of an Event invoke."""
        name, qualifier = parse_function_ref(unquote(fn))
        _check_json(request.body)
        request_id = self.service.invoke_async(name, qualifier, request.body)
        return HttpResponse(202, b'{"Status": 202}', {"Content-Type": "application/json", "x-amzn-RequestId": request_id})

    # -- helpers -------------------------------------------------------------------------------------------

    def _ref(self, request: HttpRequest, fn: str) -> tuple[str, str | None]:
        return parse_function_ref(unquote(fn), _query(request, "Qualifier"))

    def _name(self, fn: str) -> str:
        name, _qualifier = parse_function_ref(unquote(fn))
        return name

    def _arn_for(self, config: VersionConfig, alias: Alias | None = None) -> str:
        if alias is not None:
            return function_arn(config.function_name, alias.name)
        return config.arn

    def _layer_location(self, layer: LayerVersion) -> str:
        base = (self.service.endpoint_url or "").rstrip("/")
        return f"{base}/2018-10-31/layers/{quote(layer.name)}/versions/{layer.version}/package"

    def _package_location(self, config: VersionConfig) -> str:
        base = (self.service.endpoint_url or "").rstrip("/")
        return f"{base}/2015-03-31/functions/{quote(config.function_name)}/package?Qualifier={quote(config.version)}"


# --------------------------------------------------------------------------- shapes


def function_configuration(config: VersionConfig, arn: str) -> dict[str, Any]:
    """FunctionConfiguration, as GetFunctionConfiguration returns it."""
    out: dict[str, Any] = {
        "FunctionName": config.function_name,
        "FunctionArn": arn,
        "Runtime": config.runtime,
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code.size,
        "Description": config.description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": config.last_modified,
        "CodeSha256": config.code.sha256,
        "Version": config.version,
        "TracingConfig": {"Mode": config.tracing_mode},
        "RevisionId": config.revision_id,
        **_state_fields(config),
        "PackageType": "Zip",
        "Architectures": list(config.architectures),
        "EphemeralStorage": {"Size": config.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "RuntimeVersionConfig": {"RuntimeVersionArn": runtime_version_arn(config.runtime)},
        "LoggingConfig": {"LogFormat": config.log_format, "LogGroup": config.log_group or f"/aws/lambda/{config.function_name}"},
    }
    if config.log_format == "JSON":
        out["LoggingConfig"]["ApplicationLogLevel"] = config.application_log_level or "INFO"
        out["LoggingConfig"]["SystemLogLevel"] = config.system_log_level or "INFO"
    if config.environment or config.environment_sent:
        out["Environment"] = {"Variables": dict(config.environment)}
    if config.dead_letter_arn:
        out["DeadLetterConfig"] = {"TargetArn": config.dead_letter_arn}
    if config.layers:
        out["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in config.layers]
    return out


def _state_fields(config: VersionConfig) -> dict[str, str]:
    """State and LastUpdateStatus with their reasons, as AWS reports them during and after a transition."""
    if config.transition == CREATING:
        return {"State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating"}
    if config.transition == UPDATING:
        return {
            "State": "Active", "LastUpdateStatus": "InProgress",
            "LastUpdateStatusReason": "The function is being created.", "LastUpdateStatusReasonCode": "Creating",
        }
    return {"State": "Active", "LastUpdateStatus": "Successful"}


LIST_ITEM_OMITS = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
                   "LastUpdateStatusReasonCode", "RuntimeVersionConfig")
"""What ListFunctions and ListVersionsByFunction leave out of each FunctionConfiguration (AWS's recorded answers)."""


def list_item(config: VersionConfig, arn: str) -> dict[str, Any]:
    """A FunctionConfiguration as the list operations return it."""
    out = function_configuration(config, arn)
    for key in LIST_ITEM_OMITS:
        out.pop(key, None)
    return out


@functools.lru_cache(maxsize=None)
def runtime_version_arn(runtime: str) -> str:
    """The runtime version a function runs on (automatic updates: one per runtime here), named as AWS
    names one: ``arn:aws:lambda:<region>::runtime:<64 hex digits>``."""
    digest = hashlib.sha256(f"labkit {runtime}".encode()).hexdigest()
    return f"arn:aws:lambda:{limits.DEFAULT_REGION}::runtime:{digest}"


def alias_configuration(function_name: str, alias: Alias) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AliasArn": function_arn(function_name, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
    return out


def provisioned_configuration(config: ProvisionedConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": config.allocated,
        "AllocatedProvisionedConcurrentExecutions": config.allocated,
        "Status": config.status,
        "LastModified": config.last_modified,
    }
    if config.status_reason:
        out["StatusReason"] = config.status_reason
    return out


def event_invoke_configuration(function_name: str, config: EventInvokeConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "LastModified": config.last_modified,
        "FunctionArn": function_arn(function_name, config.qualifier),
        "DestinationConfig": {
            "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
            "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
        },
    }
    if config.maximum_retry_attempts is not None:
        out["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.maximum_event_age_s is not None:
        out["MaximumEventAgeInSeconds"] = config.maximum_event_age_s
    return out


# --------------------------------------------------------------------------- request helpers


def _json(status: int, value: Any) -> HttpResponse:
    return HttpResponse(status, json.dumps(value).encode(), {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())})


_LISTED_BY_QUERY = {"get_provisioned_concurrency_config": "ListProvisionedConcurrencyConfigs"}
"""Routes whose path is shared with a List operation, told apart by the query's ``List``."""


def _operation_name(route: str, request: HttpRequest) -> str:
    """The model's name of a route's operation (``create_function`` -> ``CreateFunction``)."""
    if route in _LISTED_BY_QUERY and "List" in request.query:
        return _LISTED_BY_QUERY[route]
    return "".join(part.capitalize() for part in route.split("_"))


@functools.lru_cache(maxsize=4096)
def _validate_invoke(path: str, qualifier: str | None, invocation_type: str | None, log_type: str | None) -> None:
    """An invoke's URI, query and headers checked once per distinct combination (the hot path)."""
    headers = {name: value for name, value in (("x-amz-invocation-type", invocation_type),
                                               ("x-amz-log-type", log_type)) if value is not None}
    validation.validate("Invoke", path, {"Qualifier": [qualifier]} if qualifier is not None else {}, headers, None)


def _body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        value = request.json_body
    except RecursionError:
        raise InvalidRequestContentException(NESTING_TOO_DEEP.format(prefix="")) from None
    except ValueError as exc:
        raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequestContentException("Could not parse request body into json: expected a JSON object")
    return value


def _query(request: HttpRequest, key: str) -> str | None:
    values = request.query.get(key)
    return values[0] if values else None


_DECODE_JSON = json.JSONDecoder().decode
NESTING_TOO_DEEP = ("Could not parse request body into json: {prefix}Document nesting depth exceeds the maximum allowed "
                    "(1000, from `StreamReadConstraints.getMaxNestingDepth()`)")
"""AWS's parser (Jackson) stops at 1,000 levels of nesting; Python's stops near there too."""


def _check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        _DECODE_JSON(payload.decode("utf-8"))
    except RecursionError:
        raise InvalidRequestContentException(NESTING_TOO_DEEP.format(prefix="Could not parse payload into json: ")) from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None


def _client_context(request: HttpRequest) -> dict[str, Any] | None:
    raw = request.headers.get("x-amz-client-context")
    if not raw:
        return None
    try:
        value = json.loads(base64.b64decode(raw))
    except ValueError:
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.")
    return value


def _versions(state: FunctionState) -> list[VersionConfig]:
    return [state.versions[key] for key in sorted(state.versions, key=int)]


def _page(items: list[Any], request: HttpRequest) -> tuple[list[Any], str | None]:
    """One page of a list: `Marker` is the index to start at, `MaxItems` the page size."""
    try:
        start = int(_query(request, "Marker") or 0)
        size = int(_query(request, "MaxItems") or DEFAULT_PAGE)
    except ValueError:
        raise InvalidParameterValueException("Marker and MaxItems must be whole numbers") from None
    if size < 1:
        raise InvalidParameterValueException("MaxItems must be at least 1")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
