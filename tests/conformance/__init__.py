"""Conformance of labkit's Lambda API with answers AWS recorded (LocalStack's snapshot files).

cases/*.json     one file per area; each case: id, provenance, boto3 steps, AWS's recorded answer
runner.py        starts the local AWS in process, re-enacts a case, compares (compare.py)
handlers/        the small Python handlers the cases deploy (some keep a `raise` on the line
                 AWS's recorded stack trace points to)
known_differences.json, skipped.json, report.py, test_conformance.py: see their docstrings.
"""
