"""Ready-made layers for functions: folders laid out as Lambda unpacks a layer (``python/`` on ``sys.path``).

On AWS, Powertools for AWS Lambda (Python) comes as a public layer; here ``powertools_layer()``
builds the same layer once from the installed package (with the parser, tracer and validation
extras) and caches it, so a function uses it as it would on AWS:

>>> fn = labkit.Function("app.handler", code=CODE, layers=[powertools_layer()])   # doctest: +SKIP
"""
from __future__ import annotations

import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from labkit.errors import ConfigurationError
from labkit.paths import cache_dir
from labkit.runtime.distributions import top_level_paths

POWERTOOLS_DISTRIBUTIONS = ("aws-lambda-powertools", "pydantic", "aws-xray-sdk", "fastjsonschema")
RUNTIME_PROVIDED = ("boto3",)  # the AWS SDK comes with the runtime; layers leave it out


def powertools_layer() -> Path:
    """The Powertools layer's folder (built on first use, then cached under labkit's cache folder)."""
    try:
        version = metadata.version("aws-lambda-powertools")
    except metadata.PackageNotFoundError:
        raise ConfigurationError(
            "Powertools for AWS Lambda is not installed; install labkit's dependencies again "
            "(`make lab` or `pip install 'aws-lambda-powertools[parser,tracer,validation]'`)"
        ) from None
    target = cache_dir() / "layers" / f"powertools-{version}"
    if not target.is_dir():
        build_layer(target, POWERTOOLS_DISTRIBUTIONS)
    return target


def build_layer(target: Path, distributions: tuple[str, ...]) -> Path:
    """A layer at target holding the installed distributions and their dependencies under ``python/``,
    less what the runtime provides."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
    python_dir = partial / "python"
    python_dir.mkdir()
    for source in sorted(top_level_paths(distributions) - top_level_paths(RUNTIME_PROVIDED)):
        if source.is_dir():
            shutil.copytree(source, python_dir / source.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, python_dir / source.name)
    try:
        partial.rename(target)
    except OSError:  # built by another process meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    return target
