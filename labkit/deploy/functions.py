"""AWS::Serverless::Function through the Lambda API: code, configuration, role, version, alias, and a safe release.

A redeploy updates the function in place: new code only when its SHA-256 changed, configuration
only when it differs, a new version (``AutoPublishAlias``) only when either changed. When the
alias already exists and points elsewhere, ``DeploymentPreference`` decides how traffic moves to
the new version (:mod:`labkit.deploy.releases`).
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from labkit.aws.waiters import wait_function_ready
from labkit.deploy.context import Context, error_code
from labkit.deploy.errors import TemplateError
from labkit.deploy.policies import LAMBDA_TRUST, expand
from labkit.deploy.releases import Release, traffic_plan
from labkit.deploy.resources import code_sha256, ensure_role, package
from labkit.service.clock import CLOCK, LessonClock

FUNCTION = "AWS::Serverless::Function"
HANDLED = {
    "FunctionName", "CodeUri", "InlineCode", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "Policies",
    "Role", "Layers", "AutoPublishAlias", "DeploymentPreference", "Events", "Description", "Architectures",
    "EphemeralStorage", "Tracing", "DeadLetterQueue", "ReservedConcurrentExecutions", "EventInvokeConfig",
    "LoggingConfig", "Tags",
}


@dataclass
class DeployedFunction:
    """What events and outputs need of a deployed function."""

    logical_id: str
    name: str
    arn: str
    target_arn: str  # what triggers invoke: the alias's ARN with AutoPublishAlias, else the function's
    version: str | None = None
    alias: str | None = None
    release: Release | None = None


def deploy_function(ctx: Context, logical_id: str, props: dict[str, Any], clock: LessonClock = CLOCK) -> DeployedFunction:
    where = f"{ctx.template.path}: {logical_id}"
    name = ctx.physical_name(logical_id, props.get("FunctionName"))
    lam = ctx.aws("lambda")
    code = _code(ctx, logical_id, props)
    config = _configuration(ctx, logical_id, name, props, where)
    try:
        current = lam.get_function(FunctionName=name)["Configuration"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        current = None
    if current is None:
        created = lam.create_function(FunctionName=name, Code=code, **config)
        arn, action = created["FunctionArn"], "created"
        wait_function_ready(lam, name)  # as CloudFormation does: the next step may invoke or publish
    else:
        arn, changed = current["FunctionArn"], []
        wait_function_ready(lam, name)
        if "ZipFile" not in code or current["CodeSha256"] != code_sha256(code["ZipFile"]):
            lam.update_function_code(FunctionName=name, **code)
            wait_function_ready(lam, name)
            changed.append("code")
        if _differs(current, config):
            lam.update_function_configuration(FunctionName=name, **config)
            wait_function_ready(lam, name)
            changed.append("configuration")
        action = "updated" if changed else "unchanged"
    _concurrency(lam, name, props)
    ctx.record(logical_id, FUNCTION, action, name)
    deployed = DeployedFunction(logical_id, name, arn, arn)
    if props.get("AutoPublishAlias"):
        _publish(ctx, deployed, str(props["AutoPublishAlias"]), props, clock)
    if props.get("EventInvokeConfig"):
        _event_invoke_config(lam, deployed, props["EventInvokeConfig"])
    return deployed


def _code(ctx: Context, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    if "InlineCode" in props:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            info = zipfile.ZipInfo("index.py", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, str(props["InlineCode"]))
        return {"ZipFile": buffer.getvalue()}
    return package(ctx, logical_id, props.get("CodeUri"), "CodeUri")


def _configuration(ctx: Context, logical_id: str, name: str, props: dict[str, Any], where: str) -> dict[str, Any]:
    for key in ("Handler", "Runtime"):
        if not props.get(key):
            raise TemplateError(f"{where} has no {key}: set it on the function or in Globals.Function")
    ignored = sorted(set(props) - HANDLED)
    if ignored:
        ctx.note(f"{logical_id}: properties not applied by labkit deploy: {', '.join(ignored)}")
    config: dict[str, Any] = {
        "Role": props.get("Role") or _role(ctx, logical_id, name, props, where),
        "Handler": props["Handler"],
        "Runtime": props["Runtime"],
        "MemorySize": int(props.get("MemorySize", 128)),
        "Timeout": int(props.get("Timeout", 3)),
        "Description": str(props.get("Description", "")),
        "Environment": {"Variables": {k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}},
        "Layers": list(props.get("Layers") or []),
    }
    if "EphemeralStorage" in props:
        config["EphemeralStorage"] = {"Size": int(props["EphemeralStorage"]["Size"])}
    if "Tracing" in props:
        config["TracingConfig"] = {"Mode": props["Tracing"]}
    if "DeadLetterQueue" in props:
        config["DeadLetterConfig"] = {"TargetArn": props["DeadLetterQueue"]["TargetArn"]}
    if "LoggingConfig" in props:
        config["LoggingConfig"] = props["LoggingConfig"]
    return config


def _role(ctx: Context, logical_id: str, name: str, props: dict[str, Any], where: str) -> str:
    """SAM's implicit `<LogicalId>Role`: basic execution plus the function's Policies."""
    policies = expand(props.get("Policies"), where)
    inline = {f"{logical_id}Policy{i}": document for i, document in enumerate(policies.inline)}
    role_name = f"{name}-role"[:64]
    arn, action = ensure_role(ctx, role_name, LAMBDA_TRUST, policies.managed, inline)
    ctx.record(f"{logical_id}Role", "AWS::IAM::Role", action, role_name)
    ctx.scope.refs[f"{logical_id}Role"] = role_name
    ctx.scope.attributes[f"{logical_id}Role"] = {"Arn": arn}
    return arn


def _differs(current: dict[str, Any], config: dict[str, Any]) -> bool:
    for key, wanted in config.items():
        have = current.get(key)
        if key == "Environment":
            have = {"Variables": (have or {}).get("Variables") or {}}
        elif key == "Layers":
            have = [layer["Arn"] for layer in have or []]
        elif key == "Description":
            have = have or ""
        if have != wanted:
            return True
    return False


def _concurrency(lam: Any, name: str, props: dict[str, Any]) -> None:
    if "ReservedConcurrentExecutions" in props:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"]))


def _publish(ctx: Context, fn: DeployedFunction, alias: str, props: dict[str, Any], clock: LessonClock) -> None:
    """AutoPublishAlias: publish a version (Lambda returns the last one when nothing changed) and move the alias."""
    lam = ctx.aws("lambda")
    version = lam.publish_version(FunctionName=fn.name)["Version"]
    fn.version, fn.alias = version, alias
    fn.target_arn = f"{fn.arn}:{alias}"
    ctx.scope.refs[f"{fn.logical_id}.Version"] = f"{fn.arn}:{version}"
    ctx.scope.refs[f"{fn.logical_id}.Alias"] = fn.target_arn
    try:
        old = lam.get_alias(FunctionName=fn.name, Name=alias)["FunctionVersion"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        lam.create_alias(FunctionName=fn.name, Name=alias, FunctionVersion=version)
        ctx.record(f"{fn.logical_id}/{alias}", "AWS::Lambda::Alias", "created", f"{fn.name}:{alias} -> version {version}",
                   physical_id=fn.target_arn)
        return
    if old == version:
        ctx.record(f"{fn.logical_id}/{alias}", "AWS::Lambda::Alias", "unchanged", f"{fn.name}:{alias} -> version {version}",
                   physical_id=fn.target_arn)
        return
    preference = props.get("DeploymentPreference") or {}
    kind = str(preference.get("Type", "AllAtOnce")) if preference.get("Enabled", True) not in (False, "false") else "AllAtOnce"
    traffic_plan(kind)  # an unknown type fails before traffic moves
    if preference.get("Hooks"):
        ctx.note(f"{fn.logical_id}: DeploymentPreference Hooks are not run by labkit deploy")
    alarms = [str(a) for a in preference.get("Alarms") or []]
    fn.release = Release(fn.name, alias, old, version, kind, alarms, lam, ctx.aws("cloudwatch"), clock=clock)
    ctx.record(f"{fn.logical_id}/{alias}", "AWS::Lambda::Alias", "updated",
               f"{fn.name}:{alias} version {old} -> {version}, {kind}" + (f", watching {', '.join(alarms)}" if alarms else ""),
               physical_id=fn.target_arn)


def _event_invoke_config(lam: Any, fn: DeployedFunction, spec: dict[str, Any]) -> None:
    request: dict[str, Any] = {"FunctionName": fn.name, "Qualifier": fn.alias or "$LATEST"}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in spec:
            request[key] = int(spec[key])
    destinations = spec.get("DestinationConfig") or {}
    if destinations:
        request["DestinationConfig"] = {
            key: {"Destination": value["Destination"]} for key, value in destinations.items() if value.get("Destination")
        }
    lam.put_function_event_invoke_config(**request)
