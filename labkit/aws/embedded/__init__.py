"""The embedded AWS: the only labkit code that imports moto.

Everything else in labkit talks to moto through the small typed interfaces of these modules:

* :mod:`~labkit.aws.embedded.app`: moto's server as a WSGI application, and resetting its state;
* :mod:`~labkit.aws.embedded.requests`: an AWS API request read as moto reads it (operation, parameters);
* :mod:`~labkit.aws.embedded.iam`: the local IAM's roles and Secrets Manager's secret ARNs;
* :mod:`~labkit.aws.embedded.cloudwatch`: log events and metric data written straight into the backends;
* :mod:`~labkit.aws.embedded.patterns`: EventBridge's event-pattern matcher;
* :mod:`~labkit.aws.embedded.hooks`: S3, SNS and EventBridge deliveries to Lambda handed to labkit.

moto internals used, each checked against moto 5.2.5 and 5.2.6 (``pyproject.toml`` bounds moto to
those releases; ``make test-latest`` runs the suite on the newest one):

* ``moto.server.DomainDispatcherApplication``, ``create_backend_app``; ``moto.core.DEFAULT_ACCOUNT_ID``;
  ``moto.core.request.PRESERVED_HEADER_NAMES_ENVIRON_KEY`` (5.2.5 and newer);
  ``moto.moto_api._internal.moto_api_backend.reset()``;
* ``moto.core.request.Request.from_primitives``, ``determine_request_protocol`` (its second
  parameter is the content type up to 5.2.5 and the request from 5.2.6: both are handled),
  ``moto.core.routing.get_service_router`` / ``NotFound`` (5.2.5 and newer),
  ``moto.core.parse.PROTOCOL_PARSERS``, ``moto.core.utils.get_service_model``;
* ``moto.iam.models.iam_backends`` (``get_role``; a role's ``id``, ``policies``,
  ``managed_policies`` with their ``versions``, ``tags``, ``assume_role_policy_document``);
  ``moto.secretsmanager.models.secretsmanager_backends`` (a secret's ``arn``);
* ``moto.logs.models.logs_backends`` (``create_log_group``, ``create_log_stream``,
  ``put_log_events``) with ``moto.logs.exceptions``; ``moto.cloudwatch.models.cloudwatch_backends``
  (``put_metric_data``);
* ``moto.events.models.EventPattern`` (``load``, ``dump``, ``matches_event``) and
  ``moto.events.exceptions.InvalidEventPatternException``;
* patched: ``moto.s3.notifications._get_s3_event`` / ``_invoke_awslambda``,
  ``moto.s3.models.S3Backend.put_bucket_notification_configuration`` (raising
  ``moto.s3.exceptions.InvalidArgumentError``), ``moto.sns.models.Subscription.publish``,
  ``moto.events.models.Rule.send_to_targets`` and ``EventsBackend.put_rule`` (raising its
  ``ValidationException``); read: ``moto.events.models.events_backends`` (buses and rules).
"""
from __future__ import annotations
