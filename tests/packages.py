"""Deployment packages for tests: a zip holding one handler module, as CreateFunction's ZipFile takes it."""
from __future__ import annotations

import io
import zipfile


def app_zip(source: str) -> bytes:
    """A zip archive with `source` as app.py (handler string "app.handler")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()
