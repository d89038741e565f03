"""Deployment packages: a function's ZIP unpacked once per distinct content, under the service's data folder.

``<data_dir>/<function>/<sha256>/`` holds the unpacked code a version runs from, and
``<sha256>.zip`` the package as uploaded (GetFunction's ``Code.Location``). Folders are keyed by
content, so a published version and $LATEST with the same code share one, and new code never
overwrites a folder a running environment uses.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from pathlib import Path, PurePosixPath

from labkit.service.exceptions import (
    InvalidParameterValueException,
    RequestEntityTooLargeException,
)
from labkit.service.models import CodeArtifact

ZIP_MAX_BYTES = 50 * 1024 * 1024  # shared/FACTS.md: 50 MB zipped for direct upload
UNZIPPED_MAX_BYTES = 250 * 1024 * 1024  # 250 MB unzipped


class CodeStore:
    """Unpacks and keeps deployment packages; one folder tree per function."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def store(self, function_name: str, package: bytes) -> CodeArtifact:
        """Unpack a ZIP package (once per content) and describe it as Lambda does."""
        if len(package) > ZIP_MAX_BYTES:
            raise RequestEntityTooLargeException(
                f"Zipped size must be smaller than {ZIP_MAX_BYTES} bytes for direct upload: upload the package to S3 "
                "and pass Code.S3Bucket and Code.S3Key"
            )
        digest = hashlib.sha256(package).digest()
        key = digest.hex()[:32]
        folder = self.root / function_name / key
        zip_path = self.root / function_name / f"{key}.zip"
        with self._lock:
            if not folder.is_dir():
                _unpack(package, folder)
                zip_path.write_bytes(package)
        return CodeArtifact(folder, base64.b64encode(digest).decode(), len(package), zip_path)

    def remove(self, function_name: str) -> None:
        """Delete every package of a deleted function."""
        with self._lock:
            shutil.rmtree(self.root / function_name, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _unpack(package: bytes, folder: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    total = sum(member.file_size for member in members)
    if total > UNZIPPED_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {UNZIPPED_MAX_BYTES} bytes"
        )
    for member in members:
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts:
            raise InvalidParameterValueException(
                f"Could not unzip uploaded file: the entry {member.filename!r} points outside the package. "
                "Zip the folder's contents with relative paths"
            )
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder.parent))
    try:
        for member in members:
            target = partial / member.filename
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            mode = (member.external_attr >> 16) & 0o777
            os.chmod(target, 0o755 if mode & stat.S_IXUSR else 0o644)
        for folder_path, _dirs, _files in os.walk(partial):
            os.chmod(folder_path, 0o755)
        partial.rename(folder)
    except zipfile.BadZipFile:
        shutil.rmtree(partial, ignore_errors=True)
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def zip_folder(folder: str | Path) -> bytes:
    """A folder's files as a ZIP package (what `zip -r` would upload); handy in lessons and tests."""
    root = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
