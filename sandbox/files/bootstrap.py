"""Start the Python runtime as Lambda's managed runtime does.

Put the function's code and its layers first on sys.path (in Lambda's order: /var/task,
/opt/python/lib/pythonX.Y/site-packages, /opt/python), then hand over to awslambdaric, which
talks to the Runtime API named by AWS_LAMBDA_RUNTIME_API. The handler comes from _HANDLER
(set by /lambda-entrypoint.sh) or the first argument.
"""
import os
import site
import sys


def _front_dirs():
    version = "python%d.%d" % sys.version_info[:2]
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    return [task_root, "/opt/python/lib/%s/site-packages" % version, "/opt/python"]


def _set_path():
    front = _front_dirs()
    for folder in front:
        site.addsitedir(folder)  # also reads .pth files there, as Lambda does
    rest = []
    for entry in sys.path:
        if entry not in front and entry not in rest:
            rest.append(entry)
    sys.path[:] = front + rest


def main():
    handler = os.environ.get("_HANDLER") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not handler:
        sys.stderr.write("bootstrap: no handler: set _HANDLER or pass it as the first argument\n")
        sys.exit(142)
    _set_path()
    from awslambdaric.__main__ import main as run_runtime

    run_runtime([sys.argv[0], handler])


if __name__ == "__main__":
    main()
