"""rnnkit.formatting: the one way numbers are written for people."""

from rnnkit.formatting import count, figure, rate
from rnnkit.metrics import Report


def test_figures_of_reports():
    assert [figure(v) for v in (3, 12345.0, 0.81234, 0.0, 2.5e-5, 250_000.5, 99999.5)] == [
        "3", "12,345", "0.8123", "0.0000", "2.5e-05", "2.5e+05", "99999.5000",
    ]  # fmt: skip
    report = Report("t", {"loss": {"model": 0.5, "baseline": 12345.0}})
    assert report.format().splitlines()[-1] == "  loss      0.5000    12,345"


def test_rates_and_counts():
    assert [rate(v) for v in (950, 12_345, 4_500_000)] == ["950.0", "12.3k", "4.5M"]
    assert [count(n, "sentence") for n in (0, 1, 1024)] == [
        "0 sentences", "1 sentence", "1,024 sentences",
    ]  # fmt: skip
    assert count(2, "entry", "entries") == "2 entries"
