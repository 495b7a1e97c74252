"""``rnnkit sample DIR``: write text with a trained language model."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli._common import HelpFormatter, add_device_option
from rnnkit.data.text import read_text
from rnnkit.tasks.lm import SampleConfig, sample_lm

__all__ = ["add_parser", "sample_command"]

EXAMPLES = """examples:
  rnnkit sample runs/demo --prompt "def " --length 400
  rnnkit sample runs/lm --prompt-file start.txt --temperature 0.6 --num-samples 3 --seed 1
  rnnkit sample runs/lm --prompt "ROMEO:" --top-p 0.9 --stop $'\\n\\n'
  rnnkit sample runs/lm --prompt "hello" --greedy --length 20
"""


def add_parser(subparsers) -> None:
    d = SampleConfig()
    parser = subparsers.add_parser(
        "sample", help="generate text with a trained language model",
        description="Load a language-model checkpoint (a run directory: best.pt, else last.pt; or "
        "a .pt file) and continue a prompt, one character at a time with the recurrent state "
        "carried forward. Samples go to standard output, the prompt first; with several samples "
        "a line of dashes separates them.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("checkpoint", metavar="DIR",
                        help="run directory (uses best.pt, else last.pt) or checkpoint file")
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default=d.prompt, metavar="TEXT",
                        help="text to continue (default: none, start after a newline); characters "
                        "the model does not know are read as <unk> after a warning")
    prompt.add_argument("--prompt-file", metavar="FILE", help="read the prompt from a UTF-8 file")
    parser.add_argument("--length", type=int, default=d.length, metavar="N",
                        help=f"characters to generate after the prompt (default: {d.length})")
    parser.add_argument("--temperature", type=float, default=d.temperature, metavar="T",
                        help="divide the logits by T: lower is safer, higher is wilder; must be > 0 "
                        f"(default: {d.temperature})")
    parser.add_argument("--top-k", type=int, default=d.top_k, metavar="K",
                        help="sample only among the K most likely characters (default: all)")
    parser.add_argument("--top-p", type=float, default=d.top_p, metavar="P",
                        help="nucleus sampling: only the most likely characters whose probabilities "
                        "add up to P, in (0, 1] (default: 1, all)")
    parser.add_argument("--greedy", action="store_true",
                        help="always take the most likely character (ignores temperature, top-k, "
                        "top-p and seed)")
    parser.add_argument("--num-samples", "-n", type=int, default=d.num_samples, metavar="N",
                        help=f"how many samples, generated together (default: {d.num_samples})")
    parser.add_argument("--seed", type=int, default=d.seed,
                        help="seed of the sampling, for reproducible samples (default: random)")
    parser.add_argument("--stop", default=d.stop, metavar="TEXT",
                        help="end a sample where it writes TEXT (not printed), e.g. $'\\n\\n' "
                        "(default: none)")
    add_device_option(parser, default="cpu")
    parser.set_defaults(func=sample_command)


def sample_command(args: argparse.Namespace) -> int:
    prompt = read_text(args.prompt_file, "prompt file") if args.prompt_file else args.prompt
    config = SampleConfig(
        prompt=prompt, length=args.length, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, greedy=args.greedy, num_samples=args.num_samples, seed=args.seed,
        stop=args.stop,
    )
    streamed = []

    def on_text(piece: str) -> None:
        streamed.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    texts = sample_lm(args.checkpoint, config, device=args.device, on_text=on_text)
    if streamed:
        sys.stdout.write("\n")
        return 0
    for index, text in enumerate(texts):
        if index:
            print("-" * 40)
        print(text)
    return 0
