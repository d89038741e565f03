"""Lambda's quotas and fixed numbers, from shared/FACTS.md (checked 2026-11-23): the one place they live in code."""
from __future__ import annotations

MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10_240
MB_PER_VCPU = 1_769
TIMEOUT_MIN_S = 1
TIMEOUT_MAX_S = 900
INIT_MAX_S = 10
EPHEMERAL_MIN_MB = 512
EPHEMERAL_MAX_MB = 10_240
ENV_VARS_MAX_BYTES = 4 * 1024
LAYERS_MAX = 5
SYNC_REQUEST_MAX_BYTES = 6 * 1024 * 1024  # "Request must be smaller than 6291456 bytes"
SYNC_RESPONSE_MAX_BYTES = 6_291_556  # the figure Lambda's Function.ResponseSizeTooLarge names
ASYNC_REQUEST_MAX_BYTES = 1024 * 1024
FILE_DESCRIPTORS_MAX = 1_024
PROCESSES_MAX = 1_024
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
