"""Time series data: CSV reading and its errors, missing values, windows, chronological split, scaler."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.data.timeseries import (
    StandardScaler,
    calendar_features,
    chronological_split,
    fill_missing,
    make_windows,
    next_dates,
    read_series,
    seasonal_period,
    window_starts,
)
from rnnkit.errors import RnnkitError


def write(tmp_path, text: str, name: str = "s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_series_columns_dates_values(tmp_path):
    path = write(tmp_path, '"Date","Temp","Wind"\n"2020-01-01",1.5,3\n"2020-01-02",2.5,4\n')
    series = read_series(path)
    assert series.dates == ["2020-01-01", "2020-01-02"]
    assert series.columns == ["Temp", "Wind"]
    assert series.date_column == "Date"
    np.testing.assert_array_equal(series.values, [[1.5, 3.0], [2.5, 4.0]])
    np.testing.assert_array_equal(series.column("Wind"), [3.0, 4.0])
    only = read_series(path, columns=["Wind"])
    assert only.columns == ["Wind"] and only.values.shape == (2, 1)


def test_unknown_column_lists_available(tmp_path):
    path = write(tmp_path, "Date,Temp,Wind\n2020-01-01,1,2\n")
    with pytest.raises(RnnkitError) as error:
        read_series(path, columns=["Tmp"])
    assert str(error.value) == "s.csv has no value column 'Tmp'; available: Temp, Wind"
    with pytest.raises(RnnkitError, match="no date column 'When'; available: Date, Temp, Wind"):
        read_series(path, date_column="When")
    with pytest.raises(RnnkitError, match="available: Temp, Wind"):
        read_series(path).column("Rain")


def test_non_numeric_value_gives_row_and_line(tmp_path):
    path = write(tmp_path, "Date,Temp\n2020-01-01,1\n2020-01-02,2\n2020-01-03,warm\n")
    with pytest.raises(RnnkitError) as error:
        read_series(path)
    assert str(error.value) == "s.csv row 3 (line 4), column 'Temp': expected a number, got 'warm'"


def test_missing_values_error_unless_filled(tmp_path):
    path = write(tmp_path, "Date,Temp\nd1,1\nd2,\nd3,NA\nd4,7\n")
    with pytest.raises(RnnkitError) as error:
        read_series(path)
    assert "column 'Temp' has 2 missing value(s) (rows 2, 3)" in str(error.value)
    assert "fill them with --fill ffill or --fill interpolate" in str(error.value)  # the option
    np.testing.assert_array_equal(read_series(path, fill="ffill").column("Temp"), [1, 1, 1, 7])
    np.testing.assert_array_equal(
        read_series(path, fill="interpolate").column("Temp"), [1, 3, 5, 7]
    )
    assert read_series(path, fill="ffill").filled == {"Temp": 2}


def test_fill_edges_and_empty():
    nan = np.nan
    np.testing.assert_array_equal(fill_missing(np.array([nan, 2, nan]), "ffill"), [2, 2, 2])
    np.testing.assert_array_equal(
        fill_missing(np.array([nan, 2, nan, 4, nan]), "interpolate"), [2, 2, 3, 4, 4]
    )
    with pytest.raises(RnnkitError, match="no value at all"):
        fill_missing(np.array([nan, nan]), "ffill")
    with pytest.raises(RnnkitError, match="fill must be one of ffill, interpolate"):
        fill_missing(np.array([1.0]), "mean")


def test_bad_files(tmp_path):
    with pytest.raises(RnnkitError, match="series file not found"):
        read_series(tmp_path / "nope.csv")
    with pytest.raises(RnnkitError, match="is empty"):
        read_series(write(tmp_path, ""))
    with pytest.raises(RnnkitError, match="header but no data rows"):
        read_series(write(tmp_path, "Date,Temp\n"))
    with pytest.raises(RnnkitError, match=r"row 2 \(line 3\) has 3 cells, expected 2"):
        read_series(write(tmp_path, "Date,Temp\nd1,1\nd2,2,3\n"))
    with pytest.raises(RnnkitError, match="is a directory"):
        read_series(tmp_path)
    (tmp_path / "latin1.csv").write_bytes(b"Date,Temp\nd\xe9,1\n")
    with pytest.raises(RnnkitError, match="latin1.csv is not UTF-8 text: byte 0xe9 at byte offset"):
        read_series(tmp_path / "latin1.csv")


def test_windows_exact_content():
    target = np.arange(10.0)
    features = np.stack([target, target * 10], axis=1)  # (T, 2)
    x, y, first = make_windows(features, target, lookback=3, horizon=2)
    assert x.shape == (6, 3, 2) and y.shape == (6, 2)
    np.testing.assert_array_equal(x[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(x[0, :, 1], [0, 10, 20])
    np.testing.assert_array_equal(y[0], [3, 4])
    np.testing.assert_array_equal(y[-1], [8, 9])
    np.testing.assert_array_equal(first, np.arange(3, 9))


def test_lookback_plus_horizon_longer_than_series():
    with pytest.raises(RnnkitError) as error:
        window_starts(10, lookback=8, horizon=3)
    assert (
        str(error.value) == "lookback + horizon (8 + 3 = 11) is longer than the series (10 steps)"
    )
    with pytest.raises(RnnkitError, match="lookback must be >= 1, got 0"):
        window_starts(10, lookback=0, horizon=1)


def test_chronological_split_and_windows_stay_in_their_part():
    split = chronological_split(100, val_size=0.1, test_size=0.2)
    assert (split.train_end, split.val_end) == (70, 80)
    assert chronological_split(144, val_size=12, test_size=24).bounds("test") == (120, 144)
    target = np.arange(100.0)
    features = target[:, None]
    for part in ("train", "val", "test"):
        start, end = split.bounds(part)
        x, y, first = make_windows(features, target, 5, 3, start, end)
        assert y.min() >= start and y.max() < end  # targets inside the part
        assert np.all(x[:, -1, 0] < y[:, 0])  # inputs strictly before the targets: time order kept
        assert np.all(np.diff(first) == 1)  # consecutive, not shuffled
    _, y_test, _ = make_windows(features, target, 5, 1, *split.bounds("test"))
    np.testing.assert_array_equal(y_test[:, 0], np.arange(80, 100))  # every test step is forecast
    with pytest.raises(RnnkitError, match="leave no training steps"):
        chronological_split(10, val_size=5, test_size=5)


def test_scaler_fit_on_training_only_and_plain_types():
    values = np.array([[1.0, 5.0], [3.0, 5.0], [100.0, 7.0]])
    scaler = StandardScaler.fit(values[:2])  # the training rows only
    np.testing.assert_array_equal(scaler.mean, [2.0, 5.0])
    np.testing.assert_array_equal(scaler.std, [1.0, 0.0])  # second column constant in training
    data = scaler.to_dict()
    assert json.loads(json.dumps(data)) == {"mean": [2.0, 5.0], "std": [1.0, 0.0]}
    again = StandardScaler.from_dict(data)
    z = again.transform(values)
    np.testing.assert_array_equal(z[:, 0], [-1.0, 1.0, 98.0])
    np.testing.assert_array_equal(z[:, 1], [0.0, 0.0, 2.0])
    # A column constant in training comes back as exactly its constant, whatever the model says.
    np.testing.assert_array_equal(again.inverse_transform(np.array([[0.5, 123.0]])), [[2.5, 5.0]])


def test_calendar_features_and_next_dates():
    features = calendar_features(["2021-01-01", "2021-07-02", "1949-04"])
    np.testing.assert_allclose(features[0], [0.0, 1.0])
    np.testing.assert_allclose(
        features[1], [np.sin(2 * np.pi * 182 / 365), np.cos(2 * np.pi * 182 / 365)]
    )
    np.testing.assert_allclose(features[2], [1.0, 0.0], atol=1e-12)  # April: a quarter of the year
    with pytest.raises(RnnkitError, match="row 1 has 'monday'"):
        calendar_features(["monday"])
    assert next_dates(["1990-12-30", "1990-12-31"], 2) == ["1991-01-01", "1991-01-02"]
    assert next_dates(["1960-11", "1960-12"], 2) == ["1961-01", "1961-02"]
    assert next_dates(["2020-01-01", "2020-01-08"], 1) == ["2020-01-15"]
    assert next_dates(["a", "b"], 2) == ["+1", "+2"]


def test_melbourne_file_reads(shared_data):
    series = read_series(shared_data / "timeseries" / "daily-min-temperatures.csv")
    assert len(series) == 3650 and series.columns == ["Temp"]


def test_next_dates_past_the_year_9999_count_steps():
    """Found by fuzzing: a daily series ending on 9999-12-31 (or a monthly one on 9999-12)
    raised OverflowError / ValueError out of datetime."""
    assert next_dates(["9999-12-30", "9999-12-31"], 2) == ["+1", "+2"]
    assert next_dates(["9999-11", "9999-12"], 1) == ["+1"]
    assert next_dates(["9999-12-29", "9999-12-30"], 1) == ["9999-12-31"]


def test_messages_naming_columns_stay_one_line(tmp_path):
    """Found by fuzzing: a file whose lines end in U+2028 (not a line end for csv, one for
    str.splitlines) is one huge header; the message listed it whole, line separators and all."""
    path = tmp_path / "s.csv"
    rows = "\u2028".join(f"2020-01-{day:02},{day}" for day in range(1, 29))
    path.write_text("Date,Temp\u2028" + rows + "\n2020-02-01,5\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as error:
        read_series(path, columns=["Temp"])
    message = str(error.value)
    assert len(message.splitlines()) == 1 and len(message) < 400, message
    assert message.endswith(", ... (29 in all)")
    assert message.startswith("s.csv has no value column 'Temp'; available: '")
    path.write_text("Date,Temp,\nx,1,2\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="has no value column 'Rain'; available: Temp, ''$"):
        read_series(path, columns=["Rain"])


def test_hourly_dates_period_calendar_and_next_dates():
    """Issue 19: hourly timestamps were read as days (period 1, calendar dropped, dates "+1")."""
    hours = [f"2020-03-01 {h:02}:00" for h in range(24)] + ["2020-03-02 00:00"]
    assert seasonal_period(hours) == 24
    assert seasonal_period(["2020-01-01", "2020-01-02"]) == 365
    assert seasonal_period(["2020-01-01", "2020-01-08"]) == 52
    assert seasonal_period(["1949-01", "1949-02"]) == 12
    assert seasonal_period(["a", "b"]) == 1
    features = calendar_features(hours)  # the hour of the day
    np.testing.assert_allclose(features[6], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(features[24], [0.0, 1.0], atol=1e-12)
    assert next_dates(hours, 2) == ["2020-03-02 01:00", "2020-03-02 02:00"]
    assert next_dates(["2020-03-01T22:00:00", "2020-03-01T23:00:00"], 1) == ["2020-03-02T00:00:00"]
    # daily dates written with a midnight time keep their daily calendar (day of the year)
    np.testing.assert_allclose(
        calendar_features(["2021-01-01 00:00:00", "2021-01-02 00:00:00"])[1],
        [np.sin(2 * np.pi / 365), np.cos(2 * np.pi / 365)],
    )


def test_repeated_or_unsorted_dates_are_refused(tmp_path):
    """Issue 19: a long file of many series read as one glued them together; a shuffled file
    trained with its dates out of order."""
    path = write(tmp_path, "series,time,value\nH1,1,5\nH1,2,6\nH2,1,7\n")
    with pytest.raises(RnnkitError) as error:
        read_series(path, columns=["value"])
    assert str(error.value) == (
        "s.csv date column 'series' repeats 'H1' (rows 1 and 2): expected one row per date; a "
        "file of several series needs --series-col (series_col) naming the column that tells "
        "them apart"
    )
    with pytest.raises(RnnkitError, match="date column 'time' repeats '1' \\(rows 1 and 3\\)"):
        read_series(path, date_column="time", columns=["value"])
    path = write(tmp_path, "Date,Temp\n2020-01-02,1\n2020-01-03,2\n2020-01-01,3\n")
    with pytest.raises(RnnkitError) as error:
        read_series(path)
    assert str(error.value) == (
        "s.csv date column 'Date' is not in order: row 3 '2020-01-01' comes after row 2 "
        "'2020-01-03'; expected increasing dates: sort the file by date"
    )
    path = write(tmp_path, "step,v\n3,1\n2,2\n")
    with pytest.raises(RnnkitError, match="row 2 '2' comes after row 1 '3'"):
        read_series(path)
    # labels that are neither dates nor steps are read in order, as before
    assert len(read_series(write(tmp_path, "when,v\nb,1\na,2\n"))) == 2
