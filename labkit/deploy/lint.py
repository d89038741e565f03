"""Template validation with cfn-lint's Python API: its messages as records with file:line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.aws.embedded.app import REGION


@dataclass(frozen=True)
class LintMessage:
    """One cfn-lint finding."""

    rule: str  # e.g. E3012
    severity: str  # error, warning or informational
    path: str
    line: int
    column: int
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.rule} [{self.severity}] {self.message}"


def lint(template: Path) -> list[LintMessage]:
    """cfn-lint's findings on a template file (errors first, then by line)."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(Path(template), ManualArgs(regions=[REGION]))
    messages = [
        LintMessage(m.rule.id, str(m.rule.severity).lower(), str(m.filename or template), m.linenumber, m.columnnumber,
                    m.message)
        for m in matches
    ]
    return sorted(messages, key=lambda m: (not m.is_error, m.line, m.column))
