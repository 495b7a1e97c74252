"""``rnnkit train forecast``, ``rnnkit train synthetic`` and their evaluate/predict, in-process
through ``main([...])`` on tiny files, with every bad input of the issue that concerns them."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from rnnkit.cli.main import main


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def series_csv(path, n=80, *, other=True, bad=None):
    lines = ["Date,Value,Other" if other else "Date,Value"]
    for i in range(n):
        value = f"{5 + 3 * math.sin(2 * math.pi * i / 12):.5f}"
        if bad and i in bad:
            value = bad[i]
        row = f"2020-{1 + i // 28:02d}-{1 + i % 28:02d},{value}"
        lines.append(row + (f",{i % 7}" if other else ""))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


FAST = ["--steps", "20", "--eval-every", "10", "--warmup", "2", "--hidden", "8", "--no-progress"]


def run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code, out, err, expected):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rnnkit: error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err + out


def test_forecast_train_evaluate_predict(tmp_path, capsys):
    csv = series_csv(tmp_path / "s.csv")
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, ["train", "forecast", "--csv", csv, "--target", "Value",
                                   "--features", "Other", "--lookback", "12", "--horizon", "2",
                                   "--period", "12", "--out", str(out), *FAST])
    assert code == 0
    assert "test: 15 windows" in stdout and "persistence" in stdout and "seasonal naive (period 12)" in stdout
    assert {p.name for p in out.iterdir()} >= {"best.pt", "last.pt"}

    code, stdout, _ = run(capsys, ["evaluate", str(out), "--data", csv])
    assert code == 0
    assert "s.csv: 67 windows" in stdout and "MAE step 2" in stdout

    code, stdout, _ = run(capsys, ["predict", str(out), "--input", csv])
    assert code == 0
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [(r["date"], r["step"]) for r in rows] == [("2020-03-25", 1), ("2020-03-26", 2)]
    assert all(isinstance(r["forecast"], float) for r in rows)

    target = tmp_path / "forecasts.jsonl"
    code, stdout, _ = run(capsys, ["predict", str(out), "--input", csv, "--output", str(target)])
    assert code == 0 and stdout == ""
    assert [json.loads(line) for line in target.read_text().splitlines()] == rows


def test_forecast_predict_from_stdin_autoregressive_calendar(tmp_path, capsys, monkeypatch):
    csv = series_csv(tmp_path / "s.csv", other=False)
    out = tmp_path / "run"
    code, _, _ = run(capsys, ["train", "forecast", "--csv", csv, "--target", "Value", "--lookback", "6",
                              "--horizon", "3", "--mode", "autoregressive", "--calendar", "--out",
                              str(out), *FAST])
    assert code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO((tmp_path / "s.csv").read_text()))
    code, stdout, _ = run(capsys, ["predict", str(out), "--input", "-"])
    assert code == 0
    assert [json.loads(line)["date"] for line in stdout.splitlines()] == ["2020-03-25", "2020-03-26", "2020-03-27"]


def test_forecast_fill_options(tmp_path, capsys):
    csv = series_csv(tmp_path / "gaps.csv", other=False, bad={5: "", 6: "NA"})
    base = ["train", "forecast", "--csv", csv, "--target", "Value", "--lookback", "6", *FAST]
    out = tmp_path / "none"
    code, stdout, err = run(capsys, [*base, "--out", str(out)])
    assert_user_error(code, stdout, err, "gaps.csv column 'Value' has 2 missing value(s) (rows 6, 7)")
    assert not out.exists()  # nothing written on a bad input
    for method in ("ffill", "interpolate"):
        code, stdout, _ = run(capsys, [*base, "--fill", method, "--out", str(tmp_path / method)])
        assert code == 0 and "test:" in stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--target", "Valu"], "s.csv has no value column 'Valu'; available: Value, Other"),
        (["--target", "Value", "--features", "Wind"], "s.csv has no value column 'Wind'; available: Value, Other"),
        (["--target", "Value", "--date-col", "When"], "no date column 'When'; available: Date, Value, Other"),
        (["--target", "Value", "--lookback", "70", "--horizon", "20"],
         "lookback + horizon (70 + 20 = 90) is longer than the series (80 steps)"),
        (["--target", "Value", "--features", "Other", "--mode", "autoregressive"],
         "autoregressive mode feeds its own forecasts back"),
        (["--target", "Value", "--val-size", "40", "--test-size", "40"], "leave no training steps"),
    ],
)
def test_forecast_bad_options(tmp_path, capsys, argv, expected):
    csv = series_csv(tmp_path / "s.csv")
    out = tmp_path / "run"
    code, stdout, err = run(capsys, ["train", "forecast", "--csv", csv, *argv, "--out", str(out), *FAST])
    assert_user_error(code, stdout, err, expected)
    assert not out.exists()


def test_forecast_bad_files(tmp_path, capsys):
    bad = series_csv(tmp_path / "bad.csv", bad={9: "warm"})
    out = tmp_path / "run"
    code, stdout, err = run(capsys, ["train", "forecast", "--csv", bad, "--target", "Value", "--out", str(out)])
    assert_user_error(code, stdout, err, "bad.csv row 10 (line 11), column 'Value': expected a number, got 'warm'")
    code, stdout, err = run(capsys, ["train", "forecast", "--csv", str(tmp_path / "no.csv"), "--target", "Value",
                                     "--out", str(out)])
    assert_user_error(code, stdout, err, "series file not found")
    assert not out.exists()


def test_forecast_evaluate_and_predict_bad_input(tmp_path, capsys):
    csv = series_csv(tmp_path / "s.csv")
    out = tmp_path / "run"
    assert run(capsys, ["train", "forecast", "--csv", csv, "--target", "Value", "--lookback", "12",
                        "--out", str(out), *FAST])[0] == 0
    short = series_csv(tmp_path / "short.csv", n=5)
    code, stdout, err = run(capsys, ["predict", str(out), "--input", short])
    assert_user_error(code, stdout, err, "the input has 5 steps, fewer than the lookback of 12")
    code, stdout, err = run(capsys, ["evaluate", str(out), "--data", short])
    assert_user_error(code, stdout, err, "lookback + horizon (12 + 1 = 13) is longer than the series (5 steps)")
    other = tmp_path / "other.csv"
    other.write_text("Date,Temp\n2020-01-01,1\n")
    code, stdout, err = run(capsys, ["evaluate", str(out), "--data", str(other)])
    assert_user_error(code, stdout, err, "other.csv has no value column 'Value'; available: Temp")
    target = tmp_path / "never.jsonl"
    code, stdout, err = run(capsys, ["predict", str(out), "--input", short, "--output", str(target)])
    assert code == 2 and not target.exists()


def test_synthetic_train_evaluate_predict(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sine"
    code, stdout, _ = run(capsys, ["train", "synthetic", "--task", "sine", "--out", str(out), "--n-test", "50",
                                   "--steps", "20", "--eval-every", "10", "--no-progress"])
    assert code == 0
    assert "MSE (steps 2..L, unseen phases)" in stdout and "persistence" in stdout
    code, stdout, _ = run(capsys, ["evaluate", str(out)])
    assert code == 0 and "sine: 50 test examples" in stdout
    code, stdout, err = run(capsys, ["evaluate", str(out), "--data", "mine.csv"])
    assert_user_error(code, stdout, err, "--data: a synthetic-task model is evaluated on a fresh draw "
                      "of its task, not on a file; omit --data (got 'mine.csv')")
    monkeypatch.setattr("sys.stdin", io.StringIO("[0.0, 0.39, 0.72]\n[0.5]\n"))
    code, stdout, _ = run(capsys, ["predict", str(out), "--input", "-"])
    assert code == 0
    assert [set(json.loads(line)) for line in stdout.splitlines()] == [{"next"}, {"next"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[0.1, 0.2]\nhello\n")
    code, stdout, err = run(capsys, ["predict", str(out), "--input", str(bad)])
    assert_user_error(code, stdout, err, "bad.jsonl line 2: expected a JSON array, got 'hello'")


@pytest.mark.parametrize(
    ("task", "line", "key"),
    [
        ("mean-sign", json.dumps([[0.5] * 10] * 4), "label"),
        ("adding", "[[0.2, 1], [0.3, 0], [0.4, 1]]", "sum"),
        ("copy", "[1, 2, 0, 0, 0, 0, 4, 0, 0]", "output"),
        ("sentence", "hello", "completion"),
    ],
)
def test_synthetic_tasks_through_the_cli(tmp_path, capsys, task, line, key):
    out = tmp_path / task
    extra = ["--seq-len", "5", "--n-copy", "2", "--n-symbols", "3"] if task == "copy" else []
    code, stdout, _ = run(capsys, ["train", "synthetic", "--task", task, "--hidden", "8", "--n-test", "20",
                                   "--steps", "5", "--eval-every", "5", "--out", str(out), *extra,
                                   "--no-progress"])
    assert code == 0 and "test examples" in stdout
    source = tmp_path / "in.txt"
    source.write_text(line + "\n")
    code, stdout, _ = run(capsys, ["predict", str(out), "--input", str(source)])
    assert code == 0
    assert key in json.loads(stdout.splitlines()[0])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--task", "adding", "--seq-len", "1"], "the adding problem needs seq_len >= 2, got 1"),
        (["--task", "copy", "--hidden", "0"], "hidden_size must be >= 1, got 0"),
    ],
)
def test_synthetic_bad_options(tmp_path, capsys, argv, expected):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, ["train", "synthetic", *argv, "--out", str(out), "--steps", "2"])
    assert_user_error(code, stdout, err, expected)
    assert not out.exists()


def test_help_shows_defaults(capsys):
    assert main(["train", "forecast", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--lookback N" in text and "(default: 30)" in text and "--fill {ffill,interpolate}" in text
    assert main(["train", "synthetic", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "adding 50, copy 20" in text and "6 for sine" in text
