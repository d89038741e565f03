"""Exercise checks: the registry, `labkit.check`, chapter 00's exercises and the learner's work folder."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import labkit
from labkit.course import checks
from labkit.course.checks import CheckFailed, UnknownExercise, check, expect
from labkit.course.progress import ProgressStore
from labkit.course.registry import REGISTRY, Registry
from labkit.course.workspace import course_root, work_dir, write_handler
from labkit.errors import ConfigurationError, LabkitError


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LABKIT_WORK", raising=False)
    return tmp_path / "home"


@pytest.fixture()
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry of test exercises in place of the course's."""
    registry = Registry("labkit.course.exercises")
    monkeypatch.setattr(checks, "REGISTRY", registry)

    @registry.exercise("01.double", title="Double it")
    def double(answer: Any) -> None:
        expect(answer == 42, "double 21 again")

    @registry.exercise("01.assert", title="Plain assert")
    def plain(answer: Any) -> None:
        assert answer, "an assert's message is a hint too"

    @registry.exercise("01.broken", title="Raises")
    def broken(answer: Any) -> None:
        print(answer.missing_attribute)

    return registry


def invocation(**overrides: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {"result": {"greeting": "hi"}, "error": None, "report": SimpleNamespace(duration_ms=1.5)}
    return SimpleNamespace(**{**fields, **overrides})


def test_labkit_exports_check() -> None:
    assert labkit.check is check


def test_a_pass_prints_one_friendly_line_and_records_it(registry: Registry, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check("01.double", 42)
    assert capsys.readouterr().out == "✅ 01.double — passed. Nice!\n"
    entry = ProgressStore(home / "progress.json").load()["01.double"]
    assert entry.passed and entry.attempts == 1


def test_a_fail_raises_a_hint_and_records_the_attempt(registry: Registry, home: Path) -> None:
    with pytest.raises(CheckFailed) as failure:
        check("01.double", 41)
    assert str(failure.value) == "01.double — not yet: double 21 again"
    assert isinstance(failure.value, AssertionError) and isinstance(failure.value, LabkitError)
    assert failure.value._render_traceback_() == ["❌ 01.double — not yet: double 21 again"]
    entry = ProgressStore(home / "progress.json").load()["01.double"]
    assert not entry.passed and entry.attempts == 1


def test_a_plain_assert_in_a_check_is_a_hint(registry: Registry) -> None:
    with pytest.raises(CheckFailed, match="not yet: an assert's message is a hint too"):
        check("01.assert", 0)


def test_an_error_while_checking_becomes_a_failure_that_says_so(registry: Registry) -> None:
    with pytest.raises(CheckFailed, match="raised AttributeError") as failure:
        check("01.broken", 1)
    assert isinstance(failure.value.__cause__, AttributeError)


def test_unknown_names_list_close_ones(registry: Registry, home: Path) -> None:
    with pytest.raises(UnknownExercise, match="'01.double'") as error:
        check("01.doubel", 42)
    assert isinstance(error.value, LabkitError)
    assert not (home / "progress.json").exists()


def test_unknown_name_with_nothing_close(registry: Registry) -> None:
    with pytest.raises(UnknownExercise, match="there is no exercise called 'zz'") as error:
        check("zz", 1)
    assert "Did you mean" not in str(error.value)


@pytest.mark.parametrize("name", ["1.x", "01.Greet", "01-greet", "01."])
def test_exercise_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        Registry("labkit.course.exercises").exercise(name, title="x")


def test_an_exercise_declared_twice_is_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="declared twice"):
        registry.exercise("01.double", title="again")(lambda answer: None)


def test_the_course_registry_loads_every_chapter_module() -> None:
    names = [exercise.name for exercise in REGISTRY.all()]
    assert {"00.first-invoke", "00.work-dir"} <= set(names)
    assert names == sorted(names)
    assert REGISTRY.get("00.work-dir").chapter == "00"


def test_first_invoke_passes_with_an_invocation() -> None:
    check("00.first-invoke", invocation())


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda event: event, "pass the object that `fn.invoke"),
        (invocation(error={"errorType": "KeyError"}), "invocation failed \\(KeyError\\)"),
        (invocation(result=None), "returned nothing"),
        (invocation(report=None), "no REPORT figures"),
    ],
)
def test_first_invoke_hints(answer: Any, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        check("00.first-invoke", answer)


def test_work_dir_passes_with_a_handler_written_to_the_work_folder() -> None:
    check("00.work-dir", write_handler("00/app.py", "def handler(event, context):\n    return 1\n"))


@pytest.mark.parametrize(
    "source, hint",
    [
        ("def main(event, context):\n    pass\n", "no top-level function called `handler`"),
        ("def handler(event):\n    pass\n", "two arguments"),
        ("def handler(event, context)\n", "not valid Python \\(line 1\\)"),
    ],
)
def test_work_dir_hints_about_the_handler(source: str, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        check("00.work-dir", write_handler("00/app.py", source))


def test_work_dir_wants_the_file_in_the_work_folder(tmp_path: Path) -> None:
    elsewhere = write_handler(tmp_path / "elsewhere" / "app.py", "def handler(event, context):\n    pass\n")
    with pytest.raises(CheckFailed, match="not in your work folder"):
        check("00.work-dir", elsewhere)
    with pytest.raises(CheckFailed, match="no file at"):
        check("00.work-dir", tmp_path / "missing.py")


def test_work_dir_is_per_chapter_under_labkit_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    assert work_dir("02-lifecycle") == home / "work" / "02-lifecycle"
    monkeypatch.setenv("LABKIT_WORK", str(tmp_path / "work"))
    folder = work_dir("02")
    assert folder == tmp_path / "work" / "02" and folder.is_dir()


@pytest.mark.parametrize("chapter", ["../up", "", "a/b", ".hidden"])
def test_work_dir_refuses_names_that_are_not_chapters(chapter: str) -> None:
    with pytest.raises(ConfigurationError):
        work_dir(chapter)


def test_write_handler_dedents_and_adds_the_suffix(home: Path) -> None:
    path = write_handler("app", """
        def handler(event, context):
            return event
    """)
    assert path == home / "work" / "app.py"
    assert path.read_text() == "def handler(event, context):\n    return event\n"


def test_learner_files_never_go_inside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    root = course_root()
    assert root is not None
    monkeypatch.setenv("LABKIT_HOME", str(root / "home"))
    with pytest.raises(ConfigurationError, match="inside the course repository"):
        work_dir("00")
