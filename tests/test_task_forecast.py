"""The ``forecast`` task through the Python API (``rnnkit.tasks.train/load/evaluate/predict``) on
tiny CSV series written in tmp_path, with the bad inputs that concern it."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch

from rnnkit.config import ConfigError
from rnnkit.data.timeseries import TimeSeries, read_series
from rnnkit.errors import RnnkitError
from rnnkit.tasks import evaluate, load, predict, resolve_config, train

pytestmark = pytest.mark.usefixtures("one_thread")


def series_csv(path, n=80, *, other=True, bad=None, values=None):
    lines = ["Date,Value,Other" if other else "Date,Value"]
    for i in range(n):
        value = f"{5 + 3 * math.sin(2 * math.pi * i / 12):.5f}" if values is None else values[i]
        if bad and i in bad:
            value = bad[i]
        row = f"2020-{1 + i // 28:02d}-{1 + i % 28:02d},{value}"
        lines.append(row + (f",{i % 7}" if other else ""))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


FAST = {"max_steps": 20, "eval_every": 10, "warmup_steps": 2, "progress": False}


def run_forecast(csv, out=None, data=None, model=None, log=None, **settings):
    config = {
        "data": {"csv": csv, "target": "Value", **(data or {})},
        "model": {"hidden_size": 8, **(model or {})},
        "train": {**FAST, "out_dir": None if out is None else str(out), **settings},
    }
    return train("forecast", config, log=log or (lambda message: None))


def test_defaults_and_old_names():
    config, _ = resolve_config("forecast", {"data": {"csv": "s.csv", "target": "T"}})
    assert (config.model.cell, config.model.hidden_size, config.data.lookback) == ("gru", 32, 30)
    assert config.data.calendar is None  # on when the dates are daily, weekly or monthly
    t = config.train
    assert (
        t.max_steps,
        t.batch_size,
        t.lr,
        t.warmup_steps,
        t.eval_every,
        t.save_every,
        t.out_dir,
    ) == (1500, 64, 3e-3, 50, 100, 250, "runs/forecast")
    # data.csv and data.date_column are the older names of data.train and data.date_col
    assert config.data.train == "s.csv"
    fields = {f.name: f.metadata for f in type(config.data).__dataclass_fields__.values()}
    assert (fields["train"]["flag"], fields["train"]["aliases"]) == ("data", ("train", "csv"))
    assert fields["date_col"]["aliases"] == ("date_column",)
    old, _ = resolve_config("forecast", {"data": {"train": "s", "target": "T", "date_column": "D"}})
    assert old.data.date_col == "D"
    with pytest.raises(ConfigError, match="data.target: required, but not set"):
        train("forecast", {"data": {"csv": "s.csv"}})


def test_train_evaluate_predict(tmp_path):
    csv = series_csv(tmp_path / "s.csv")
    out = tmp_path / "run"
    run = run_forecast(
        csv, out, {"features": ["Other"], "lookback": 12, "horizon": 2, "period": 12}
    )
    assert {p.name for p in out.iterdir()} >= {"best.pt", "last.pt", "config.json"}
    assert json.loads((out / "config.json").read_text())["data"]["features"] == ["Other"]
    validation, test = run.reports
    assert validation.title.startswith("validation: 7 windows")
    assert test.title.startswith("test: 15 windows, targets 2020-03-09 .. 2020-03-24, horizon 2")
    assert "period 12" in test.title
    assert list(test.rows) == [
        "MAE",
        "RMSE",
        "MAPE %",
        "sMAPE %",
        "MASE",
        "MAE step 1",
        "MAE step 2",
    ]
    assert test.columns == ["model", "persistence", "seasonal naive"]
    assert test.rows["MAE"]["seasonal naive"] < 1e-4  # the sine repeats every 12 steps
    assert test.rows["MAE"]["persistence"] > 1

    trained = load(out, device="cpu")
    assert trained.device == torch.device("cpu")
    [report] = evaluate(trained, csv)
    assert report.title.startswith(f"{csv}: 67 windows") and "MAE step 2" in report.rows
    series = read_series(csv)
    assert evaluate(trained, series)[0].rows == report.rows  # a TimeSeries: the same numbers
    # another batch size sums in another order: equal to float32 rounding
    assert evaluate(trained, csv, batch_size=5)[0].rows["RMSE"] == pytest.approx(
        report.rows["RMSE"], rel=1e-6
    )
    rows = predict(trained, csv)
    assert [(r["line"], r["date"], r["step"]) for r in rows] == [
        (1, "2020-03-25", 1),
        (2, "2020-03-26", 2),
    ]
    assert all(
        isinstance(r["forecast"], float) and r["forecast"] == float(f"{r['forecast']:.6g}")
        for r in rows
    )
    assert predict(trained, series) == rows


def test_best_weights_are_reported_and_match_the_reloaded_model(tmp_path):
    csv = series_csv(tmp_path / "s.csv", other=False)
    out = tmp_path / "run"
    run = run_forecast(csv, out, {"lookback": 12}, max_steps=30)
    assert run.weights.startswith("best.pt (step ")
    trained = load(out / "best.pt", device="cpu")
    whole = read_series(csv)
    start = round(0.8 * 80)  # the test part: the last 20%
    # The test report equals an evaluation of the best weights on the series from 12 steps before
    # the test part: the same windows.
    tail = TimeSeries(whole.dates[start - 12 :], whole.values[start - 12 :], whole.columns)
    assert evaluate(trained, tail)[0].rows["MAE"]["model"] == pytest.approx(
        run.reports[-1].rows["MAE"]["model"], rel=1e-9
    )


def test_resume_continues_exactly(tmp_path):
    csv = series_csv(tmp_path / "s.csv", other=False)
    straight = run_forecast(csv, tmp_path / "a", {"lookback": 6})

    def stop_at_10(trainer, event, info):
        if event == "step" and trainer.step == 10:
            trainer.request_stop()

    config = {
        "data": {"csv": csv, "target": "Value", "lookback": 6},
        "model": {"hidden_size": 8},
        "train": {**FAST, "out_dir": str(tmp_path / "b")},
    }
    with pytest.raises(KeyboardInterrupt):
        train("forecast", config, log=lambda m: None, callbacks=[stop_at_10])
    resumed = train("forecast", None, resume=tmp_path / "b", log=lambda m: None)
    assert resumed.train.step == 20
    assert resumed.reports[-1].rows == straight.reports[-1].rows
    with pytest.raises(ConfigError, match="data.lookback: the checkpoint was trained with 6"):
        train(
            "forecast",
            {"data": {"csv": csv, "target": "Value", "lookback": 7}},
            resume=tmp_path / "b",
        )


def test_predict_from_stdin_autoregressive_calendar(tmp_path, monkeypatch):
    csv = series_csv(tmp_path / "s.csv", other=False)
    out = tmp_path / "run"
    run_forecast(
        csv, out, {"lookback": 6, "horizon": 3, "calendar": True}, {"mode": "autoregressive"}
    )
    trained = load(out)
    text = (tmp_path / "s.csv").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    rows = predict(trained, "-")
    assert [(r["line"], r["date"]) for r in rows] == [
        (1, "2020-03-25"),
        (2, "2020-03-26"),
        (3, "2020-03-27"),
    ]
    assert rows == predict(trained, csv)
    # `tail -n 40 file.csv | rnnkit predict RUN --input -`: no header line
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(text.splitlines(True)[-40:])))
    with pytest.raises(
        RnnkitError,
        match=r"standard input needs a header line naming the training "
        r"columns \(Date, Value\) as its first line; its first "
        r"line reads '2020-02-13,7.59808'",
    ):
        predict(trained, "-")


def test_constant_series_is_forecast_exactly(tmp_path):
    csv = series_csv(tmp_path / "c.csv", 60, other=False, values=["4.25"] * 60)
    run = run_forecast(
        csv,
        None,
        {"lookback": 5, "horizon": 3},
        {"hidden_size": 4},
        max_steps=5,
        warmup_steps=0,
        batch_size=8,
        eval_every=5,
    )
    test = run.reports[-1]
    assert test.rows["MAE"]["model"] == 0.0
    assert "MASE" not in test.rows  # the training target never changes: no scale
    assert predict(run.trained, csv)[0]["forecast"] == 4.25


@pytest.mark.parametrize("mode", ["direct", "autoregressive"])
def test_learns_a_sine_better_than_persistence(tmp_path, mode):
    t = np.arange(200)
    csv = series_csv(
        tmp_path / "s.csv",
        200,
        other=False,
        values=[f"{v:.6f}" for v in 5 + 3 * np.sin(2 * np.pi * t / 12)],
    )
    run = run_forecast(
        csv,
        None,
        {"lookback": 12, "horizon": 3, "period": 12, "calendar": False},
        {"cell": "gru", "hidden_size": 16, "mode": mode},
        max_steps=150,
        batch_size=32,
        lr=1e-2,
        warmup_steps=10,
        eval_every=50,
        seed=0,
    )
    mae = run.reports[-1].rows["MAE"]
    assert mae["persistence"] > 1.5  # a sine of amplitude 3 moves a lot in 1-3 steps
    assert mae["model"] < 0.25, mae


def test_same_seed_same_forecasts(tmp_path):
    csv = series_csv(tmp_path / "s.csv", other=False)
    first = run_forecast(csv, None, {"lookback": 6, "horizon": 2}, seed=5)
    torch.rand(3)  # moves the global generator: must not matter
    second = run_forecast(csv, None, {"lookback": 6, "horizon": 2}, seed=5)
    assert first.reports[-1].rows == second.reports[-1].rows


def test_no_test_window_is_said_and_not_reported(tmp_path):
    csv = series_csv(tmp_path / "s.csv", other=False)
    said = []
    run = run_forecast(csv, None, {"lookback": 6, "test_size": 0}, log=said.append)
    assert [r.title.split(":")[0] for r in run.reports] == ["validation"]
    assert any("the test part holds no complete window" in line for line in said)


def test_fill_options(tmp_path):
    csv = series_csv(tmp_path / "gaps.csv", other=False, bad={5: "", 6: "NA"})
    out = tmp_path / "none"
    with pytest.raises(
        RnnkitError,
        match=r"gaps.csv column 'Value' has 2 missing value\(s\) "
        r"\(rows 6, 7\)",
    ):
        run_forecast(csv, out, {"lookback": 6})
    assert not out.exists()  # nothing written on a bad input
    for method in ("ffill", "interpolate"):
        run = run_forecast(csv, None, {"lookback": 6, "fill": method})
        assert run.reports[-1].title.startswith("test:")


@pytest.mark.parametrize(
    ("data", "model", "error", "expected"),
    [
        (
            {"target": "Valu"},
            {},
            RnnkitError,
            "s.csv has no value column 'Valu'; available: Value, Other",
        ),
        (
            {"features": ["Wind"]},
            {},
            RnnkitError,
            "s.csv has no value column 'Wind'; available: Value, Other",
        ),
        (
            {"date_column": "When"},
            {},
            RnnkitError,
            "no date column 'When'; available: Date, Value, Other",
        ),
        (
            {"lookback": 70, "horizon": 20},
            {},
            RnnkitError,
            "lookback + horizon (70 + 20 = 90) is longer than the series (80 steps)",
        ),
        (
            {"features": ["Other"]},
            {"mode": "autoregressive"},
            ConfigError,
            "model.mode: autoregressive mode feeds its own forecasts back",
        ),
        ({"val_size": 40, "test_size": 40}, {}, RnnkitError, "leave no training steps"),
        (
            {"test_size": 2.5},
            {},
            ConfigError,
            "data.test_size: expected a value a fraction in [0, 1) or a whole number of steps",
        ),
        (
            {"features": ["Value"]},
            {},
            ConfigError,
            "data.features: the target 'Value' is always an input",
        ),
        ({"fill": "mean"}, {}, ConfigError, "data.fill: expected one of ffill, interpolate"),
    ],
)
def test_bad_settings(tmp_path, data, model, error, expected):
    csv = series_csv(tmp_path / "s.csv")
    out = tmp_path / "run"
    with pytest.raises(error) as info:
        run_forecast(csv, out, data, model)
    assert expected in str(info.value)
    assert "--" not in str(info.value)
    assert not out.exists()


def test_bad_files(tmp_path):
    bad = series_csv(tmp_path / "bad.csv", bad={9: "warm"})
    with pytest.raises(
        RnnkitError,
        match=r"bad.csv row 10 \(line 11\), column 'Value': expected "
        r"a number, got 'warm'",
    ):
        run_forecast(bad)
    with pytest.raises(RnnkitError, match="series file not found"):
        run_forecast(str(tmp_path / "no.csv"))


def test_evaluate_and_predict_bad_input(tmp_path):
    csv = series_csv(tmp_path / "s.csv")
    out = tmp_path / "run"
    run_forecast(csv, out, {"lookback": 12})
    trained = load(out)
    short = series_csv(tmp_path / "short.csv", n=5)
    with pytest.raises(RnnkitError, match="short.csv has 5 steps, fewer than the lookback of 12"):
        predict(trained, short)
    with pytest.raises(
        RnnkitError,
        match=r"lookback \+ horizon \(12 \+ 1 = 13\) is longer than "
        r"the series \(5 steps\)",
    ):
        evaluate(trained, short)
    other = tmp_path / "other.csv"
    other.write_text("Date,Temp\n2020-01-01,1\n")
    with pytest.raises(RnnkitError, match="other.csv has no value column 'Value'; available: Temp"):
        evaluate(trained, str(other))
    with pytest.raises(RnnkitError, match="needs data to evaluate on"):
        evaluate(trained)
    with pytest.raises(
        RnnkitError,
        match=r"^calendar features need dates like 2020-01-31 or 2020-01; row 1 has 't1'$",
    ):
        predict(trained, [1.0, 2.0])  # a list of numbers is a history, without dates (issue 17)
