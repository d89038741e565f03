"""`labkit.check(name, answer)`: runs an exercise's check, tells the learner kindly, records progress.

Exercises are declared in `labkit.course.exercises` (see `labkit.course.registry`); `exercise`,
`expect` and `CheckFailed` are importable from here for chapter modules.
"""
from __future__ import annotations

from typing import Any

from labkit.course.progress import ProgressStore
from labkit.course.registry import (
    REGISTRY,
    CheckFailed,
    UnknownExercise,
    exercise,
    expect,
)

__all__ = ["CheckFailed", "UnknownExercise", "check", "exercise", "expect"]


def check(name: str, answer: Any) -> None:
    """Check `answer` for exercise `name`: print a friendly line on success, raise `CheckFailed` with a hint otherwise."""
    found = REGISTRY.get(name)
    try:
        found.func(answer)
    except AssertionError as failure:
        ProgressStore().record(name, passed=False)
        raise CheckFailed(f"{name} — not yet: {failure or 'the answer is not right yet.'}") from None
    except Exception as error:
        ProgressStore().record(name, passed=False)
        raise CheckFailed(
            f"{name} — not yet: checking your answer raised {type(error).__name__}: {error}. "
            "Is it the kind of value the exercise asks for?"
        ) from error
    ProgressStore().record(name, passed=True)
    print(f"✅ {name} — passed. Nice!")
