"""`deploy(template)`: validate with cfn-lint, check every type is supported, deploy in dependency order, resolve Outputs."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, ParamValidationError

from labkit.deploy.apis import local_url
from labkit.deploy.context import Context, Step
from labkit.deploy.errors import DeployError, TemplateError, UnsupportedError
from labkit.deploy.events import EVENTS
from labkit.deploy.functions import FUNCTION, DeployedFunction, deploy_function
from labkit.deploy.intrinsics import references
from labkit.deploy.lint import LintMessage, lint
from labkit.deploy.releases import Release
from labkit.deploy.resources import PLAIN_RESOURCES
from labkit.deploy.stacks import delete_resources, read_record, write_record
from labkit.deploy.template import Template, default_stack_name, load
from labkit.service.clock import CLOCK, LessonClock

if TYPE_CHECKING:
    from labkit.aws.local import LocalAws
    from labkit.service.lambda_service import LambdaService

SUPPORTED_TYPES = (FUNCTION, *PLAIN_RESOURCES)


@dataclass
class DeployResult:
    """What a deployment did: its steps, cfn-lint's remarks, notes, releases, and the resolved Outputs."""

    stack_name: str
    outputs: dict[str, Any]
    steps: list[Step]
    lint: list[LintMessage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    functions: dict[str, DeployedFunction] = field(default_factory=dict)
    releases: dict[str, Release] = field(default_factory=dict)  # by function logical id

    def wait(self, timeout: float | None = None) -> DeployResult:
        """Block until every release has ended (started with ``wait=False``)."""
        for release in self.releases.values():
            release.wait(timeout)
        return self

    def output_lines(self) -> list[str]:
        return [f"{key} = {value}" for key, value in self.outputs.items()]


def deploy(
    template: str | Path,
    *,
    endpoint_url: str | None = None,
    local: LocalAws | None = None,
    stack_name: str | None = None,
    parameters: dict[str, Any] | None = None,
    wait: bool = True,
    clock: LessonClock | None = None,
    log: Callable[[str], None] | None = None,
) -> DeployResult:
    """Deploy a SAM template into the local AWS through boto3; redeploying updates in place.

    Parameters
    ----------
    template
        The template file (YAML or JSON); CodeUri / ContentUri folders are relative to it.
    endpoint_url
        The local AWS's endpoint (default: the process-wide one, `labkit.aws.start()`).
    local
        Or the local AWS itself (a `labkit.aws.LocalAws` of this process).
    stack_name
        Prefix of generated names (default: the template folder's name).
    parameters
        Values for the template's Parameters (others take their Default).
    wait
        With a DeploymentPreference, block until traffic has shifted (or rolled back); with False,
        the releases run in the background: ``result.wait()``.
    clock
        The lesson clock traffic shifts run on (default: ``labkit.clock``'s).
    log
        Called with each line of progress (default: silent).
    """
    say = log or (lambda line: None)
    path = Path(template)
    messages = lint(path) if path.is_file() else []
    errors = [m for m in messages if m.is_error]
    for message in messages:
        say(str(message))
    if errors:
        raise TemplateError(
            f"cfn-lint found {len(errors)} error(s) in {path}; nothing was deployed:\n" + "\n".join(str(m) for m in errors)
        )
    parsed = load(path, stack_name, parameters)
    check_supported(parsed)
    client, local = connect(endpoint_url, local)
    ctx = Context(parsed, client, say, service=in_process_service(local))
    ctx.scope.parameters.update(parsed.parameters)
    say(f"Deploying {path} as stack {parsed.stack_name}")
    previous = read_record(ctx.aws, parsed.stack_name)
    try:
        functions = deploy_resources(ctx, clock or CLOCK)
        releases = shift_traffic(functions, wait, say)
    except Exception:
        write_record(ctx.aws, parsed.stack_name, {**previous, **ctx.resources})  # what failed keeps what it made
        raise
    removed = {logical_id: resource for logical_id, resource in previous.items() if logical_id not in ctx.resources}
    kept = delete_resources(ctx.aws, ctx.record, removed)
    write_record(ctx.aws, parsed.stack_name, {**ctx.resources, **kept})
    outputs = {key: local_url(ctx.scope.resolve(spec.get("Value"))) for key, spec in parsed.outputs.items()}
    return DeployResult(parsed.stack_name, outputs, ctx.steps, messages, ctx.notes, functions, releases)


def delete_stack(
    template: str | Path | None = None,
    *,
    stack_name: str | None = None,
    endpoint_url: str | None = None,
    local: LocalAws | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Step]:
    """Delete everything a stack's deploys made (as `sam delete` does); returns the steps.

    The stack is `stack_name`, else the one `deploy(template)` makes (the template folder's name).
    A bucket that still holds objects is kept and reported (``failed``); deleting again after
    emptying it finishes the job.
    """
    if stack_name is None:
        if template is None:
            raise TemplateError("say which stack to delete: give its template (the folder names the stack) or stack_name=")
        stack_name = default_stack_name(Path(template))
    say = log or (lambda line: None)
    aws, _local = connect(endpoint_url, local)
    steps: list[Step] = []

    def record(resource: str, kind: str, action: str, detail: str = "") -> None:
        steps.append(Step(resource, kind, action, detail))
        say(str(steps[-1]))

    resources = read_record(aws, stack_name)
    say(f"Deleting stack {stack_name}" if resources else f"Stack {stack_name} has nothing deployed: nothing to delete")
    write_record(aws, stack_name, delete_resources(aws, record, resources))
    return steps


def connect(endpoint_url: str | None, local: LocalAws | None) -> tuple[Callable[[str], Any], LocalAws | None]:
    """boto3 clients of the local AWS, one per service (the given one, at `endpoint_url`, or the process-wide one)."""
    from labkit.aws import endpoint
    from labkit.aws.local import current, start

    if local is not None:
        endpoint_url = local.endpoint_url
    elif endpoint_url is None:
        local = start()
        endpoint_url = local.endpoint_url
    else:
        local = next((aws for aws in [current()] if aws is not None and aws.endpoint_url == endpoint_url.rstrip("/")), None)
    url = endpoint_url
    return functools.cache(lambda service: endpoint.client(service, endpoint_url=url)), local


def deploy_resources(ctx: Context, clock: LessonClock) -> dict[str, DeployedFunction]:
    """Create or update every resource of the template in dependency order; the functions by logical id."""
    parsed = ctx.template
    functions: dict[str, DeployedFunction] = {}
    for logical_id in deployment_order(parsed):
        resource = parsed.resources[logical_id]
        try:
            props = ctx.scope.resolve(resource.get("Properties") or {})
            if resource["Type"] == FUNCTION:
                events = props.pop("Events", None) or {}
                fn = deploy_function(ctx, logical_id, props, clock)
                functions[logical_id] = fn
                ctx.scope.refs[logical_id] = fn.name
                ctx.scope.attributes[logical_id] = {"Arn": fn.arn}
                for event_name, event in events.items():
                    EVENTS[event["Type"]](ctx, fn, event_name, event.get("Properties") or {})
            else:
                ref, attributes = PLAIN_RESOURCES[resource["Type"]](ctx, logical_id, props)
                ctx.scope.refs[logical_id] = ref
                ctx.scope.attributes[logical_id] = attributes
        except (ClientError, ParamValidationError) as exc:
            raise DeployError(
                f"{parsed.where(resource)}: {logical_id} ({resource['Type']}) failed, as CloudFormation would stop: {exc}\n"
                "Fix the resource's properties and deploy again (what was deployed before it stays)."
            ) from None
    return functions


def shift_traffic(functions: dict[str, DeployedFunction], wait: bool, say: Callable[[str], None]) -> dict[str, Release]:
    """Run (or, without `wait`, start) each function's release; the releases by function logical id."""
    releases = {fn.logical_id: fn.release for fn in functions.values() if fn.release is not None}
    for release in releases.values():
        if wait:
            say(f"Shifting traffic: {release.summary()}")
            release.run()
            if release.error is not None:
                raise DeployError(f"the release of {release.function_name}:{release.alias} failed and was rolled back: "
                                  f"{release.error}") from release.error
            say(f"  {release.summary()}")
        else:
            release.start()
    return releases


def in_process_service(local: LocalAws | None) -> LambdaService | None:
    """The Lambda service object behind a local AWS of this process (None when it is not labkit's)."""
    from labkit.service.lambda_service import LambdaService

    if local is None:
        return None
    app = local.lambda_app
    app = getattr(app, "app", app)  # a LazyServiceApp builds the service on first use
    return app if isinstance(app, LambdaService) else None


def check_supported(template: Template) -> None:
    """Name every resource type and event type the template uses that labkit deploy does not implement."""
    problems = []
    for logical_id, resource in template.resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind not in SUPPORTED_TYPES:
            problems.append(f"{template.where(resource)}: resource {logical_id} has type {kind}, which labkit deploy does not support")
            continue
        if kind == FUNCTION:
            for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
                if event.get("Type") not in EVENTS:
                    problems.append(
                        f"{template.where(event)}: event {event_name} of {logical_id} has type {event.get('Type')}, "
                        "which labkit deploy does not support"
                    )
        if resource.get("Condition"):
            problems.append(f"{template.where(resource)}: resource {logical_id} has a Condition; conditions are not supported")
    if problems:
        raise UnsupportedError(
            "\n".join(problems)
            + f"\nSupported resource types: {', '.join(SUPPORTED_TYPES)}.\nSupported event types: {', '.join(EVENTS)}."
        )


def deployment_order(template: Template) -> list[str]:
    """Logical ids so that every resource comes after those it refers to (Ref, GetAtt, Sub, DependsOn)."""
    resources = template.resources
    needs: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        named = {name.split(".", 1)[0] for name in references(resource.get("Properties") or {})}
        depends = resource.get("DependsOn") or []
        named |= set([depends] if isinstance(depends, str) else depends)
        needs[logical_id] = {name for name in named if name in resources and name != logical_id}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(resources):
        ready = [name for name in resources if name not in done and needs[name] <= done]
        if not ready:
            cycle = sorted(name for name in resources if name not in done)
            raise TemplateError(f"{template.path}: these resources refer to each other in a circle: {cycle}")
        for name in ready:
            order.append(name)
            done.add(name)
    return order


def outputs_json(result: DeployResult) -> str:
    """The outputs as one JSON object on one line (`labkit deploy --json`'s last line)."""
    return json.dumps(result.outputs, default=str)
