"""``rnnkit sample RUN``: write text with a trained character language model."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rnnkit.cli._options import add_config_options, given_settings, new_parser
from rnnkit.cli.evaluate import run_options
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError
from rnnkit.tasks import SampleConfig, load, sample

__all__ = ["add_parser", "sample_command"]

EXAMPLES = """examples:
  rnnkit sample runs/demo --prompt "def " --length 400
  rnnkit sample runs/lm --prompt-file start.txt --temperature 0.6 --num-samples 3 --seed 1
  rnnkit sample runs/lm --prompt "ROMEO:" --top-p 0.9 --stop $'\\n\\n'
  rnnkit sample runs/sentence --prompt "hello" --greedy --length 20"""


def add_parser(subparsers: Any) -> None:
    parser = new_parser(
        subparsers,
        "sample",
        "generate text with a trained language model",
        "Load a character language model (a run of train lm, demo, or the synthetic sentence "
        "task) and continue a prompt one character at a time, the recurrent state carried "
        "forward. Samples go to standard output, the prompt first; with several samples a line "
        "of dashes separates them.\n\n" + EXAMPLES,
    )
    run_options(parser)
    add_config_options(parser, SampleConfig, SampleConfig().to_dict())
    parser.add_argument("--prompt-file", metavar="FILE", help="read the prompt from a UTF-8 file")
    parser.set_defaults(func=sample_command)


def sample_command(args: argparse.Namespace) -> int:
    settings = given_settings(args)
    if args.prompt_file:
        if "prompt" in settings:
            raise RnnkitError("give the prompt as text or as a file, not both")
        settings["prompt"] = read_text(args.prompt_file, "prompt file")
    config = SampleConfig.from_dict(settings)
    trained = load(args.checkpoint, args.device)
    streamed = []

    def on_text(piece: str) -> None:
        streamed.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    texts = sample(trained, config, on_text=on_text)
    if streamed:
        sys.stdout.write("\n")
        return 0
    for index, text in enumerate(texts):
        if index:
            print("-" * 40)
        print(text)
    return 0
