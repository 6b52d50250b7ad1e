"""Comparing runs in the MLflow UI as a user does: runs table, compare view, a study's trials.

`pipeline ui` on a project where two tiny runs (lstm vs gru) and a 3-trial study were trained;
Chromium opens the link it prints. Run by `nox -s e2e`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from project import screenshots

pytestmark = pytest.mark.browser
NAMES = {"lstm": "lstm-1x16-lr1e-2", "gru": "gru-1x16-lr1e-2"}


def store(project: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")


def runs_by_name(project: Path) -> dict[str, Any]:
    client = store(project)
    experiment = client.get_experiment_by_name("compare").experiment_id
    return {run.info.run_name: run for run in client.search_runs([experiment])}


def open_runs_table(page: Any, link: str) -> None:
    page.goto(link)
    page.get_by_text(NAMES["gru"]).first.wait_for()
    close_assistant(page)


def close_assistant(page: Any) -> None:
    """MLflow 3's assistant pane takes a third of the width; the screenshots want the data."""
    button = page.get_by_role("button", name="Close")
    if button.count():
        button.first.click()


def row(page: Any, text: str) -> Any:
    return page.get_by_role("row").filter(has_text=text).first


def test_runs_table_shows_both_runs_with_distinct_names_and_val_ppl(page, ui_link, project):
    runs = runs_by_name(project)
    open_runs_table(page, ui_link)
    page.get_by_role("button", name="Columns").click()
    page.locator("span[title=val_ppl]").click()  # the metric column, as a user adds it
    page.keyboard.press("Escape")
    page.get_by_role("columnheader", name="val_ppl").first.wait_for()
    text = page.locator(".ag-root").inner_text()
    for name in NAMES.values():
        assert name in text
        assert str(runs[name].data.metrics["val_ppl"]) in text  # the UI shows the full value


def test_compare_view_lines_up_the_cells_and_charts_val_ppl_per_epoch(page, ui_link, project):
    lstm = runs_by_name(project)[NAMES["lstm"]].info.run_id
    steps = [m.step for m in store(project).get_metric_history(lstm, "val_ppl")]
    assert steps == list(range(1, len(steps) + 1))  # one value per epoch, the epoch its step
    open_runs_table(page, ui_link)
    for name in NAMES.values():
        row(page, name).locator("input.ag-checkbox-input").check()
    page.get_by_role("button", name="Compare").click()
    cells = page.locator("tr").filter(has_text="model.cell").first
    assert cells.inner_text().split() == ["model.cell", "lstm", "gru"]
    close_assistant(page)
    cells.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots() / "compare_view_params.png"))
    page.get_by_role("link", name="val_ppl").first.click()
    page.locator(".js-plotly-plot").first.wait_for()  # the chart rendered
    assert page.get_by_text("Step").first.is_visible()  # x axis: steps, which are epochs
    assert page.get_by_text(f"(step={steps[-1]})").count() >= 2  # both runs' last epoch
    close_assistant(page)


def test_study_trials_are_nested_under_one_parent_with_params_and_best_value(
    page, ui_link, project
):
    runs = runs_by_name(project)
    parents = [r for name, r in runs.items() if name.startswith("study-")]
    assert len(parents) == 1
    parent = parents[0]
    open_runs_table(page, ui_link)
    trials = sorted(name for name in runs if name[:1] == "t" and name[1:3].isdigit())
    assert [t[:3] for t in trials] == ["t00", "t01", "t02"]
    assert page.get_by_text(trials[0]).count() == 0  # folded under the parent
    row(page, "study-").get_by_role("button").first.click()  # expand the parent
    for trial in trials:
        page.get_by_text(trial).first.wait_for()
    page.get_by_role("link", name=parent.info.run_name).first.click()
    page.get_by_text("best_val_loss").first.wait_for()
    best = parent.data.metrics["best_val_loss"]
    assert page.get_by_text(str(best)).count() >= 1  # the best value shows
    assert page.get_by_text(f"Parameters ({len(parent.data.params)})").count() >= 1
    assert page.get_by_text("model.hidden_size").count() >= 1
