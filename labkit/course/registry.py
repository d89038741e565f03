"""The catalogue of exercises: each one a named check function living in `labkit.course.exercises`.

A chapter's module (`labkit/course/exercises/chNN.py`) declares its exercises with
`@exercise("NN.slug", title=...)`; a check function takes the learner's answer and calls
`expect(condition, hint)` (or raises `CheckFailed`) when the answer is not right yet.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import LabkitError

CheckFunction = Callable[[Any], None]
_NAME = re.compile(r"^(?P<chapter>\d{2})\.[a-z0-9][a-z0-9-]*$")


class CheckFailed(AssertionError, LabkitError):
    """The learner's answer does not pass an exercise's check; the message is a hint, not the answer."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the hint is what matters to the learner."""
        return [f"❌ {self}"]


class UnknownExercise(LabkitError, LookupError):
    """`labkit.check` was called with a name no chapter declares."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: its name (`NN.slug`), a title and the function that checks an answer."""

    name: str
    title: str
    func: CheckFunction = field(compare=False, repr=False)

    @property
    def chapter(self) -> str:
        return self.name.split(".", 1)[0]


def expect(condition: object, hint: str) -> None:
    """Fail the current check with `hint` unless `condition` holds."""
    if not condition:
        raise CheckFailed(hint)


class Registry:
    """Exercises by name, loaded on first use from every module of one package."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._exercises: dict[str, Exercise] = {}
        self._loaded = False

    def exercise(self, name: str, *, title: str) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator declaring `func` as the check of exercise `name`."""
        if not _NAME.match(name):
            raise ValueError(f"exercise name {name!r} must look like '02.cold-vs-warm' (chapter number, dot, slug)")

        def register(func: CheckFunction) -> CheckFunction:
            known = self._exercises.get(name)
            if known is not None and known.func.__qualname__ != func.__qualname__:
                raise ValueError(f"exercise {name!r} is declared twice: {known.func.__qualname__} and {func.__qualname__}")
            self._exercises[name] = Exercise(name=name, title=title, func=func)
            return func

        return register

    def _load(self) -> None:
        if self._loaded:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self.package}.{module.name}")
        self._loaded = True

    def all(self) -> list[Exercise]:
        """Every declared exercise, sorted by name."""
        self._load()
        return sorted(self._exercises.values(), key=lambda exercise: exercise.name)

    def get(self, name: str) -> Exercise:
        """The exercise called `name`, or `UnknownExercise` naming the closest ones."""
        self._load()
        found = self._exercises.get(name)
        if found is not None:
            return found
        close = difflib.get_close_matches(name, self._exercises, n=3, cutoff=0.5)
        chapter = sorted(known for known in self._exercises if known.split(".")[0] == name.split(".")[0])
        suggestions = close or chapter
        hint = f" Did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        raise UnknownExercise(f"there is no exercise called {name!r}.{hint} Check the name in the notebook's check cell.")


REGISTRY = Registry("labkit.course.exercises")
exercise = REGISTRY.exercise
