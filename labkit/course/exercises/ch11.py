"""Chapter 11, deployment: a SAM template for the quotes service, and a canary that rolls back on its alarm.

The template check deploys the learner's template into the local AWS (`labkit.aws.start()`) under a
stack name of its own, stores a quote in the table it made, and asks the API for it, so the
template must wire the table, the function's role, its HttpApi route and its Outputs, as on AWS.
"""
from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from labkit.course.checks import exercise, expect

QUOTE = {"id": "q-7", "text": "Simplicity is prerequisite for reliability.", "author": "Edsger W. Dijkstra"}


def _template_path(answer: Any) -> Path:
    expect(isinstance(answer, (str, Path)), "pass the path of your template file, e.g. CODE / 'quotes' / 'template.yaml'.")
    path = Path(answer)
    expect(path.is_file(), f"{path} does not exist: write the template with %%writefile first.")
    return path


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@exercise("11.sam-deploy", title="Deploy the quotes service from a SAM template")
def deploy_template(answer: Any) -> None:
    """`answer`: the path of a SAM template: a Quotes table, a function reading it, GET /quotes/{id} on an
    HTTP API, alias `live`, and an Output `QuoteUrl` ending in /quotes."""
    from labkit.aws import start
    from labkit.deploy import DeployError, deploy

    path = _template_path(answer)
    aws = start()
    stack = f"check11-{uuid.uuid4().hex[:6]}"
    try:
        result = deploy(path, local=aws, stack_name=stack)
    except DeployError as error:
        expect(False, f"the template does not deploy yet:\n{error}")
    functions = list(result.functions.values())
    expect(len(functions) == 1, f"the template should hold one AWS::Serverless::Function, not {len(functions)}.")
    fn = functions[0]
    expect(fn.alias == "live", "publish the function behind an alias named live: AutoPublishAlias: live.")
    routes = [step.detail for step in result.steps if step.kind == "HttpApi"]
    expect(any(detail.startswith("GET /quotes/{id}") for detail in routes),
           f"the function needs an HttpApi event with Path /quotes/{{id}} and Method GET (routes found: {routes}).")
    url = result.outputs.get("QuoteUrl")
    expect(isinstance(url, str) and url.rstrip("/").endswith("/quotes"),
           f"add an Output QuoteUrl: !Sub https://${{ServerlessHttpApi}}.execute-api.${{AWS::Region}}.amazonaws.com/quotes "
           f"(Outputs are {result.outputs}).")
    tables = [step.detail for step in result.steps if step.kind == "AWS::DynamoDB::Table"]
    expect(len(tables) == 1, "the template should make one AWS::DynamoDB::Table (key attribute id, a string).")
    lam = aws.client("lambda")
    variables = lam.get_function_configuration(FunctionName=fn.name).get("Environment", {}).get("Variables", {})
    expect(variables.get("TABLE") == tables[0], f"give the function the table's name: Environment Variables TABLE: !Ref "
           f"<the table> (it has {variables}).")
    aws.client("dynamodb").put_item(TableName=tables[0], Item={key: {"S": value} for key, value in QUOTE.items()})
    status, body = _get(f"{url.rstrip('/')}/{QUOTE['id']}")
    expect(status != 502 or "AccessDenied" not in str(body), "the function may not read the table: add the policy "
           "template DynamoDBReadPolicy with the table's name to its Policies.")
    expect(status == 200, f"GET {url}/{QUOTE['id']} answered {status} {body!r}: the function failed; read its error "
           "with lam.invoke on the alias, and check its role's Policies (DynamoDBReadPolicy).")
    expect(isinstance(body, dict) and body.get("text") == QUOTE["text"], f"the API answered {body!r}, not the quote stored "
           "in the table.")
    with contextlib.suppress(Exception):  # clean-up only: the check's verdict stands
        lam.delete_function(FunctionName=fn.name)


@exercise("11.rollback", title="A canary that rolls back on its alarm")
def canary_rollback(answer: Any) -> None:
    """`answer`: the Release of a canary (result.releases[...]) that an alarm rolled back."""
    from labkit.aws import start
    from labkit.deploy.releases import IN_PROGRESS, ROLLED_BACK, SUCCEEDED, Release

    expect(isinstance(answer, Release), "pass the release itself: result.releases['<the function's logical id>'].")
    expect(answer.status != IN_PROGRESS, "the release is still shifting traffic: call result.wait() first.")
    expect(answer.kind.startswith(("Canary", "Linear")),
           f"the release was {answer.kind}: use a gradual DeploymentPreference Type such as Canary10Percent5Minutes.")
    expect(answer.alarms, "the DeploymentPreference watches no alarm: list one under Alarms (!Ref your alarm).")
    expect(answer.status != SUCCEEDED, "the canary succeeded: nothing set its alarm to ALARM while traffic was shifting.")
    expect(answer.status == ROLLED_BACK and answer.alarm in answer.alarms,
           f"the release ended as {answer.status} without one of its alarms firing.")
    weights = [weight for _, weight in answer.history]
    expect(len(weights) >= 2 and 0 < weights[0] < 1,
           "the alarm fired before any traffic reached the new version: let the canary start (wait until the alias "
           "has a RoutingConfig), send requests, then react to their errors.")
    alias = start().client("lambda").get_alias(FunctionName=answer.function_name, Name=answer.alias)
    expect(alias["FunctionVersion"] == answer.old_version and not alias.get("RoutingConfig", {}).get("AdditionalVersionWeights"),
           f"the alias {answer.alias} should be back on version {answer.old_version} alone, but it is {alias['FunctionVersion']} "
           f"with {alias.get('RoutingConfig')}.")
