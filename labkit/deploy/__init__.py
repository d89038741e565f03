"""Deploy SAM templates into the local AWS through boto3, the way CloudFormation would on AWS.

`deploy("template.yaml")` validates the template with cfn-lint, checks every resource and event
type is supported (naming those that are not), creates or updates each resource in dependency
order with the same boto3 calls one makes on AWS (``create_function``, ``create_event_source_mapping``,
``put_bucket_notification_configuration``, ``sns.subscribe``, ``events.put_rule`` ...), shifts an
alias's traffic as ``DeploymentPreference`` says (canary, linear, all at once; rolled back on an
alarm), deletes what an earlier deploy of the stack made that the template no longer declares, and
returns the template's Outputs. Modules: `template` (reading, Globals, Parameters),
`lint`, `intrinsics`, `policies` (SAM policy templates), `resources`, `functions`, `events`,
`apis`, `releases`, `stacks` (the stack's record; deleting what a template no longer declares),
`deployer` (`deploy`, `delete_stack`).
"""
from __future__ import annotations

from labkit._lazy import lazy_getattr

_EXPORTS = {
    "deploy": "labkit.deploy.deployer",
    "delete_stack": "labkit.deploy.deployer",
    "DeployResult": "labkit.deploy.deployer",
    "Release": "labkit.deploy.releases",
    "TrafficStep": "labkit.deploy.releases",
    "traffic_plan": "labkit.deploy.releases",
    "DeployError": "labkit.deploy.errors",
    "TemplateError": "labkit.deploy.errors",
    "UnsupportedError": "labkit.deploy.errors",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr("labkit.deploy", _EXPORTS, globals())
