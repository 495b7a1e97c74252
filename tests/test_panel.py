"""Many series (issue 19): the long and wide readers, frequency inference, calendar features,
future times, the time split, per-series scaling and the window sampler."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnkit.data.panel import read_panel
from rnnkit.data.panel_time import Frequency, infer_frequency, parse_times
from rnnkit.data.panel_windows import WindowSampler, fit_scales, panel_split
from rnnkit.errors import RnnkitError

# three daily series of different lengths and starts
SERIES = {
    "a": ("2024-01-01", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    "b": ("2024-01-03", [10.0, 20.0, 30.0, 40.0]),
    "c": ("2024-01-02", [-1.0, 0.5, 2.5, -3.0, 4.0]),
}


def _dates(start: str, n: int) -> list[str]:
    return [str(np.datetime64(start) + k) for k in range(n)]


def long_csv(path, rows=None):
    rows = rows or [
        f"{name},{date},{value}"
        for name, (start, values) in SERIES.items()
        for date, value in zip(_dates(start, len(values)), values)
    ]
    path.write_text("id,date,sales\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def wide_csv(path):
    dates = _dates("2024-01-01", 7)
    lines = ["date," + ",".join(SERIES)]
    for date in dates:
        cells = []
        for start, values in SERIES.values():
            k = (np.datetime64(date) - np.datetime64(start)).astype(int)
            cells.append(str(values[k]) if 0 <= k < len(values) else "")
        lines.append(date + "," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_same(one, other):
    assert one.ids == other.ids
    np.testing.assert_array_equal(one.offsets, other.offsets)
    np.testing.assert_array_equal(one.values, other.values)
    np.testing.assert_array_equal(one.times, other.times)
    assert one.freq == other.freq


def test_long_and_wide_readers_agree(tmp_path):
    long = read_panel(long_csv(tmp_path / "long.csv"), series_col="id", target="sales")
    wide = read_panel(wide_csv(tmp_path / "wide.csv"), wide=True, time_col="date")
    assert_same(long, wide)
    assert long.ids == ["a", "b", "c"] and long.lengths.tolist() == [6, 4, 5]
    assert long.values.dtype == np.float32 and long.times.dtype == np.dtype("datetime64[s]")
    assert long.freq == Frequency("daily", 7)
    b = long.series("b")
    assert (
        b.values.tolist() == [10.0, 20.0, 30.0, 40.0] and str(b.times[0]) == "2024-01-03T00:00:00"
    )
    assert np.shares_memory(b.values, long.values)  # a view
    # a mapping of columns and a DataFrame give the same panel
    columns = {"id": [], "date": [], "sales": []}
    for name, (start, values) in SERIES.items():
        columns["id"] += [name] * len(values)
        columns["date"] += _dates(start, len(values))
        columns["sales"] += values
    assert_same(read_panel(columns, series_col="id", target="sales"), long)
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(columns)
    frame["date"] = pandas.to_datetime(frame["date"])
    assert_same(read_panel(frame, series_col="id", target="sales"), long)


def test_rows_layout_and_integer_steps(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('"V1","V2","V3","V4"\n"H1","5","6","7"\n"H2","8","9",""\n', encoding="utf-8")
    panel = read_panel(path, wide="rows", period=24)
    assert panel.ids == ["H1", "H2"] and panel.values.tolist() == [5, 6, 7, 8, 9]
    assert panel.freq == Frequency("step", 24) and panel.times.tolist() == [1, 2, 3, 1, 2]
    assert panel.future_times("H2", 2).tolist() == [3, 4]
    assert panel.freq.calendar_names == ("season_sin", "season_cos")


def test_static_and_features_are_read_per_series():
    columns = {
        "id": ["x", "x", "y", "y"],
        "t": [1, 2, 1, 2],
        "v": [1, 2, 3, 4],
        "price": [0.5, 0.6, 0.7, 0.8],
        "promo": [0, 1, 1, 0],
        "store": ["s1", "s1", "s2", "s2"],
    }
    panel = read_panel(
        columns, series_col="id", time_col="t", target="v", features=["price"],
        known_features=["promo"], static=["store"],
    )  # fmt: skip
    assert panel.features[:, 0].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8])
    assert panel.known[:, 0].tolist() == [0, 1, 1, 0]
    assert panel.static == {"store": ["s1", "s2"]}
    codes, vocab = panel.static_codes()
    assert codes[:, 0].tolist() == [0, 1] and vocab == {"store": ["s1", "s2"]}
    columns["store"] = ["s1", "s3", "s2", "s2"]
    with pytest.raises(RnnkitError) as error:
        read_panel(columns, series_col="id", time_col="t", target="v", static=["store"])
    assert str(error.value) == (
        "static: expected one value of 'store' per series, got 's1' and 's3' in series 'x'"
    )


def message(**kwargs) -> str:
    with pytest.raises(RnnkitError) as error:
        read_panel(**kwargs)
    return str(error.value)


def test_bad_input_messages(tmp_path):
    rows = ["a,2024-01-01,1", "a,2024-01-02,2", "b,2024-01-01,3", "a,2024-01-02,4"]
    path = long_csv(tmp_path / "dup.csv", rows)
    assert message(data=path, series_col="id", target="sales") == (
        "times: expected one row per series and time, got series 'a' at time 2024-01-02 twice "
        "(data rows 2 and 4)"
    )
    rows = ["a,2024-01-01,1", "a,2024-01-02,2", "a,2024-01-04,3", "b,2024-01-01,3"]
    path = long_csv(tmp_path / "gap.csv", rows)
    assert message(data=path, series_col="id", target="sales") == (
        "times: expected a regular step (1 day) in every series, got series 'a' going from "
        "2024-01-02 to 2024-01-04 (a gap or an irregular date)"
    )
    rows = [
        "a,2024-01-01,1",
        "a,2024-01-02,",
        "a,2024-01-03,3",
        "b,2024-01-01,NaN",
        "b,2024-01-02,5",
    ]
    path = long_csv(tmp_path / "nan.csv", rows)
    assert message(data=path, series_col="id", target="sales") == (
        "target 'sales': expected no missing values, got 1 in series 'a' (2 series in all have "
        "some); fill them with fill='ffill' or 'interpolate' (--fill)"
    )
    notes = []
    filled = read_panel(path, series_col="id", target="sales", fill="interpolate", log=notes.append)
    assert filled.values.tolist()[:3] == [1.0, 2.0, 3.0]
    assert notes == ["note: filled 2 missing target 'sales' value(s) in 2 series (interpolate)"]
    path = tmp_path / "one.csv"
    path.write_text("date,Temp\n2024-01-01,1\n2024-01-02,2\n", encoding="utf-8")
    assert message(data=path, wide=True, time_col="date") == (
        "wide: expected two or more series columns with wide=True, got 1 (Temp); read one "
        "series without wide"
    )
    assert message(data=path, wide=True, series_col="date") == (
        "series_col: expected none with wide=True (one column per series), got 'date'; give "
        "series_col for a long file, without wide"
    )
    assert message(data=path, target="Temp") == (
        "series_col: expected the column of series ids of one.csv (long layout), got none; "
        "columns: date, Temp"
    )
    assert message(data=path, series_col="id", target="Temp") == (
        "series_col: one.csv has no column 'id'; available: date, Temp"
    )
    path.write_text("id,date,v\na,monday,1\n", encoding="utf-8")
    assert message(data=path, series_col="id", target="v") == (
        "time column 'date': expected dates (2020-01-31, 2020-01-31 13:00, 2020-01) or integer "
        "steps, got 'monday' (row 1)"
    )


def test_unsorted_times_are_sorted_with_a_note(tmp_path):
    rows = ["a,2024-01-03,3", "b,2024-01-01,9", "a,2024-01-01,1", "a,2024-01-02,2"]
    notes = []
    panel = read_panel(long_csv(tmp_path / "s.csv", rows), series_col="id", target="sales",
                       log=notes.append)  # fmt: skip
    assert panel.series("a").values.tolist() == [1.0, 2.0, 3.0]
    assert notes == ["note: the times of 1 series were not in order (a); sorted them by time"]
    assert panel.notes == [notes[0].removeprefix("note: ")]


@pytest.mark.parametrize(
    ("times", "name", "period"),
    [
        (["2024-03-01 00:00", "2024-03-01 01:00", "2024-03-01 02:00"], "hourly", 24),
        (["2024-03-01", "2024-03-02", "2024-03-03"], "daily", 7),
        (["2024-03-01", "2024-03-08", "2024-03-15"], "weekly", 52),
        (["2024-01-31", "2024-02-29", "2024-03-31"], "monthly", 12),
        (["1949-01", "1949-02", "1949-03"], "monthly", 12),
        (["1998-01-01", "1998-04-01", "1998-07-01"], "quarterly", 4),
        (["2001-01-01", "2002-01-01", "2003-01-01"], "yearly", 1),
        (["5", "6", "7"], "step", 1),
    ],
)
def test_frequency_inference(times, name, period):
    parsed = parse_times(np.array(times), "t")
    # two series: the same times, and the same shifted by one step of the frequency
    freq = infer_frequency(parsed[:2], np.array([0, 2]))
    both = np.concatenate([parsed, freq.future_times(parsed[-1], 3)])
    again = infer_frequency(both, np.array([0, 3, 6]))
    assert (again.name, again.period) == (name, period) == (freq.name, freq.period)


def test_calendar_features_and_future_times():
    hourly = Frequency("hourly", 24)
    monday_six = parse_times(np.array(["2024-01-01 06:00"]), "t")  # a Monday
    np.testing.assert_allclose(hourly.calendar(monday_six), [[1, 0, 0, 1]], atol=1e-6)
    daily = Frequency("daily", 7)
    sunday = parse_times(np.array(["2024-01-07"]), "t")
    angle = 2 * np.pi * 6 / 7
    np.testing.assert_allclose(
        daily.calendar(sunday), [[np.sin(angle), np.cos(angle), np.sin(2 * np.pi * 6 / 366),
                                  np.cos(2 * np.pi * 6 / 366)]], atol=1e-6)  # fmt: skip
    april = parse_times(np.array(["1949-04"]), "t")
    np.testing.assert_allclose(Frequency("monthly", 12).calendar(april), [[1, 0]], atol=1e-6)
    np.testing.assert_allclose(Frequency("quarterly", 4).calendar(april), [[1, 0]], atol=1e-6)
    assert Frequency("yearly", 1).calendar(april).shape == (1, 0)
    month_end = np.datetime64("2024-01-31", "s")
    assert [str(t)[:10] for t in Frequency("monthly", 12).future_times(month_end, 3)] == [
        "2024-02-29", "2024-03-31", "2024-04-30"]  # fmt: skip
    mid = np.datetime64("2024-01-15T10:00", "s")
    assert [str(t) for t in Frequency("quarterly", 4).future_times(mid, 2)] == [
        "2024-04-15T10:00:00", "2024-07-15T10:00:00"]  # fmt: skip
    assert str(hourly.future_times(np.datetime64("2024-01-01T23:00", "s"), 1)[0]) == (
        "2024-01-02T00:00:00"
    )
    assert Frequency("step", 1, 5).future_times(10, 2).tolist() == [15, 20]


def toy_panel(n_series=4, length=30, seed=0):
    rng = np.random.default_rng(seed)
    columns = {"id": [], "t": [], "v": []}
    for s in range(n_series):
        n = length + 3 * s
        columns["id"] += [f"s{s}"] * n
        columns["t"] += list(range(1, n + 1))
        columns["v"] += list(rng.normal(10 * (s + 1), s + 1, n))
    return columns


def test_scaling_and_training_windows_use_the_training_part_only():
    columns = toy_panel()
    panel = read_panel(columns, series_col="id", time_col="t", target="v", period=4)
    split = panel_split(panel, horizon=3)
    assert split.train_end.tolist() == [24, 27, 30, 33] and split.val_end.tolist() == [
        27,
        30,
        33,
        36,
    ]
    for kind in ("mean", "standard"):
        scales = fit_scales(panel, split, kind)
        for s in range(len(panel)):
            train = panel.series(s).values[: split.train_end[s]].astype(np.float64)
            expected = (
                (0.0, np.abs(train).mean()) if kind == "mean" else (train.mean(), train.std())
            )
            np.testing.assert_allclose([scales.loc[s], scales.scale[s]], expected, rtol=1e-5)
    # change the validation and test parts of series s1: nothing in training moves
    changed = dict(columns)
    changed["v"] = list(columns["v"])
    start = 30  # s1 begins after s0's 30 rows; its last 6 of 33 steps are validation and test
    for k in range(start + 27, start + 33):
        changed["v"][k] = 1e6
    other = read_panel(changed, series_col="id", time_col="t", target="v", period=4)
    one, two = WindowSampler(panel, 8, 3), WindowSampler(other, 8, 3)
    np.testing.assert_array_equal(one.scales.scale, two.scales.scale)
    for a, b in zip(one.epoch(16, seed=3), two.epoch(16, seed=3), strict=True):
        assert torch.equal(a.inputs, b.inputs)
    test_a, test_b = next(one.epoch(64, part="test")), next(two.epoch(64, part="test"))
    assert not torch.equal(test_a.inputs, test_b.inputs)  # the test windows do see it


def test_windows_are_the_series_slices():
    panel = read_panel(toy_panel(), series_col="id", time_col="t", target="v", period=4)
    sampler = WindowSampler(panel, 8, 3, scaler="standard")
    assert sampler.channels == ["v", "season_sin", "season_cos"]
    assert sampler.past_channels == [0] and sampler.known_channels == [1, 2]
    # windows whose horizon lies in the training part: train_end - lookback - horizon + 1 each
    assert len(sampler) == sum(n - 6 - 11 + 1 for n in (30, 33, 36, 39))
    batches = list(sampler.epoch(7, epoch=1, seed=0))
    assert sum(len(b.series) for b in batches) == len(sampler)
    for batch in batches:
        assert batch.inputs.shape[1:] == (11, 3) and batch.inputs.dtype == torch.float32
        for i in range(len(batch.series)):
            series = panel.series(int(batch.series[i]))
            first = int(batch.first[i])
            raw = series.values[first - 8 : first + 3]
            scaled = batch.inputs[i, :, 0] * batch.scale[i] + batch.loc[i]
            np.testing.assert_allclose(scaled.numpy(), raw, rtol=1e-5, atol=1e-4)
            assert first + 3 <= sampler.split.train_end[int(batch.series[i])]
    # the epoch order is seeded; another epoch is another order
    again = list(sampler.epoch(7, epoch=1, seed=0))
    assert all(torch.equal(a.first, b.first) for a, b in zip(batches, again))
    assert not torch.equal(batches[0].first, next(sampler.epoch(7, epoch=2)).first)
    test = next(iter(sampler.epoch(100, part="test")))
    assert test.first.tolist() == [27, 30, 33, 36]  # one window per series: its last 3 steps


def test_series_weighting_and_short_series_skipped():
    columns = toy_panel(n_series=3, length=14)  # lengths 14, 17, 20: training 8, 11, 14
    panel = read_panel(columns, series_col="id", time_col="t", target="v", period=4)
    messages = []
    sampler = WindowSampler(panel, 8, 3, weighting="series", log=messages.append)
    assert sampler.skipped == ["s0"]
    assert messages == [
        (
            "skipping 1 series for training: their training part is shorter than lookback + "
            "horizon (8 + 3): s0 (14 steps)"
        )
    ]
    series = np.concatenate([b.series.numpy() for b in sampler.epoch(4)])
    assert len(series) == len(sampler) and set(series.tolist()) <= {1, 2}
    with pytest.warns(UserWarning, match="skipping 1 series for training"):
        WindowSampler(panel, 8, 3)
    with pytest.raises(RnnkitError, match="weighting: expected one of windows, series, got 'x'"):
        WindowSampler(panel, 8, 3, weighting="x")


def test_reading_does_not_import_pandas():
    code = (
        "import sys; from rnnkit.data.panel import read_panel; "
        "read_panel({'id': ['a', 'a'], 't': [1, 2], 'v': [1, 2]}, series_col='id', target='v'); "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_m4_hourly_long_and_rows_files_agree(shared_data):
    folder = shared_data / "m4-hourly"
    long = read_panel(folder / "Hourly-train-long.csv", series_col="series", time_col="time",
                      period=24)  # fmt: skip
    rows = read_panel(folder / "Hourly-train.csv", wide="rows", period=24)
    assert_same(long, rows)
    assert len(long) == 414 and int(long.offsets[-1]) == 353_500
    assert sorted(set(long.lengths.tolist())) == [700, 960]
    sampler = WindowSampler(long, 168, 48)
    assert len(sampler) == 169 * (700 - 96 - 216 + 1) + 245 * (960 - 96 - 216 + 1)
    test = read_panel(folder / "Hourly-test-long.csv", series_col="series", time_col="time")
    assert test.series("H1").times[0] == long.series("H1").times[-1] + 1


def test_tourism_long_and_wide_files(shared_data):
    folder = shared_data / "australian-tourism"
    long = read_panel(folder / "australian_tourism_long.csv", series_col="series")
    assert long.freq == Frequency("quarterly", 4) and len(long) == 96
    assert str(long.future_times("Total", 1)[0]) == "2007-01-01T00:00:00"
    wide = read_panel(folder / "australian_tourism.csv", wide=True, period=4)
    assert wide.ids == long.ids and wide.freq == Frequency("step", 4)
    np.testing.assert_array_equal(wide.values, long.values)


def covariate_panel():
    columns = {"id": [], "t": [], "v": [], "price": [], "promo": []}
    for name, n in (("x", 20), ("y", 24)):
        columns["id"] += [name] * n
        columns["t"] += [str(np.datetime64("2024-01-01") + k) for k in range(n)]
        columns["v"] += [float(k % 7 + (name == "y") * 10) for k in range(n)]
        columns["price"] += [100.0 + k for k in range(n)]
        columns["promo"] += [float(k % 2) for k in range(n)]
    return columns


def test_feature_channels_are_standardised_on_training_parts():
    panel = read_panel(covariate_panel(), series_col="id", time_col="t", target="v",
                       features=["price"], known_features=["promo"])  # fmt: skip
    sampler = WindowSampler(panel, 5, 2)
    assert sampler.channels[:3] == ["v", "price", "promo"]
    assert sampler.past_channels == [0, 1] and sampler.known_channels == [2, 3, 4, 5, 6]
    train = np.concatenate([np.arange(16), 20 + np.arange(20)])  # 20 - 4 and 24 - 4 steps
    price = panel.features[train, 0]
    np.testing.assert_allclose(sampler.feature_scales.loc, [price.mean(), 0.5], rtol=1e-6)
    batch = next(sampler.epoch(4, seed=0))
    for i in range(4):
        s, first = int(batch.series[i]), int(batch.first[i])
        raw = panel.series(s).features[first - 5 : first + 2, 0]
        expected = (raw - price.mean()) / price.std()
        np.testing.assert_allclose(batch.inputs[i, :, 1].numpy(), expected, rtol=1e-5)
    from rnnkit.data.panel_windows import Scales

    again = Scales.from_dict(sampler.scales.to_dict())
    np.testing.assert_array_equal(again.scale, sampler.scales.scale)
    with pytest.raises(RnnkitError, match="scales: expected keys 'kind', 'loc' and 'scale', got"):
        Scales.from_dict({"loc": [1.0]})


def test_forecast_inputs_read_history_and_the_known_future():
    from rnnkit.data.panel_windows import forecast_inputs

    panel = read_panel(covariate_panel(), series_col="id", time_col="t", target="v",
                       known_features=["promo"])  # fmt: skip
    ahead = {"id": ["x"] * 3 + ["y"] * 3, "promo": [1, 0, 1, 0, 1, 0]}
    ahead["t"] = [str(np.datetime64("2024-01-21") + k) for k in range(3)]
    ahead["t"] += [str(np.datetime64("2024-01-25") + k) for k in range(3)]
    future = read_panel(ahead, series_col="id", time_col="t", target=None,
                        known_features=["promo"])  # fmt: skip
    batch, times = forecast_inputs(panel, 6, 3, future=future)
    assert batch.inputs.shape == (2, 9, 1 + 1 + 4)
    assert [str(t)[:10] for t in times[0]] == ["2024-01-21", "2024-01-22", "2024-01-23"]
    x = panel.series("x")
    scale = np.abs(x.values).mean()  # the whole history: nothing is held out at prediction
    np.testing.assert_allclose(batch.inputs[0, :6, 0].numpy(), x.values[-6:] / scale, rtol=1e-6)
    assert batch.inputs[0, 6:, 0].tolist() == [0, 0, 0]  # the future target: unknown
    assert batch.inputs[0, 6:, 1].tolist() == [1, 0, 1] and batch.inputs[1, 6:, 1].tolist() == [
        0,
        1,
        0,
    ]
    np.testing.assert_allclose(
        batch.inputs[0, 6:, 2:].numpy(), panel.freq.calendar(times[0]), atol=1e-6
    )
    with pytest.raises(RnnkitError) as error:
        forecast_inputs(panel, 6, 4, future=future)
    assert str(error.value) == (
        "known_features: expected promo at the 4 times after series 'x' ends, got none at "
        "2024-01-24 (1 missing)"
    )
    with pytest.raises(RnnkitError, match=r"^known_features: expected the values of promo over"):
        forecast_inputs(panel, 6, 3)
    with pytest.raises(RnnkitError) as error:
        forecast_inputs(panel, 21, 3, future=future)
    assert str(error.value) == (
        "lookback: expected at least 21 steps of history in every series to forecast, got 20 "
        "in series 'x' (1 series in all are shorter)"
    )


def test_more_bad_input_messages():
    base = {"id": ["a", "a", "a"], "t": ["2024-01-01", "", "2024-01-03"], "v": [1, 2, 3]}
    assert message(data=base, series_col="id", target="v") == (
        "time column 't': expected a date or step in every row, got '' (row 2)"
    )
    assert message(data={"id": ["a"], "t": [1, 2], "v": [1, 2]}, series_col="id") == (
        "data: expected columns of one length, got id 1, t 2, v 2"
    )
    assert message(data={"id": [], "t": [], "v": []}, series_col="id") == (
        "data: expected at least one row in the columns, got none"
    )
    months = {"id": ["a"] * 3, "t": ["2024-01", "2024-02", "2024-04"], "v": [1, 2, 3]}
    assert message(data=months, series_col="id", target="v") == (
        "times: expected a regular step (1 month) in every series, got series 'a' going from "
        "2024-02-01 to 2024-04-01 (a gap or an irregular date)"
    )
    steps = {"id": ["a"] * 3, "t": [1, 2, 10**12], "v": [1, 2, 3]}  # no huge allocation
    assert message(data=steps, series_col="id", target="v").startswith(
        "times: expected a regular step (step 1) in every series, got series 'a' going from 2 to"
    )
    assert message(data=months, series_col="id", target="v", freq="daily", period=0) == (
        "period: expected >= 1, got 0"
    )


def test_concat_panels_continues_each_series(shared_data):
    from rnnkit.data.panel import concat_panels

    one = read_panel({"id": ["a", "a"], "t": [1, 2], "v": [1, 2]}, series_col="id", target="v")
    with pytest.raises(RnnkitError, match="^times: expected one row per series and time, got "):
        concat_panels(one, one)  # both count from 1: the second does not continue the first
    folder = shared_data / "m4-hourly"
    test = read_panel(folder / "Hourly-test-long.csv", series_col="series", time_col="time")
    train = read_panel(folder / "Hourly-train-long.csv", series_col="series", time_col="time",
                       period=24)  # fmt: skip
    whole = concat_panels(train, test)
    assert whole.freq == Frequency("step", 24) and whole.ids == train.ids
    np.testing.assert_array_equal(whole.lengths, train.lengths + 48)
    h1 = whole.series("H1")
    np.testing.assert_array_equal(h1.values[-48:], test.series("H1").values)
    split = panel_split(whole, 48, val=0)
    np.testing.assert_array_equal(split.val_end, train.lengths)  # the competition's split
