"""``sentence``: a character language model that completes the tutorial's three sentences; it
trains on all three at every step and is scored on the completions whose continuation is
unambiguous (no baseline). ``rnnkit sample`` and ``rnnkit inspect`` read it as any language
model."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data import synthetic as data
from rnnkit.data.text import char_vocabulary
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.export import language_model_spec
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.base import Report
from rnnkit.tasks.synthetic.common import Defaults, Goal, Head, SyntheticKind, token_loss
from rnnkit.training.devices import model_device

__all__ = ["Sentence", "complete"]


def complete(model: LanguageModel, vocab: Vocabulary, prompt: str, where: str = "prompt") -> str:
    """The greedy completion of ``prompt`` after a newline, up to the next newline (40 at most)."""
    unknown = sorted({c for c in prompt if c not in vocab.stoi})
    if unknown:
        known = "".join(t for t in vocab.itos if len(t) == 1)
        raise RnnkitError(
            f"{where}: the sentence model knows only the characters {known!r}; "
            f"{prompt!r} has {''.join(unknown)!r}"
        )
    newline = vocab.stoi["\n"]
    new = model.generate(
        [newline] + [vocab.stoi[c] for c in prompt],
        40,
        greedy=True,
        stop=[newline],
        banned_ids=vocab.special_ids,
    )[0]
    return "".join(vocab.itos[i] for i in new)


class Sentence(SyntheticKind):
    name = "sentence"
    defaults = Defaults(20, "lstm", 64, 1, max_steps=2000, batch_size=32, lr=1e-2, every=250)
    goal = Goal("completions right", "completions", ">=", 1.0, None)  # seq_len: not used
    head = Head(LanguageModel, LanguageModelConfig)
    state: Vocabulary

    @classmethod
    def make_state(cls, saved: Mapping[str, Any] | None) -> Vocabulary:
        if saved:
            return Vocabulary.from_dict(saved["vocab"])
        return char_vocabulary("\n".join(data.SENTENCES) + "\n")  # <unk>, the characters

    def saved(self) -> dict[str, Any]:
        return {"vocab": self.state.to_dict()}

    @cached_property
    def sentences(self) -> tuple[Tensor, Tensor]:
        """The three sentences as one batch: input ``"\\n" + s``, target ``s + "\\n"``, padded."""
        length = max(len(s) for s in data.SENTENCES) + 1
        inputs = torch.zeros(len(data.SENTENCES), length, dtype=torch.long)
        targets = torch.full((len(data.SENTENCES), length), -100, dtype=torch.long)  # -100: ignored
        for row, sentence in enumerate(data.SENTENCES):
            ids = [self.state.stoi[c] for c in "\n" + sentence + "\n"]
            inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1])
            targets[row, : len(ids) - 1] = torch.tensor(ids[1:])
        return inputs, targets

    def batch(self, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self.sentences

    def about(self) -> str:
        return "each step trains on the 3 sentences"

    def model_config(self, rnn: dict[str, Any]) -> LanguageModelConfig:
        return LanguageModelConfig(vocab_size=len(self.state), embedding_size=16, **rnn)

    def outputs(self, model: nn.Module, x: Tensor) -> Tensor:
        return model(x)[0]  # (N, L, V)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return token_loss(out, y)

    @torch.no_grad()
    def report(self, model: nn.Module, split: str, batch_size: int | None = None) -> Report:
        """The completion checks (whatever the split; one prompt at a time)."""
        _, checks = data.sentence_completion()
        got = {prompt: complete(model, self.state, prompt) for prompt, _ in checks}
        right = sum(got[p] == c for p, c in checks) / len(checks)
        x, y = (t.to(model_device(model)) for t in self.sentences)
        loss = self.loss(self.outputs(model, x), y).item()
        details = [
            f"{p!r} -> {got[p]!r}" + ("" if got[p] == c else f" (expected {c!r})")
            for p, c in checks
        ]
        return Report(
            f"sentence: the {len(checks)} completion checks",
            {self.goal.metric: {"model": right}, "loss": {"model": loss}},
            self.goal.verdict(right),
            details,
        )

    def validation(self) -> str:
        return ""

    def empty(self) -> dict[str, Any]:
        return {"prompt": "", "completion": None}

    def predict_one(self, model: nn.Module, item: Any, where: str) -> dict[str, Any]:
        if not isinstance(item, str):
            raise RnnkitError(f"{where}: expected a text prompt, got {type(item).__name__}")
        return {"prompt": item, "completion": complete(model, self.state, item, where)}

    def export_spec(self, model: nn.Module):
        spec = language_model_spec(model, self.state, "synthetic sentence")
        spec.metadata.update({"synthetic": self.name})
        return spec

    def language_model(self, model: nn.Module) -> tuple[nn.Module, Vocabulary]:
        return model, self.state

    def inspection_text(self) -> str:
        return "\n".join(data.SENTENCES) + "\n"  # the whole training text
