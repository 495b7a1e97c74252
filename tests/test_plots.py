"""rnnkit.plots and ``rnnkit plot``: the figures are checked through matplotlib's objects (axes,
lines, labels), never pixels; every failing command is one line, exit 2, and leaves no file."""

from __future__ import annotations

import importlib
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import assert_one_line_error, run

from rnnkit import plots
from rnnkit.cli import main
from rnnkit.data.conll import read_tagged
from rnnkit.data.labelled import read_labelled
from rnnkit.errors import RnnkitError
from rnnkit.metrics.classification import per_tag_f1
from rnnkit.tasks import TASKS, View, load, predict, train, views
from rnnkit.tasks.forecast import _read_split, forecast_windows
from rnnkit.tasks.synthetic import KINDS
from rnnkit.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

CURVES = ["loss against step", "loss against time", "learning rate", "gradient norm"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short training run per task, made when first asked for: ``runs[name] -> (example,
    run directory)``."""

    class Runs(dict):
        def __missing__(self, name):
            folder = tmp_path_factory.mktemp(name)
            found = TASKS[name].example(folder)
            config = folder / "example.json"
            config.write_text(json.dumps(found.settings), encoding="utf-8")
            out = folder / "run"
            argv = ["train", name, "--config", config, "--out", out, "--device", "cpu"]
            assert main([str(a) for a in argv]) == 0
            self[name] = (found, out)
            return self[name]

    return Runs()


def write_log(folder: Path, records: list[dict], tail: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records) + tail
    (folder / "metrics.jsonl").write_text(text, encoding="utf-8")
    return folder


def step(n: int, loss=1.0, grad=0.5, **extra) -> dict:
    record = {"step": n, "loss": loss, "lr": 0.01 * n, "grad_norm": grad, "items": 8}
    return {**record, "time": 0.1 * n, **extra}


def evaluation(n: int, loss: float, **metrics) -> dict:
    return {"step": n, "event": "eval", "time": 0.1 * n, "val_loss": loss, **metrics}


def labelled(ax) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


# --------------------------------------------------------------------------- reading runs
def test_read_metrics_keeps_steps_and_evals_and_leaves_out_a_line_being_written(tmp_path):
    records = [step(1), step(2, loss="nan", grad="nan", skipped=True), evaluation(2, 0.7)]
    folder = write_log(tmp_path / "run", records, tail='{"step": 3, "lo')
    found = plots.read_metrics(folder)
    assert [r["step"] for r in found.steps] == [1, 2]
    assert math.isnan(found.steps[1]["loss"]) and found.steps[1]["skipped"] is True
    assert found.evals == [evaluation(2, 0.7)]
    assert found.name == "run"


def test_a_bad_line_before_the_last_is_an_error(tmp_path):
    folder = write_log(tmp_path / "run", [step(1)], tail="not json\n" + json.dumps(step(2)) + "\n")
    with pytest.raises(RnnkitError, match=r"metrics.jsonl line 2: expected a JSON record"):
        plots.read_metrics(folder)


def test_read_metrics_reads_a_csv_log_when_there_is_no_jsonl(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "step,event,time,loss,lr,grad_norm,items,skipped,val_loss,val_accuracy\n"
        "1,step,0.1,0.9,0.001,0.5,8,,,\n"
        "2,step,0.2,nan,0.002,nan,8,true,,\n"
        "2,eval,0.25,,,,,,0.8,0.6\n"
        "3,step,0.3,0.7",  # being written: no newline yet
        encoding="utf-8",
    )
    found = plots.read_metrics(tmp_path)
    assert [(r["step"], r.get("skipped")) for r in found.steps] == [(1, None), (2, True)]
    assert found.steps[0] == {
        "step": 1,
        "event": "step",
        "time": 0.1,
        "loss": 0.9,
        "lr": 0.001,
        "grad_norm": 0.5,
        "items": 8,
    }
    assert found.evals == [
        {"step": 2, "event": "eval", "time": 0.25, "val_loss": 0.8, "val_accuracy": 0.6}
    ]


def test_a_directory_without_a_metrics_log_is_an_error(tmp_path):
    with pytest.raises(RnnkitError) as caught:
        plots.read_metrics(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: no metrics.jsonl or metrics.csv (is it a run directory written with --out?)"
    )


def test_equal_run_names_are_told_apart_by_their_parents(tmp_path):
    names = plots.run_names([tmp_path / "lstm" / "run", tmp_path / "gru" / "run", tmp_path / "x"])
    assert names == ["lstm/run", "gru/run", "x"]


# --------------------------------------------------------------------------- training curves
def test_the_curves_of_one_run(tmp_path):
    records = [step(n, loss=1.0 / n) for n in range(1, 7)] + [evaluation(3, 0.4)]
    fig = plots.figure([plots.read_metrics(write_log(tmp_path / "run", records))])
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == CURVES
    assert [ax.get_xlabel() for ax in axes] == ["step", "seconds", "step", "step"]
    raw, smoothed, validation = axes[0].get_lines()
    assert list(raw.get_xdata()) == [1, 2, 3, 4, 5, 6]
    assert list(raw.get_ydata()) == [1.0 / n for n in range(1, 7)]
    assert raw.get_alpha() < 1 and smoothed.get_label() == "run: training"
    assert (list(validation.get_xdata()), list(validation.get_ydata())) == ([3], [0.4])
    assert list(axes[1].get_lines()[1].get_xdata()) == [pytest.approx(0.3)]  # seconds
    assert list(axes[2].get_lines()[0].get_ydata()) == [
        pytest.approx(0.01 * n) for n in range(1, 7)
    ]
    assert axes[3].get_yscale() == "log"
    assert fig.get_suptitle() == "run"


def test_skipped_steps_are_marked_on_the_gradient_panel(tmp_path):
    records = [
        step(1),
        step(2, loss="nan", grad="nan", skipped=True),
        step(3),
        step(4, loss=2.0, grad="inf", skipped=True),
        step(5),
    ]
    fig = plots.figure([plots.read_metrics(write_log(tmp_path / "run", records))])
    loss_ax, grad_ax = fig.get_axes()[0], fig.get_axes()[3]
    marks = [line for line in grad_ax.get_lines() if line.get_label() == plots.SKIPPED]
    assert len(marks) == 1
    assert list(marks[0].get_xdata()) == [2, 4]
    assert marks[0].get_color() == "red"
    assert list(grad_ax.get_lines()[0].get_xdata()) == [1, 3, 5]  # the norms of kept steps
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 3, 5]
    assert plots.SKIPPED in [t.get_text() for t in grad_ax.get_legend().get_texts()]


def test_no_marks_without_skipped_steps(tmp_path):
    fig = plots.figure([plots.read_metrics(write_log(tmp_path / "run", [step(1), step(2)]))])
    assert all(plots.SKIPPED not in line.get_label() for line in fig.get_axes()[3].get_lines())


def test_two_runs_overlay_with_a_legend_and_one_colour_each(tmp_path):
    first = write_log(tmp_path / "lr-0.01" / "run", [step(1), step(2), evaluation(2, 0.9)])
    second = write_log(tmp_path / "lr-0.1" / "run", [step(1, 2.0), step(2, 1.5), evaluation(2, 1)])
    found = [plots.read_metrics(first), plots.read_metrics(second)]
    for one, name in zip(found, plots.run_names([first, second])):
        one.name = name
    fig = plots.figure(found)
    axes = fig.get_axes()
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == [
        "lr-0.01/run: training",
        "lr-0.01/run: validation",
        "lr-0.1/run: training",
        "lr-0.1/run: validation",
    ]
    for ax in axes:  # the same colour for a run in every panel
        colours = {
            line.get_label().split(":")[0].lstrip("_").split(" ")[0]: line.get_color()
            for line in ax.get_lines()
        }
        assert colours["lr-0.01/run"] != colours["lr-0.1/run"]
        assert colours["lr-0.01/run"] == axes[0].get_lines()[1].get_color()
    assert fig.get_suptitle() == ""


def test_a_validation_metric_adds_a_fifth_panel(tmp_path):
    records = [step(1), step(2), evaluation(2, 0.9, val_accuracy=0.6), step(3)]
    records.append(evaluation(4, 0.8, val_accuracy=0.75))
    fig = plots.figure([plots.read_metrics(write_log(tmp_path / "run", records))])
    panel = fig.get_axes()[4]
    assert panel.get_title() == "validation accuracy"
    (line,) = labelled(panel)
    assert (list(line.get_xdata()), list(line.get_ydata())) == ([2, 4], [0.6, 0.75])


# --------------------------------------------------------------------------- the task views
def test_classify_view_is_the_confusion_matrix_of_the_predictions(runs):
    found, out = runs["classify"]
    trained = load(out, "cpu")
    (view,) = views(trained, found.evaluate)
    rows = read_labelled(found.evaluate)
    predicted = [r["label"] for r in predict(trained, rows.texts)]
    counts = Counter(zip(rows.labels, predicted))
    names = [str(label) for label in trained.state.labels.itos]
    assert view.kind == "matrix" and view.x == names and view.rows == names
    assert view.values == [[counts[(g, p)] for p in names] for g in names]
    assert (view.xlabel, view.ylabel) == ("predicted", "gold")
    assert views(trained)[0].title.startswith("confusion matrix: validation: 12 rows of ")
    fig = plots.figure([plots.read_metrics(out)], [view])
    matrix_ax = fig.get_axes()[-1]
    assert np.array_equal(matrix_ax.get_images()[0].get_array(), np.array(view.values))
    assert [t.get_text() for t in matrix_ax.get_xticklabels()] == names
    assert sorted(int(t.get_text()) for t in matrix_ax.texts) == sorted(
        n for row in view.values for n in row
    )


def test_tag_view_is_the_per_tag_f1_of_the_predictions(runs):
    found, out = runs["tag"]
    trained = load(out, "cpu")
    (view,) = views(trained, found.evaluate)
    corpus = read_tagged(found.evaluate, trained.config.data.format)
    predicted = [r["tags"] for r in predict(trained, corpus.tokens)]
    scores = per_tag_f1(predicted, corpus.tags, view.x)
    assert view.kind == "bars" and view.ylabel == "F1"
    assert set(view.x) == {t for s in corpus.tags + predicted for t in s}
    assert view.values["model"] == pytest.approx([scores[t]["f1"] for t in view.x])
    assert list(view.values) == ["model", "most-frequent-tag"]
    assert view.levels["model macro-F1"] == pytest.approx(np.mean(view.values["model"]))
    fig = plots.figure([plots.read_metrics(out)], [view])
    bars_ax = fig.get_axes()[-1]
    assert len(bars_ax.patches) == 2 * len(view.x)
    assert [t.get_text() for t in bars_ax.get_xticklabels()] == view.x


def test_a_direct_forecast_view_draws_whole_windows_end_to_end(tmp_path):
    # one test window of a horizon-12 model: its 12 steps, not a lone first step (was empty)
    example = TASKS["forecast"].example(tmp_path)
    settings = json.loads(json.dumps(example.settings))
    settings["data"].update(horizon=12, test_size=12, val_size=12)
    settings["model"] = {**settings.get("model", {}), "mode": "direct"}
    settings["train"].update(max_steps=2, out_dir=str(tmp_path / "run"))
    train("forecast", settings, log=lambda message: None)
    trained = load(tmp_path / "run", "cpu")
    (view,) = views(trained)
    prepared, _, _, parts = _read_split(trained.config.data, lambda _: None)
    forecasts, actuals, first = forecast_windows(trained.model, prepared, *parts["test"])
    assert len(first) == 1 and view.title.startswith("forecasts (windows of 12 steps, end to end)")
    assert view.values["model"] == pytest.approx(forecasts[0].tolist())
    assert view.values["actual"] == pytest.approx(actuals[0].tolist())
    assert view.x == [prepared.series.dates[int(first[0]) + k] for k in range(12)]
    # every window of a file: windows 12 steps apart, ending with the last, no overlap
    (on_file,) = views(trained, example.evaluate)
    assert len(on_file.x) == len(set(on_file.x)) and on_file.x[-1] == prepared.series.dates[-1]


def test_forecast_view_is_the_models_forecast_beside_the_baselines(runs):
    found, out = runs["forecast"]
    trained = load(out, "cpu")
    (view,) = views(trained)
    prepared, _, _, parts = _read_split(trained.config.data, lambda _: None)
    forecasts, actuals, first = forecast_windows(trained.model, prepared, *parts["test"])
    assert view.kind == "series" and view.title == "forecasts of Temp: test period"
    assert list(view.values) == ["actual", "model", "persistence"]  # 120 days: no season
    assert view.values["model"] == pytest.approx(forecasts[:, 0].tolist())
    assert view.values["actual"] == pytest.approx(actuals[:, 0].tolist())
    assert view.values["persistence"] == pytest.approx(prepared.target[first - 1].tolist())
    assert view.x == [prepared.series.dates[int(t)] for t in first]
    assert view.x[0] == "2020-04-06"  # the test part: the last 24 of 120 days
    on_file = views(trained, found.evaluate)[0]
    assert on_file.x[0] == "2020-01-11" and len(on_file.x) == 110  # every window: lookback 10
    fig = plots.figure([plots.read_metrics(out)], [view])
    series_ax = fig.get_axes()[-1]
    assert [line.get_label() for line in series_ax.get_lines()] == list(view.values)
    assert list(series_ax.get_lines()[1].get_ydata()) == pytest.approx(view.values["model"])


def test_synthetic_view_is_the_error_curve_beside_the_baseline_and_goal(runs):
    _, out = runs["synthetic"]
    trained = load(out, "cpu")
    evals = plots.read_metrics(out).evals
    (view,) = views(trained, evals=evals)
    sine = KINDS["sine"](trained.config.data)
    metric = sine.goal.metric
    assert view.x == [2, 4] and view.ylabel == metric and view.ylog
    assert view.values["model"] == [e["val_mse"] for e in evals]
    persistence = sine.report(trained.model, "val").rows[metric]
    assert view.levels == {"goal (< 0.001)": 1e-3, "persistence": persistence["persistence"]}
    assert views(trained) == []  # no evaluations logged: no curve
    fig = plots.figure([plots.read_metrics(out)], [view])
    ax = fig.get_axes()[-1]
    assert ax.get_title().startswith("sine: validation MSE") and ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["model", *view.levels]


def test_a_language_model_has_only_its_curves(runs):
    _, out = runs["lm"]
    assert views(load(out, "cpu")) == []


def test_a_view_checks_its_numbers():
    with pytest.raises(ValueError, match="values: expected 2 numbers a line, got 3"):
        View("series", "t", [1, 2], {"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="kind: expected one of series, matrix, bars, got 'pie'"):
        View("pie", "t", [], {})
    with pytest.raises(ValueError, match=r"values: expected one row per row label \(1\), got 2"):
        View("matrix", "t", ["a"], [[1], [2]], rows=["a"])


# --------------------------------------------------------------------------- saving
@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_save_writes_the_format_of_the_extension(tmp_path, suffix):
    fig = plots.figure([plots.read_metrics(write_log(tmp_path / "run", [step(1), step(2)]))])
    path = plots.save(fig, tmp_path / f"curves.{suffix}")
    start = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix]
    assert path.read_bytes().startswith(start)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"curves.{suffix}", "run"]


def test_a_failed_save_leaves_no_file(tmp_path):
    fig = plots.figure([plots.read_metrics(write_log(tmp_path / "run", [step(1)]))])

    def broken(file, **_):
        file.write(b"half an image")
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save(fig, tmp_path / "curves.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# --------------------------------------------------------------------------- the command
@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot_writes_the_curves_and_the_views_of_a_run(runs, tmp_path, capsys, suffix):
    _, out = runs["classify"]
    image = tmp_path / f"classify.{suffix}"
    code, printed, err = run(capsys, "plot", out, "--out", image, "--device", "cpu")
    assert code == 0, err
    assert printed == f"{image}: training curves of 1 run and 1 view(s) of the model\n"
    assert image.stat().st_size > 1000
    text = image.read_bytes()
    assert text.startswith(b"\x89PNG" if suffix == "png" else b"<?xml")


def test_plot_of_a_checkpoint_file_uses_its_run(runs, tmp_path, capsys):
    _, out = runs["synthetic"]
    image = tmp_path / "sine.png"
    code, printed, err = run(capsys, "plot", out / "last.pt", "--out", image)
    assert code == 0, err
    assert printed == f"{image}: training curves of 1 run and 1 view(s) of the model\n"


def test_plot_overlays_several_runs_without_views(runs, tmp_path, capsys):
    image = tmp_path / "both.png"
    code, printed, err = run(
        capsys, "plot", runs["synthetic"][1], runs["forecast"][1], "--out", image
    )
    assert code == 0, err
    assert printed == f"{image}: training curves of 2 runs\n"
    assert image.stat().st_size > 1000


def test_plot_of_a_run_without_a_checkpoint_yet_draws_the_curves(tmp_path, capsys):
    folder = write_log(tmp_path / "going", [step(1), step(2)], tail='{"step": 3')
    code, printed, err = run(capsys, "plot", folder, "--out", tmp_path / "going.png")
    assert code == 0, err
    assert printed == f"{tmp_path / 'going.png'}: training curves of 1 run\n"


def test_plot_of_a_directory_without_metrics_fails_cleanly(tmp_path, capsys):
    image = tmp_path / "x.png"
    code, _, err = run(capsys, "plot", tmp_path, "--out", image)
    assert_one_line_error(
        code,
        err,
        f"{tmp_path}: no metrics.jsonl or metrics.csv (is it a run directory written with --out?)",
    )
    assert not image.exists()


def test_plot_to_an_unknown_format_fails_cleanly(runs, tmp_path, capsys):
    image = tmp_path / "x.jpg"
    code, _, err = run(capsys, "plot", runs["synthetic"][1], "--out", image)
    assert_one_line_error(
        code, err, f"--out: expected a file name ending in .png, .svg or .pdf, got '{image}'"
    )
    assert not image.exists()


def test_plot_of_an_older_checkpoint_format_fails_cleanly(runs, tmp_path, capsys):
    _, out = runs["synthetic"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.jsonl").write_bytes((out / "metrics.jsonl").read_bytes())
    checkpoint = load_checkpoint(out / "last.pt")
    checkpoint.pop("path")
    torch.save({**checkpoint, "format_version": 1}, old / "last.pt")
    image = tmp_path / "old.png"
    code, _, err = run(capsys, "plot", old, "--out", image)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"rnnkit: error: checkpoint {old / 'last.pt'} has format version 1")
    assert not image.exists()


def test_plot_data_for_a_task_whose_views_read_none_fails_cleanly(runs, tmp_path, capsys):
    _, out = runs["synthetic"]
    image = tmp_path / "x.png"
    code, _, err = run(capsys, "plot", out, "--data", out / "config.json", "--out", image)
    assert_one_line_error(code, err, "--data: the views of a 'synthetic' model read no data file")
    assert not image.exists()
    code, _, err = run(capsys, "plot", out, out, "--data", out / "config.json", "--out", image)
    assert_one_line_error(code, err, "--data: the model's views are drawn for one RUN, got 2")
    assert not image.exists()


def test_plot_without_matplotlib_names_the_extra(runs, tmp_path, capsys, monkeypatch):
    real = importlib.import_module

    def without_matplotlib(name, *args):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_matplotlib)
    image = tmp_path / "x.png"
    code, _, err = run(capsys, "plot", runs["synthetic"][1], "--out", image)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("rnnkit: error: rnnkit plot needs matplotlib, which is not installed: ")
    assert 'pip install "rnnkit[plot]"' in err
    assert not image.exists()


def test_the_csv_logger_file_reads_as_the_jsonl_one(tmp_path):
    """A run logged with --logger csv only plots the same records as one logged as jsonl."""
    found = TASKS["lm"].example(tmp_path)
    settings = {**found.settings, "train": {**found.settings["train"], "device": "cpu"}}
    both = tmp_path / "both"
    settings["train"].update(out_dir=str(both), logger=["jsonl", "csv"])
    train("lm", settings, log=lambda message: None)
    from_jsonl = plots.read_metrics(both)
    (both / "metrics.jsonl").unlink()
    from_csv = plots.read_metrics(both)
    assert len(from_csv.steps) == len(from_jsonl.steps) > 0 and from_csv.evals == from_jsonl.evals
    for ours, theirs in zip(from_csv.steps, from_jsonl.steps):
        assert {k: v for k, v in ours.items() if k != "event"} == theirs


# --------------------------------------------------------------------------- intervals (bands)
NAN = math.nan


def banded(n_history: int = 3, horizon: int = 3, title: str = "series a", **extra) -> View:
    """A forecast view: history, then the actual future, the model's forecast with its 80% and
    50% intervals, and a band that names no line."""
    n = n_history + horizon
    gap = [NAN] * n_history
    model = [10.0 + k for k in range(horizon)]
    return View(
        "series",
        title,
        list(range(n)),
        {
            "history": [1.0 + k for k in range(n_history)] + [NAN] * horizon,
            "actual": gap + [11.0] * horizon,
            "model": gap + model,
        },
        bands={
            "model 80%": (gap + [m - 4 for m in model], gap + [m + 4 for m in model]),
            "model 50%": (gap + [m - 1 for m in model], gap + [m + 2 for m in model]),
            "spread": ([0.0] * n, [0.5] * n),
        },
        **extra,
    )


def test_a_band_is_shaded_between_its_bounds_in_its_lines_colour():
    from matplotlib.colors import to_rgba

    view = banded(levels={"goal": 3.0})
    fig = plots.figure([], [view])
    (ax,) = fig.get_axes()  # no runs: the view alone
    lines = {line.get_label(): line for line in ax.get_lines()}
    shaded = {c.get_label(): c for c in ax.collections}
    assert list(shaded) == ["model 80%", "model 50%", "spread"]
    model = to_rgba(lines["model"].get_color())
    assert model == to_rgba("C2")
    # "model 80%" is the model's, lighter than the narrower "model 50%"; "spread" names no
    # line: the next colour after the 3 lines and the level
    expected = {"model 80%": (model, 0.15), "model 50%": (model, 0.3), "spread": ("C4", 0.25)}
    for label, (colour, alpha) in expected.items():
        face = shaded[label].get_facecolor()[0]
        assert tuple(face) == pytest.approx((*to_rgba(colour)[:3], alpha)), label
    # the polygon: the upper bound and the lower one over the forecast steps 3, 4, 5 only
    (path,) = shaded["model 80%"].get_paths()
    corners = {tuple(v) for v in path.vertices.tolist()}
    assert corners == {(3.0, 6.0), (4.0, 7.0), (5.0, 8.0), (3.0, 14.0), (4.0, 15.0), (5.0, 16.0)}
    assert all(
        c.get_zorder() < line.get_zorder() for c in shaded.values() for line in lines.values()
    )
    # the legend, beside the axes, names lines, level and bands
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["history", "actual", "model", "goal", "model 80%", "model 50%", "spread"]
    assert ax.get_legend().get_bbox_to_anchor().bounds[0] == pytest.approx(ax.bbox.x1)
    assert "_forecast origin" not in lines  # "spread" starts at the first step: no origin


def test_band_colours_and_opacities_follow_the_documented_rule():
    from rnnkit.inspection.series_chart import band_line, band_styles

    assert band_line("model 80%") == "model" and band_line("naive") == "naive"
    lines = ["seasonal", "seasonal naive", "model"]
    assert band_line("seasonal naive 80%", lines) == "seasonal naive"  # the longest line named
    assert band_line("seasonal 80%", lines) == "seasonal"
    assert band_line("seasonal naives 80%", lines) == "seasonal"  # not "seasonal naive"
    assert band_styles(lines, 0, {"seasonal naive 80%": ([0], [1])}) == {
        "seasonal naive 80%": (1, 0.25)
    }
    wide, narrow = ([0, 0], [4, 4]), ([1, 1], [2, 2])
    assert band_styles(["actual", "model"], 1, {"model 50%": narrow, "model 80%": wide}) == {
        "model 50%": (1, 0.3),
        "model 80%": (1, 0.15),
    }
    three = {"m 95%": ([0], [9]), "m 50%": ([0], [1]), "m 80%": ([0], [5])}
    assert band_styles(["m"], 0, three) == {
        "m 95%": (0, 0.15),
        "m 50%": (0, 0.3),
        "m 80%": (0, 0.225),
    }
    assert band_styles(["a"], 2, {"x 80%": wide, "y": wide}) == {"x 80%": (3, 0.25), "y": (4, 0.25)}


def test_a_view_without_bands_draws_as_before():
    view = View("series", "t", ["d1", "d2", "d3"], {"actual": [1, 2, 3], "model": [1, 2, 4]})
    assert view.bands == {}
    fig = plots.figure([], [view])
    (ax,) = fig.get_axes()
    assert len(ax.collections) == 0 and [line.get_label() for line in ax.get_lines()] == list(
        view.values
    )
    assert [line.get_linewidth() for line in ax.get_lines()] == [1.6, 1.0]
    assert ax.get_legend().get_bbox_to_anchor().bounds == ax.bbox.bounds  # the default place
    assert [t.get_text() for t in ax.get_xticklabels()] == ["d1", "d2", "d3"]


def test_a_view_checks_its_bands():
    with pytest.raises(ValueError, match=r"bands\['m 80%'\]: expected 2 numbers a bound, got 3"):
        View("series", "t", [1, 2], {"m": [1, 2]}, bands={"m 80%": ([1, 2], [1, 2, 3])})
    with pytest.raises(ValueError, match=r"bands\['m 80%'\]: expected \(lower, upper\), got 3"):
        View("series", "t", [1, 2], {"m": [1, 2]}, bands={"m 80%": ([1, 2], [1, 2], [1, 2])})
    with pytest.raises(ValueError, match="bands: expected none for a 'bars' view, got 'm 80%'"):
        View("bars", "t", ["a"], {"m": [1]}, bands={"m 80%": ([1], [2])})


def test_many_series_are_a_row_each_and_a_long_history_keeps_few_ticks(tmp_path):
    # 400 hourly steps of history and a 48-step forecast, for each of three series
    n, horizon = 400, 48
    dates = [f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00" for i in range(n + horizon)]
    shown = [banded(n, horizon, title=f"series {s}") for s in "abc"]
    shown = [
        View("series", v.title, dates, v.values, bands={k: v.bands[k] for k in ("model 80%",)})
        for v in shown
    ]
    fig = plots.figure([], shown)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["series a", "series b", "series c"]
    for ax in axes:
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks == dates[:: (n + horizon) // 6] and len(ticks) <= 7
        (path,) = ax.collections[0].get_paths()  # the 80% band: the 48 forecast steps only
        assert {x for x, _ in path.vertices.tolist()} == set(range(n, n + horizon))
        origins = [line for line in ax.get_lines() if line.get_label() == "_forecast origin"]
        assert [list(line.get_xdata()) for line in origins] == [[n, n]]  # where the bands start
    assert fig.get_size_inches()[1] == pytest.approx(3 * 4.2)
    image = plots.save(fig, tmp_path / "many.png")
    assert image.stat().st_size > 1000


@pytest.fixture
def chosen_series(monkeypatch):
    """The forecast task's views take ``series=``: one banded view per chosen id."""
    asked = []

    def views_of(self, trained, data=None, *, evals=(), series=None):
        asked.append(series)
        return [banded(title=f"series {s}") for s in series or ["a"]]

    monkeypatch.setattr(type(TASKS["forecast"]), "views", views_of)
    return asked


def test_plot_passes_the_chosen_series_to_the_views(runs, tmp_path, capsys, chosen_series):
    _, out = runs["forecast"]
    image = tmp_path / "chosen.png"
    code, printed, err = run(capsys, "plot", out, "--series", "H7, H1,H7", "--out", image)
    assert code == 0, err
    assert chosen_series == [["H7", "H1"]]
    assert printed == f"{image}: training curves of 1 run and 2 view(s) of the model\n"
    code, printed, err = run(capsys, "plot", out, "--out", image)
    assert code == 0 and chosen_series[-1] is None  # not given: no series= at all


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--series", "a,,b"], "--series: expected series ids separated by commas, got 'a,,b'"),
        (["x", "--series", "a"], "--series: the model's views are drawn for one RUN, got 2"),
        (["--series", "a"], "--series: the views of a 'synthetic' model have no such option"),
    ],
)
def test_plot_with_bad_series_fails_cleanly(runs, tmp_path, capsys, argv, expected):
    image = tmp_path / "x.png"
    argv = [runs["synthetic"][1] if a == "x" else a for a in argv]  # "x": the run again
    code, _, err = run(capsys, "plot", runs["synthetic"][1], *argv, "--out", image)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"rnnkit: error: {expected}"), err
    assert not image.exists()
