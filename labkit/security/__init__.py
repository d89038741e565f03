"""Security on the local AWS: execution roles that are enforced, secrets kept out of code, logs without PII.

- `iam`: IAM policy evaluation (Allow / explicit Deny / implicit deny, wildcards, conditions).
- `conditions`: IAM's condition operators (String, Numeric, Date, Bool, Binary, IpAddress, Arn, Null, set operators).
- `patterns`: wildcards and policy variables (`${aws:username}`) in policy strings.
- `sessions`: an execution role's temporary credentials, as Lambda puts them in a function's environment.
- `actions`: the IAM action and resource ARNs of an AWS API request (botocore's service models).
- `roles`: execution roles in the local IAM: their policies, and whether Lambda may assume them.
- `enforce`: the local AWS endpoint's gate that answers AccessDenied as AWS does.
- `secrets`: warnings for environment variables that look like secrets.
- `redact`: a `logging.Filter` that masks secrets and personal data in log records (`redaction_layer()` for functions).
"""
