"""Writing text with a trained language model: :class:`SampleConfig` and :func:`sample`.

A character model writes characters (as it always did); a word or subword model writes tokens that
its tokenizer decodes into text (:meth:`~rnnkit.data.tokenizers.TextTokenizer.decode`): words
joined by spaces with a line break for ``<eos>``, byte-level subwords back into the exact bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnkit.config import Config, at_least, option, positive, seed_range
from rnnkit.data.text import encode_text, format_unknown
from rnnkit.data.tokenizers import CharTokenizer, TextTokenizer, WordTokenizer
from rnnkit.errors import RnnkitError
from rnnkit.tasks.base import TrainedModel, get_task
from rnnkit.tasks.capabilities import language_model_of
from rnnkit.tasks.lm_state import encode_with

__all__ = ["SampleConfig", "sample"]


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class SampleConfig(Config):
    """Options of :func:`sample` (see :meth:`LanguageModel.generate`)."""

    prompt: str = option(
        "",
        "text to continue (empty: start after a newline); characters the "
        "model does not know are read as <unk> after a warning",
        metavar="TEXT",
    )
    length: int = option(
        500,
        "tokens to generate after the prompt (characters for a character model)",
        metavar="N",
        check=at_least(0),
    )
    temperature: float = option(
        0.8, "divide the logits by T: lower is safer, higher wilder", metavar="T", check=positive()
    )
    top_k: int | None = option(
        None,
        "sample only among the K most likely tokens (none: all)",
        metavar="K",
        check=at_least(1),
    )
    top_p: float | None = option(
        None,
        "nucleus sampling: only the most likely tokens whose probabilities add up to P (none: all)",
        metavar="P",
        check=(lambda v: 0 < v <= 1, "in (0, 1]"),
    )
    greedy: bool = option(
        False, "always take the most likely token (ignores temperature, top-k, top-p and seed)"
    )
    num_samples: int = option(
        1, "how many samples, generated together", metavar="N", check=at_least(1)
    )
    seed: int | None = option(
        None, "seed of the sampling, for reproducible samples (none: random)", check=seed_range()
    )
    stop: str | None = option(
        None,
        "end a sample where it writes TEXT (not printed)",
        metavar="TEXT",
        check=(lambda v: v != "", "that is not empty"),
    )


def _model_and_tokenizer(trained: TrainedModel) -> tuple[Any, TextTokenizer]:
    """The language model of ``trained`` and the tokenizer it reads and writes with: the task's
    ``text_tokenizer`` (the ``lm`` task), else the characters of its ``language_model``."""
    task = get_task(trained.task)
    own = getattr(task, "text_tokenizer", None)
    if own is not None:
        return trained.model, own(trained)
    found = language_model_of(task, trained)
    if found is None:
        raise RnnkitError(
            f"sampling needs a character language model; {trained.path or 'this'} is "
            f"a {trained.task!r} model"
        )
    return found[0], CharTokenizer(found[1])


def _prompt_ids(tokenizer: TextTokenizer, prompt: str, warn: Callable[[str], None]) -> list[int]:
    if not prompt:
        return tokenizer.start_ids()
    ids = encode_with(tokenizer, prompt, warn=warn, what="prompt").tolist()
    if isinstance(tokenizer, WordTokenizer) and not prompt.endswith("\n"):
        ids = ids[:-1] or ids  # the prompt's line goes on: no <eos> after its last word
    return ids


def _char_stop(tokenizer: TextTokenizer, stop: str | None, warn) -> list[int] | None:
    """A character model stops on the stop string's ids (as it always did)."""
    if stop is None or not isinstance(tokenizer, CharTokenizer):
        return None
    ids, unknown = tokenizer.vocab.encode_with_unknown(stop)
    if unknown:
        warn(
            f"warning: the stop string holds characters the model never writes "
            f"({format_unknown(unknown)}); it is ignored"
        )
        return None
    return ids


class _Streamer:
    """``on_step`` of :meth:`LanguageModel.generate` that hands ``on_text`` each new piece of
    text: a character model's character, else what the decoded continuation gained (a character
    whose bytes are not all written yet waits for them, or for :meth:`flush`)."""

    def __init__(self, tokenizer: TextTokenizer, continuation, on_text: Callable[[str], None]):
        self.tokenizer, self.continuation, self.on_text = tokenizer, continuation, on_text
        self.written: list[int] = []
        self.sent = 0

    def __call__(self, ids: Any) -> None:
        if isinstance(self.tokenizer, CharTokenizer):
            self.on_text(self.tokenizer.token(int(ids[0])))
            return
        self.written.append(int(ids[0]))
        text = self.continuation(self.written)
        if not text.endswith("\ufffd"):
            self.flush(text)

    def flush(self, text: str) -> None:
        """Hand over what of ``text`` (the continuation so far) is not yet handed over."""
        if not isinstance(self.tokenizer, CharTokenizer) and len(text) > self.sent:
            self.on_text(text[self.sent :])
            self.sent = len(text)


def sample(
    trained: TrainedModel,
    config: SampleConfig,
    *,
    warn: Callable[[str], None] = _warn,
    on_text: Callable[[str], None] | None = None,
) -> list[str]:
    """Generate ``config.num_samples`` texts (each the prompt followed by its continuation).

    Works for every trained language model (the ``lm`` task of any tokenizer, and the
    ``sentence`` synthetic task). Pieces of the prompt the model does not know are read as the
    unknown token after one warning. ``on_text`` receives the text piece by piece as it is
    generated (one sample, no stop string); when it is used, the prompt and the continuation have
    already been handed to it.
    """
    model, tokenizer = _model_and_tokenizer(trained)
    if isinstance(tokenizer, CharTokenizer):
        start = config.prompt or tokenizer.vocab.itos[tokenizer.start_ids()[0]]
        prompt_ids = encode_text(tokenizer.vocab, start, warn=warn, what="prompt").tolist()
    else:
        prompt_ids = _prompt_ids(tokenizer, config.prompt, warn)
    stop_ids = _char_stop(tokenizer, config.stop, warn)
    shown = tokenizer.decode(prompt_ids)

    def continuation(ids: list[int]) -> str:
        # decoding the prompt with its continuation puts the right space (or none) between them
        return tokenizer.decode(prompt_ids + ids)[len(shown) :]

    on_step = None
    if on_text is not None and config.num_samples == 1 and config.stop is None:
        on_text(config.prompt)
        on_step = _Streamer(tokenizer, continuation, on_text)

    outputs = model.generate(
        prompt_ids,
        config.length,
        num_samples=config.num_samples,
        temperature=config.temperature,
        top_k=config.top_k,
        top_p=config.top_p,
        greedy=config.greedy,
        seed=config.seed,
        banned_ids=tokenizer.special_ids,
        stop=stop_ids,
        on_step=on_step,
    )
    texts = [continuation(ids) for ids in outputs]
    if on_step is not None:
        on_step.flush(texts[0])
    if config.stop is not None and not isinstance(tokenizer, CharTokenizer):
        texts = [text.split(config.stop, 1)[0] for text in texts]
    return [config.prompt + text for text in texts]
