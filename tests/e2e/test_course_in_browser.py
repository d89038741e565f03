"""A learner's session in JupyterLab, in a real browser.

Chapter 01: the learner types each exercise's solution into its cell, runs all cells, and sees
every check pass, the figure render and the progress table count the chapter as done.
Chapter 02: the learner runs the cells the slider needs, moves the slider, and sees the figure
below it change.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:  # the `browser` fixture then skips (or, under CI, fails) and says why
    pass

from labkit.course.notebook import check_names, read_notebook
from labkit.course.release import solved_notebook
from tests.e2e.conftest import ROOT, Lab

pytestmark = pytest.mark.slow

OPEN_TIMEOUT_MS = 60_000  # JupyterLab's first load on a busy machine
RUN_ALL_TIMEOUT_MS = 90_000  # chapter 01 runs in about 20 s here; leave room for a loaded machine
WIDGET_TIMEOUT_MS = 30_000


def open_notebook(page: Page, lab: Lab, name: str, cell_count: int) -> Locator:
    """Open a notebook, wait until all its cells are shown and its kernel is idle; return the cells."""
    page.goto(lab.open_url(name))
    panel = page.locator(".jp-NotebookPanel:visible")
    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(cell_count, timeout=OPEN_TIMEOUT_MS)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=OPEN_TIMEOUT_MS)  # kernel connected
    return cells


def replace_source(page: Page, cell: Locator, source: str) -> None:
    """Click into the cell's editor, select everything and put `source` in, as a learner pasting code would."""
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)
    expect(editor).to_contain_text(source.strip().splitlines()[-1].strip())


def run_menu(page: Page, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def output_of(cell: Locator) -> Locator:
    return cell.locator(".jp-OutputArea-output")


def test_chapter_01_solved_in_the_browser(page: Page, lab: Lab, artifacts: Path) -> None:
    name = "01-first-handler.ipynb"
    learner = read_notebook(lab.notebooks / name)
    solved = solved_notebook(learner, read_notebook(ROOT / "solutions" / name))
    exercises = [index for index, cell in enumerate(learner["cells"]) if "raise NotImplementedError" in cell["source"]]
    checks = {index: check_names(cell["source"]) for index, cell in enumerate(learner["cells"]) if check_names(cell["source"])}
    figure = next(index for index, cell in enumerate(learner["cells"]) if "viz.remaining_time(" in cell["source"])
    assert len(exercises) >= 2 and len(checks) >= 2, "chapter 01 should have exercises and check cells"

    cells = open_notebook(page, lab, name, len(learner["cells"]))
    for index in exercises:
        replace_source(page, cells.nth(index), solved["cells"][index]["source"])
    cells.nth(exercises[0]).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "01-solution-typed.png"))

    run_menu(page, "Run All Cells")
    for index, names in checks.items():
        for exercise in names:
            expect(output_of(cells.nth(index))).to_contain_text(f"{exercise} — passed", timeout=RUN_ALL_TIMEOUT_MS)
    first_check = cells.nth(min(checks))
    first_check.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "01-check-passed.png"))

    plot = output_of(cells.nth(figure)).locator("img")
    expect(plot).to_be_visible(timeout=RUN_ALL_TIMEOUT_MS)
    plot.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "01-figure.png"))

    progress = output_of(cells.last)
    expect(progress).to_contain_text(f"Chapter 01 ({len(checks)}/{len(checks)})", timeout=RUN_ALL_TIMEOUT_MS)
    expect(page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    chapter_01 = progress.get_by_text(f"Chapter 01 ({len(checks)}/{len(checks)})")
    chapter_01.scroll_into_view_if_needed()  # the table is long: show the chapter just solved
    expect(chapter_01).to_be_in_viewport()
    page.screenshot(path=str(artifacts / "01-progress.png"))


def test_chapter_02_slider_redraws_the_timeline(page: Page, lab: Lab, artifacts: Path) -> None:
    name = "02-lifecycle-cold-starts.ipynb"
    learner = read_notebook(lab.notebooks / name)
    position = {cell["id"]: index for index, cell in enumerate(learner["cells"])}
    cells = open_notebook(page, lab, name, len(learner["cells"]))

    for cell_id in ("setup", "lifecycle-file", "slider"):
        cell = cells.nth(position[cell_id])
        cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=WIDGET_TIMEOUT_MS)
    slider_cell = cells.nth(position["slider"])
    readout = slider_cell.locator(".widget-readout")
    figure = output_of(slider_cell).locator("img")
    expect(readout).to_have_text("4", timeout=WIDGET_TIMEOUT_MS)
    expect(figure).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    before = figure.get_attribute("src")
    slider_cell.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "02-slider-before.png"))

    slider_cell.locator(".noUi-handle").press("End")  # the keyboard moves the slider to its maximum
    expect(readout).to_have_text("8", timeout=WIDGET_TIMEOUT_MS)
    expect(figure).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    expect(figure).not_to_have_attribute("src", before or "", timeout=WIDGET_TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "02-slider-after.png"))
