#!/bin/sh
# The image's entrypoint, as in Lambda's own base images: the handler is the one argument.
# With AWS_LAMBDA_RUNTIME_API set (labkit's Runtime API server), the runtime talks to it;
# without, the Runtime Interface Emulator serves on port 8080 and starts the runtime itself.
if [ $# -ne 1 ]; then
    echo "lambda-entrypoint.sh: expected one argument, the handler (e.g. app.handler)" >&2
    exit 142
fi
export _HANDLER="$1"

if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
