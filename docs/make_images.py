"""Make the pictures of docs/inspect.md: train a few small runs, then draw them with ``rnnkit plot``
and ``rnnkit inspect`` and photograph the pages in headless chromium.

    python docs/make_images.py                      # about 12 minutes on a 2-core CPU
    python docs/make_images.py --runs /tmp/runs     # keep the runs somewhere else

What it runs is what a user runs: the commands' defaults, with time budgets. The language models
learn the built-in corpus (this machine's Python sources: quotes, brackets and indented lines, the
structure the 2015 paper's interpretable units track); the classifier and the forecaster use the
reference data in ``../shared/data`` and are left out, with a message, where that folder is absent.

Every picture is a PNG of at most 200 KB (reduced to a palette of colours where needed), written to
``docs/images``. Needs the ``plot`` extra (matplotlib, with Pillow) and Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
LIMIT = 200_000  # bytes per picture


def rnnkit(*args: object) -> None:
    """Run the ``rnnkit`` command of this Python; stop the script if it fails."""
    argv = [sys.executable, "-c", "from rnnkit.cli.main import console_main; console_main()"]
    command = [*argv, *map(str, args)]
    print("$ rnnkit " + " ".join(map(str, args)), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def train(runs: Path, name: str, *args: object) -> Path | None:
    """``rnnkit train ...`` into ``runs/name`` unless that run has already finished."""
    out = runs / name
    if (out / "last.pt").is_file():
        print(f"reusing {out}")
        return out
    rnnkit("train", *args, "--out", out, "--seed", 1337)
    return out


def shrink(path: Path, width: int = 1000) -> None:
    """At most ``width`` pixels wide and :data:`LIMIT` bytes: fewer colours until it fits."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.save(path, optimize=True)
    for colours in (256, 128, 64, 32):
        if path.stat().st_size <= LIMIT:
            break
        image.quantize(colours, dither=Image.Dither.NONE).save(path, optimize=True)
    size = path.stat().st_size
    if size > LIMIT:
        raise SystemExit(f"{path} is {size:,} bytes, more than {LIMIT:,}")
    print(f"wrote {path} ({size / 1000:.0f} KB)")


def photograph(page: Path, path: Path, height: int) -> None:
    """A screenshot of the top ``height`` pixels of ``page`` as it renders in headless chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is needed for the screenshots: apt-get install -y chromium")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size=1100,{height}",
        "--virtual-time-budget=3000",  # let the page's script finish drawing
        f"--screenshot={path}",
        page.resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True)
    shrink(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=Path, default=None, help="where to train (default: a temp dir)"
    )
    parser.add_argument("--images", type=Path, default=HERE / "images", help="where the PNGs go")
    args = parser.parse_args()
    runs = args.runs or Path(tempfile.mkdtemp(prefix="rnnkit-docs-"))
    images = args.images
    images.mkdir(parents=True, exist_ok=True)
    pages = runs / "pages"
    pages.mkdir(parents=True, exist_ok=True)

    # A character LSTM and a tanh RNN of the same size on the built-in corpus.
    lstm = train(runs, "lstm", "lm", "--max-minutes", 4, "--eval-every", 100)
    rnn = train(runs, "rnn", "lm", "--cell", "rnn", "--max-minutes", 2, "--eval-every", 100)
    mean_sign = train(runs, "mean-sign", "synthetic", "--task", "mean-sign")

    rnnkit("plot", lstm, rnn, "--out", images / "curves.png")
    shrink(images / "curves.png")
    for name, run in (("lstm", lstm), ("rnn", rnn)):
        rnnkit("inspect", run, "--gradients", "--out", images / f"gradients-{name}.png")
        shrink(images / f"gradients-{name}.png")
    rnnkit("inspect", lstm, "--out", pages / "lm.html")
    photograph(pages / "lm.html", images / "page-lm.png", 1500)
    rnnkit("inspect", mean_sign, "--out", pages / "mean-sign.html")
    photograph(pages / "mean-sign.html", images / "page-mean-sign.png", 1300)

    if not DATA.is_dir():
        print(f"{DATA} is absent: the classifier and forecast pictures are left out")
        return
    sst2 = DATA / "sst2"
    classify = train(
        runs,
        "classify",
        "classify",
        "--data",
        sst2 / "train.tsv",
        "--val",
        sst2 / "dev.tsv",
        "--max-minutes",
        2,
    )
    rnnkit("plot", classify, "--out", images / "classify.png")
    shrink(images / "classify.png")
    rnnkit("inspect", classify, "--out", pages / "classify.html")
    photograph(pages / "classify.html", images / "page-classify.png", 1100)
    temperatures = DATA / "timeseries" / "daily-min-temperatures.csv"
    forecast = train(
        runs, "forecast", "forecast", "--data", temperatures, "--target", "Temp", "--max-minutes", 1
    )
    rnnkit("plot", forecast, "--out", images / "forecast.png")
    shrink(images / "forecast.png")


if __name__ == "__main__":
    main()
