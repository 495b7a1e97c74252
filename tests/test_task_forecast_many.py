"""The forecast task on many series (one global probabilistic model): training, reports, predict
on files and DataFrames, unseen series, past-only features, the command line and bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, run

from rnnkit.tasks import evaluate, load, predict, train

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"max_steps": 40, "eval_every": 20, "warmup_steps": 2, "progress": False}


def shops_csv(path, n_series=4, n=60, *, seed=0, shift=0, known=True, drop=None):
    """Daily sales of ``n_series`` shops (a weekly season, a level per shop), a past-only
    ``footfall`` and a known ``price``; ``drop``: (series, row) to leave out."""
    rng = np.random.default_rng(seed)
    lines = ["shop,date,sales,footfall,price,region"]
    for s in range(n_series):
        for t in range(n):
            if drop and (s, t) in drop:
                continue
            day = np.datetime64("2024-01-01") + t + shift
            sales = 20 + 5 * s + 6 * np.sin(2 * np.pi * t / 7) + rng.normal()
            lines.append(
                f"s{s},{day},{sales:.3f},{rng.normal():.3f},{1 + (t % 5) / 10:.2f},"
                f"{'north' if s % 2 else 'south'}"
            )
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def settings(path, out=None, data=None, model=None, **train_settings):
    return {
        "data": {
            "train": path,
            "series_col": "shop",
            "target": "sales",
            "horizon": 7,
            "lookback": 14,
            **(data or {}),
        },
        "model": {"hidden_size": 16, "samples": 100, **(model or {})},
        "train": {**FAST, "out_dir": out and str(out), **train_settings},
    }


@pytest.fixture(scope="module")
def shops_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shops")
    path = shops_csv(folder / "shops.csv")
    data = {"features": ["footfall"], "known_features": ["price"], "static_features": ["region"]}
    run_ = train("forecast", settings(path, folder / "run", data=data, max_steps=150), log=print)
    return folder, path, run_


def test_many_series_report_has_the_probabilistic_scores_beside_the_baselines(shops_run):
    _, _, run_ = shops_run
    _val, test = run_.reports
    assert test.title.startswith("test: 4 windows of 4 series, horizon 7")
    for metric in ("sMAPE %", "MASE", "OWA", "MAE", "wQL", "CRPS", "coverage 80 %", "width 80"):
        assert "model" in test.rows[metric], metric
    assert {"naive", "seasonal naive"} <= set(test.rows["sMAPE %"])
    assert "wQL" in test.rows and "seasonal naive" in test.rows["wQL"]
    # it learned: the weekly season makes the seasonal naive strong and naive weak
    assert test.rows["MAE"]["model"] < test.rows["MAE"]["naive"]
    assert 0 <= test.rows["coverage 80 %"]["model"] <= 100


def test_predict_records_and_dataframe_round_trip(shops_run, tmp_path):
    pd = pytest.importorskip("pandas")
    folder, path, _ = shops_run
    trained = load(folder / "run")
    future = tmp_path / "future.csv"
    rows = ["shop,date,price"] + [
        f"s{s},{np.datetime64('2024-03-01') + k},1.5" for s in range(4) for k in range(7)
    ]
    future.write_text("\n".join(rows) + "\n")
    records = predict(trained, path, future=str(future))
    assert len(records) == 4 * 7
    first = records[0]
    assert (first["shop"], first["date"], first["step"]) == ("s0", "2024-03-01", 1)
    assert first["q0.1"] <= first["q0.5"] <= first["q0.9"]
    assert first["forecast"] == first["q0.5"]
    frame = pd.read_csv(path)
    out = predict(trained, frame, future=pd.read_csv(future))
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns[:4]) == ["shop", "date", "step", "forecast"]
    assert np.allclose(out["forecast"], [r["forecast"] for r in records])
    # the same seed, the same numbers
    assert predict(trained, path, future=str(future)) == records


def test_unseen_series_is_forecast_from_its_own_history(shops_run, tmp_path):
    folder, _, _ = shops_run
    trained = load(folder / "run")
    new = shops_csv(tmp_path / "new.csv", n_series=1, seed=5)
    text = Path(new).read_text().replace("s0,", "brand-new,")
    (tmp_path / "new.csv").write_text(text)
    future = tmp_path / "future.csv"
    rows = ["shop,date,price"] + [
        f"brand-new,{np.datetime64('2024-03-01') + k},1.2" for k in range(7)
    ]
    future.write_text("\n".join(rows) + "\n")
    records = predict(trained, str(tmp_path / "new.csv"), future=str(future))
    assert [r["shop"] for r in records] == ["brand-new"] * 7
    values = np.array([r["forecast"] for r in records])
    assert np.all(np.isfinite(values)) and 5 < values.mean() < 40


def test_a_past_only_feature_s_future_is_never_read(shops_run, tmp_path):
    """Changing footfall (past-only) over the test part leaves the test forecasts unchanged,
    changing the history does change them."""
    folder, path, _ = shops_run
    trained = load(folder / "run")

    def scores(edit):
        rows = list(csv.reader(Path(path).read_text().splitlines()))
        for i, row in enumerate(rows[1:], start=1):
            t = (i - 1) % 60
            row[3] = edit(t, row[3])
        changed = tmp_path / "changed.csv"
        changed.write_text("\n".join(",".join(r) for r in rows) + "\n")
        return evaluate(trained, str(changed))[0].rows["MAE"]["model"]

    same = scores(lambda t, v: v)
    assert scores(lambda t, v: "99" if t >= 53 else v) == same
    assert scores(lambda t, v: "99" if 45 <= t < 53 else v) != same


def test_quantile_and_negbin_runs_and_single_series_likelihood(tmp_path):
    path = shops_csv(tmp_path / "shops.csv")
    run_q = train("forecast", settings(path, model={"quantiles": [0.1, 0.5, 0.9]}), log=print)
    rows = run_q.reports[-1].rows
    assert "wQL" in rows and "model" in rows["wQL"]
    assert "coverage 80 %" in rows
    from rnnkit.tasks import views

    assert list(views(run_q.trained)[0].bands) == ["model 80%"]
    quartiles = settings(path, model={"quantiles": [0.25, 0.5, 0.75]}, max_steps=5)
    assert list(views(train("forecast", quartiles).trained)[0].bands) == ["model 50%"]
    run_nb = train("forecast", settings(path, model={"likelihood": "negbin"}), log=print)
    assert np.isfinite(run_nb.reports[-1].rows["MAE"]["model"])
    one = tmp_path / "one.csv"
    text = [
        line for line in Path(path).read_text().splitlines(True) if line.startswith(("shop", "s0,"))
    ]
    one.write_text("".join(line.split(",", 1)[1] for line in text))
    data = {"train": str(one), "series_col": None, "target": "sales"}
    run_one = train("forecast", settings(path, data=data, model={"likelihood": "gaussian"}))
    assert run_one.reports[-1].title.startswith("test: 1 window of 1 series")


def test_command_line_trains_predicts_to_csv_and_plots(tmp_path, capsys):
    path = shops_csv(tmp_path / "shops.csv")
    out = tmp_path / "run"
    code, _, err = run(
        capsys,
        "train",
        "forecast",
        "--data",
        path,
        "--series-col",
        "shop",
        "--target",
        "sales",
        "--horizon",
        7,
        "--lookback",
        14,
        "--hidden",
        8,
        "--steps",
        10,
        "--samples",
        50,
        "--out",
        out,
        "--no-progress",
    )
    assert code == 0, err
    code, _, err = run(capsys, "predict", out, "--input", path, "--output", tmp_path / "f.csv")
    assert code == 0, err
    with open(tmp_path / "f.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 28 and list(rows[0])[:4] == ["shop", "date", "step", "forecast"]
    assert "q0.9" in rows[0]


def test_bad_input_on_the_command_line(tmp_path, capsys):
    """Each bad input is one line on stderr, exit code 2, and no run folder."""
    good = shops_csv(tmp_path / "shops.csv")
    lines = Path(good).read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join([*lines, lines[5]]) + "\n")
    shops_csv(tmp_path / "gap.csv", drop={(1, 30)})
    (tmp_path / "neg.csv").write_text(Path(good).read_text().replace(",20.", ",-20.", 1))
    (tmp_path / "one.csv").write_text("date,a\n2024-01-01,1\n2024-01-02,2\n")
    out = tmp_path / "out"
    base = ["--series-col", "shop", "--target", "sales", "--horizon", 7, "--lookback", 14]
    cases = [
        (
            ["dup.csv", *base],
            (
                "times: expected one row per series and time, got series 's0' at time 2024-01-05 "
                "twice (data rows 5 and 241)"
            ),
        ),
        (
            ["gap.csv", *base],
            (
                "times: expected a regular step (1 day) in every series, got series 's1' going from "
                "2024-01-30 to 2024-02-01 (a gap or an irregular date)"
            ),
        ),
        (
            ["neg.csv", *base, "--likelihood", "negbin"],
            (
                "likelihood negbin: expected counts (values >= 0), got -20.126 in series 's0' at "
                "2024-01-01; use gaussian or studentt"
            ),
        ),
        (
            ["shops.csv", *base, "--quantiles", "0.9,0.1"],
            "--quantiles: expected strictly increasing levels, got 0.9, 0.1",
        ),
        (
            ["shops.csv", *base, "--quantiles", "0.5,1.2"],
            "--quantiles: expected levels strictly between 0 and 1, got 0.5, 1.2",
        ),
        (
            ["one.csv", "--wide", "--date-col", "date", "--target", "x"],
            (
                "wide: expected two or more series columns with wide=True, got 1 (a); read one "
                "series without wide"
            ),
        ),
        (
            ["shops.csv", *base, "--wide"],
            (
                "--wide: expected either --wide (one column per series) or --series-col (a long "
                "file), got both (series_col 'shop')"
            ),
        ),
        (
            ["shops.csv", *base, "--val-size", "0.1"],
            "--val-size: expected a whole number of steps in each series with many series, got 0.1",
        ),
        (
            ["shops.csv", *base, "--mode", "direct"],
            (
                "--mode: the many-series model is autoregressive (DeepAR): expected mode "
                "autoregressive, got 'direct'"
            ),
        ),
    ]
    for argv, expected in cases:
        code, _, err = run(
            capsys, "train", "forecast", "--data", tmp_path / argv[0], *argv[1:], "--out", out
        )
        assert_one_line_error(code, err, expected)
        assert not out.exists()


def test_short_series_are_skipped_for_training_and_refused_for_prediction(tmp_path, capsys):
    path = tmp_path / "short.csv"
    lines = Path(shops_csv(path, n_series=2)).read_text().splitlines()
    path.write_text("\n".join(lines[:71]) + "\n")  # s1 keeps 10 steps
    logged = []
    run_ = train("forecast", settings(str(path), tmp_path / "run", max_steps=3), log=logged.append)
    assert (
        "skipping 1 series for training: their training part is shorter than lookback + "
        "horizon (14 + 7): s1 (10 steps)" in logged
    )
    assert run_.reports[-1].title.startswith("test: 1 window of 1 series")
    code, _, err = run(
        capsys, "predict", tmp_path / "run", "--input", path, "--output", tmp_path / "f.csv"
    )
    assert_one_line_error(
        code,
        err,
        "lookback: expected at least 14 steps of history in every series to forecast, got 10 in "
        "series 's1' (1 series in all are shorter)",
    )
    assert not (tmp_path / "f.csv").exists()


def test_known_features_are_required_over_the_horizon(shops_run, capsys, tmp_path):
    folder, path, _ = shops_run
    code, _, err = run(
        capsys, "predict", folder / "run", "--input", path, "--output", tmp_path / "f.csv"
    )
    assert_one_line_error(
        code,
        err,
        "known_features: expected the values of price over the forecast horizon (future=... in "
        "Python, --future FILE on the command line), got none",
    )
    future = tmp_path / "future.csv"
    future.write_text("shop,date,price\n" + "".join(f"s0,2024-03-0{k},1\n" for k in range(1, 8)))
    code, _, err = run(capsys, "predict", folder / "run", "--input", path, "--future", future)
    assert code == 2 and err.startswith(
        "rnnkit: error: known_features: expected price at the 7 times after series 's1' ends"
    )


def test_the_interval_spread_is_fitted_on_validation_whatever_it_starts_from(shops_run):
    from rnnkit.tasks.forecast_panel import calibrate

    _, _, run_ = shops_run
    trained = run_.trained
    val = trained.model.config.spread
    assert val != 1.0  # fitted (a factor of 1 would be a coincidence of the grid)
    part = _val_part(trained, run_)
    first = calibrate(trained, part)
    assert first["spread"] == pytest.approx(val)
    trained.model.config.spread = 0.3  # the offsets are measured in units of the current spread
    assert calibrate(trained, part) == pytest.approx(first)
    assert trained.model.config.spread == pytest.approx(val)


def _val_part(trained, run_):
    from rnnkit.data.panel_windows import WindowSampler
    from rnnkit.tasks.forecast_panel import PanelPart, _codes, read_training

    d = trained.config.data
    panel, split = read_training(d, lambda _: None)
    sampler = WindowSampler(
        panel, d.lookback, d.horizon, split=split, scaler=d.scaler, calendar=True, log=print
    )
    return PanelPart(sampler, "val", "validation", *_codes(panel, trained.state.panel))


def test_views_draw_the_interval_and_plot_writes_the_chosen_series(shops_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from rnnkit.tasks import views

    folder, path, _ = shops_run
    trained = load(folder / "run")
    stored = views(trained)
    assert [v.title for v in stored] == [f"test forecast of series s{i}" for i in range(4)]
    first = stored[0]
    lower, upper = first.bands["model 80%"]
    assert len(first.x) == 14 + 7 and np.isnan(lower[:14]).all()
    assert all(lo <= hi for lo, hi in zip(lower[14:], upper[14:]))
    assert first.values["actual"][14:] == pytest.approx(
        np.loadtxt(path, delimiter=",", skiprows=1, usecols=2)[53:60]
    )
    # known features: no future to forecast past the end with, so the last horizon is drawn
    ahead = views(trained, path, series=["s2"])
    assert [v.title for v in ahead] == [
        "forecast of the last 7 steps (known features) of series s2"
    ]
    assert ahead[0].x[14] == "2024-02-23"
    # without known features: the horizon past the end of the data, what predict returns
    plain = train("forecast", settings(path, max_steps=5), log=print).trained
    future = views(plain, path, series=["s2"])
    assert [v.title for v in future] == ["forecast of series s2"] and future[0].x[
        14
    ] == "2024-03-01"
    records = [r for r in predict(plain, path) if r["shop"] == "s2"]
    assert future[0].values["model"][14:] == pytest.approx(
        [r["forecast"] for r in records], rel=1e-5
    )
    code, _, err = run(
        capsys, "plot", folder / "run", "--series", "s1,s3", "--out", tmp_path / "p.png"
    )
    assert code == 0, err
    assert (tmp_path / "p.png").stat().st_size > 10_000
    code, _, err = run(
        capsys, "plot", folder / "run", "--series", "s9", "--out", tmp_path / "q.png"
    )
    assert code == 2 and "series: expected ids of the series stored with the run" in err


def test_a_many_series_run_resumes_and_reloads_with_its_spread(tmp_path):
    path = shops_csv(tmp_path / "shops.csv")
    first = train("forecast", settings(path, tmp_path / "run", max_steps=20), log=print)
    again = train(
        "forecast", settings(path, tmp_path / "run", max_steps=40), resume=True, log=print
    )
    assert (first.train.step, again.start_step, again.train.step) == (20, 20, 40)
    loaded = load(tmp_path / "run" / "last.pt")
    assert loaded.model.config.spread == pytest.approx(again.trained.model.config.spread)
    assert loaded.config.data.lookback == 14


def test_a_wide_file_trains_and_predicts_and_inspect_shows_the_interval(tmp_path, capsys):
    rng = np.random.default_rng(3)
    days = [str(np.datetime64("2024-01-01") + t) for t in range(60)]
    lines = ["day,north,south,west"] + [
        f"{d},"
        + ",".join(
            f"{10 * (s + 1) + 4 * np.sin(t * 2 * np.pi / 7) + rng.normal():.3f}" for s in range(3)
        )
        for t, d in enumerate(days)
    ]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    data = {"series_col": None, "wide": True, "date_col": "day", "target": "visitors"}
    run_ = train("forecast", settings(str(path), tmp_path / "run", data=data), log=print)
    assert run_.reports[-1].title.startswith("test: 3 windows of 3 series, horizon 7")
    records = predict(load(tmp_path / "run"), str(path))
    assert [(r["series"], r["day"]) for r in records[:2]] == [
        ("north", "2024-03-01"),
        ("north", "2024-03-02"),
    ]
    code, _, err = run(capsys, "inspect", tmp_path / "run", "--out", tmp_path / "page.html")
    assert code == 0, err
    page = (tmp_path / "page.html").read_text()
    assert "test forecast of series north" in page and "<polygon" in page


def test_the_report_says_when_ets_and_theta_are_missing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "statsmodels", None)  # as if not installed
    path = shops_csv(tmp_path / "shops.csv")
    test = train("forecast", settings(path, max_steps=5)).reports[-1]
    assert "ETS" not in test.rows["sMAPE %"] and "seasonal naive" in test.rows["sMAPE %"]
    assert test.details[0].startswith(
        "(ETS and Theta not computed: ETS and Theta baselines needs statsmodels, which is not "
        'installed: pip install "rnnkit[forecast]"'
    )
