"""The `labkit` command: argument parsing only, each sub-command a thin call into the library."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from labkit.errors import LabkitError

Command = Callable[[argparse.Namespace], int]


def _cmd_invoke(args: argparse.Namespace) -> int:
    from labkit.runtime.cli_invoke import run_invoke

    return run_invoke(args)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from labkit.runtime.doctor import print_doctor

    return print_doctor()


def _cmd_clean(args: argparse.Namespace) -> int:
    from labkit.runtime.cleanup import clean_all

    return clean_all(verbose=True)


def _cmd_image(args: argparse.Namespace) -> int:
    from labkit.runtime.image import build_image

    build_image(force=args.force)
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    from labkit.course.release import release

    return release(args.solutions, args.notebooks, check=args.check)


def _cmd_grade(args: argparse.Namespace) -> int:
    from labkit.course.grade import grade
    from labkit.course.seal import SealLimits

    defaults = SealLimits()
    limits = SealLimits(memory_mb=args.memory or defaults.memory_mb, processes=args.processes or defaults.processes)
    return grade(args.submissions, out=args.out, timeout_s=args.timeout, jobs=args.jobs, limits=limits,
                 require_sealed=args.require_sealed)


def _cmd_serve(args: argparse.Namespace) -> int:
    from labkit.aws.local import run_server
    from labkit.service.clock import CLOCK

    CLOCK.speed(args.clock_speed)
    return run_server(port=args.port, host=args.host, backend=args.backend)


def _clock_speed(text: str) -> float:
    try:
        factor = float(text)
    except ValueError:
        factor = 0.0
    if not factor > 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a clock speed: give a positive number (1 is real time, 60 makes a lesson minute last a second)"
        )
    return factor


def _cmd_deploy(args: argparse.Namespace) -> int:
    from labkit.deploy.deployer import deploy, outputs_json

    result = deploy(args.template, endpoint_url=_endpoint(args), log=print)
    print("Outputs:" if result.outputs else "Outputs: none")
    for line in result.output_lines():
        print(f"  {line}")
    if args.json:
        print(outputs_json(result))
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from labkit.deploy.deployer import delete_stack

    steps = delete_stack(args.template, stack_name=args.stack_name, endpoint_url=_endpoint(args), log=print)
    return 1 if any(step.action == "failed" for step in steps) else 0


def _endpoint(args: argparse.Namespace) -> str | None:
    return args.endpoint or os.environ.get("AWS_ENDPOINT_URL") or None


def _cmd_lab(args: argparse.Namespace) -> int:
    from labkit.course.lab import start_lab

    return start_lab(port=args.port, open_browser=not args.no_browser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Learn AWS Lambda by doing it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    invoke = sub.add_parser("invoke", help="run a handler once (or --repeat N times) and print what Lambda would")
    invoke.add_argument("handler", help="module.function, e.g. app.handler")
    invoke.add_argument("--code", default=".", help="folder holding the handler's code (default: .)")
    invoke.add_argument("--event", default="{}", help="the event: JSON text, or @FILE to read it from a file")
    invoke.add_argument("--memory", type=int, default=128, metavar="MB")
    invoke.add_argument("--timeout", type=float, default=3, metavar="S")
    invoke.add_argument("--env", action="append", default=[], metavar="K=V")
    invoke.add_argument("--backend", choices=["process", "docker", "auto"], default="process")
    invoke.add_argument("--repeat", type=int, default=1, metavar="N")
    invoke.add_argument("--json", action="store_true", help="one JSON object per invocation, one a line")
    invoke.set_defaults(func=_cmd_invoke)

    serve = sub.add_parser("serve", help="a local AWS on one port: the Lambda API plus the embedded AWS, for boto3")
    serve.add_argument("--port", type=int, default=9001, help="port to listen on, 0 for any free one (default: 9001)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--backend", choices=["process", "docker", "auto"], default="process",
                       help="where the Lambda service runs functions (default: process)")
    serve.add_argument("--clock-speed", type=_clock_speed, default=1.0, metavar="X",
                       help="lesson seconds per real second for the service's waits: retries, event age, function "
                            "states (default: 1, real time; 60 makes a minute last a second)")
    serve.set_defaults(func=_cmd_serve)

    deploy = sub.add_parser("deploy", help="deploy a SAM template into the local AWS (through boto3)")
    deploy.add_argument("template", help="the SAM template, e.g. template.yaml")
    deploy.add_argument("--endpoint", default=None, metavar="URL",
                        help="the local AWS (`labkit serve`'s URL; default: $AWS_ENDPOINT_URL, else one started for this run)")
    deploy.add_argument("--json", action="store_true", help="print the outputs as one JSON object on the last line")
    deploy.set_defaults(func=_cmd_deploy)

    delete = sub.add_parser("delete", help="delete a deployed stack: everything `labkit deploy` made for it (as `sam delete`)")
    delete.add_argument("template", nargs="?", default=None, help="the template deployed (its folder names the stack)")
    delete.add_argument("--stack-name", default=None, metavar="NAME", help="the stack to delete, instead of a template")
    delete.add_argument("--endpoint", default=None, metavar="URL",
                        help="the local AWS (`labkit serve`'s URL; default: $AWS_ENDPOINT_URL, else one started for this run)")
    delete.set_defaults(func=_cmd_delete)

    sub.add_parser("doctor", help="what is installed and which backend runs").set_defaults(func=_cmd_doctor)
    sub.add_parser("clean", help="remove what a killed kernel left behind").set_defaults(func=_cmd_clean)

    image = sub.add_parser("image", help="the docker backend's image")
    image_sub = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    build = image_sub.add_parser("build", help="build the sandbox image (cached)")
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.set_defaults(func=_cmd_image)

    release = sub.add_parser("release", help="write notebooks/ from solutions/")
    release.add_argument("--check", action="store_true", help="fail when notebooks/ is out of date")
    release.add_argument("--solutions", default="solutions")
    release.add_argument("--notebooks", default="notebooks")
    release.set_defaults(func=_cmd_release)

    grade = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    grade.add_argument("submissions")
    grade.add_argument("--out", default=None, help="write the table as CSV here")
    grade.add_argument("--timeout", type=float, default=600, metavar="S", help="time limit per notebook")
    grade.add_argument("--jobs", type=int, default=None, metavar="N", help="notebooks graded at a time (default: one per CPU, at most 4)")
    grade.add_argument("--memory", type=int, default=None, metavar="MB",
                       help="memory of each sealed notebook run, all its processes together (default: 4096)")
    grade.add_argument("--processes", type=int, default=None, metavar="N",
                       help="processes and threads of each sealed notebook run (default: 2048)")
    grade.add_argument("--require-sealed", action="store_true",
                       help="fail instead of grading unsealed where submissions cannot be sealed (no usable bubblewrap)")
    grade.set_defaults(func=_cmd_grade)

    lab = sub.add_parser("lab", help="start JupyterLab on the course")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(func=_cmd_lab)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
