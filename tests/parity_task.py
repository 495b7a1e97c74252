"""A sixth task, written outside rnnkit: the parity of a bit string (docs/tasks.md walks through it).

Registering it (``rnnkit.tasks.register(ParityTask())``) gives it ``rnnkit train parity``, resume,
``rnnkit evaluate`` and ``rnnkit predict`` with no change anywhere in rnnkit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from rnnkit.config import Config, option
from rnnkit.data.batching import ShuffledBatches
from rnnkit.data.inputs import read_source
from rnnkit.data.labelled import pad_sequences
from rnnkit.errors import RnnkitError
from rnnkit.models import SequenceClassifier, SequenceClassifierConfig
from rnnkit.tasks import Report, Scores, Setup, Task, TrainedModel
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Example
from rnnkit.training.settings import StepOutput, TrainConfig


@dataclass
class ParityData(Config):
    train: str | None = o.data_file("bit strings, one a line, e.g. 0110")
    val: str | None = o.val_file("validation bit strings (none: hold out val_fraction)")
    val_fraction: float = o.val_fraction("bit strings")


@dataclass
class ParityModel(Config):
    cell: str = o.cell("gru")
    hidden_size: int = o.hidden(16)
    recurrent_dropout: float = o.recurrent_dropout()
    weight_drop: float = o.weight_drop()
    zoneout: float = o.zoneout()


@dataclass
class ParityConfig(Config):
    data: ParityData = option(factory=ParityData)
    model: ParityModel = option(factory=ParityModel)
    train: TrainConfig = option(
        factory=lambda: TrainConfig(
            max_steps=300, lr=1e-2, warmup_steps=10, eval_every=50, out_dir="runs/parity"
        )
    )


def read_bits(source: Any) -> list[tuple[int, str]]:
    """(line number, bit string) of a file, ``"-"`` or a list of strings; blank lines kept."""
    if isinstance(source, (str, Path)):
        text, name = read_source(source)
        lines = list(enumerate(text.splitlines(), start=1))
    else:
        name, lines = "the inputs", list(enumerate(source, start=1))
    for number, line in lines:
        if set(line.strip()) - {"0", "1"}:
            raise RnnkitError(f"{name} line {number}: expected a bit string, got {line[:20]!r}")
    return [(n, line.strip()) for n, line in lines]


def encode(strings: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``(N, L, 1)``, lengths ``(N,)`` and parities ``(N,)``."""
    x, lengths = pad_sequences([[int(b) for b in s] for s in strings], 0)
    parity = torch.tensor([s.count("1") % 2 for s in strings])
    return x.float().unsqueeze(-1), lengths, parity


class ParityTask(Task):
    name = "parity"
    config_class = ParityConfig
    help = "parity of bit strings (an example task)"
    description = "Learn whether a bit string holds an odd number of ones."
    predict_hint = "one bit string a line; outputs its parity"

    def setup(self, config: ParityConfig, saved: Any, log) -> Setup:
        strings = [s for _, s in read_bits(config.data.train) if s]
        if config.data.val:
            val = [s for _, s in read_bits(config.data.val) if s]
        else:
            kept, held = o.held_out(
                len(strings), config.data.val_fraction, config.train.seed, "bit strings"
            )
            strings, val = [strings[i] for i in kept], [strings[i] for i in held]
        model, state = self.restore(config, {}, None)

        def loss_fn(model, batch) -> StepOutput:
            x, lengths, parity = batch
            return StepOutput(F.cross_entropy(model(x, lengths), parity), items=len(parity))

        batches = ShuffledBatches(
            len(strings),
            config.train.batch_size,
            lambda idx: encode([strings[i] for i in idx]),
            seed=config.train.seed,
        )
        # eval_fn (validation) and report (at the end of training) both call self.score
        return self.scored_setup(
            config, model, batches, loss_fn, state, {}, val, [val], select="accuracy", maximize=True
        )

    def restore(self, config: ParityConfig, saved, model_config):
        if model_config is not None:
            return SequenceClassifier(SequenceClassifierConfig.from_dict(model_config)), None
        return SequenceClassifier(
            SequenceClassifierConfig(
                num_classes=2,
                input_size=1,
                cell=config.model.cell,
                hidden_size=config.model.hidden_size,
                recurrent_dropout=config.model.recurrent_dropout,
                weight_drop=config.model.weight_drop,
                zoneout=config.model.zoneout,
            )
        ), None

    def score(self, trained: TrainedModel, data: list[str], *, baselines=True, batch_size=None):
        """The accuracy on the bit strings ``data``, beside the majority class's."""
        x, lengths, parity = encode(data)
        predicted = trained.model(x.to(trained.device), lengths).argmax(-1).cpu()
        metrics = {"accuracy": (predicted == parity).float().mean().item()}
        if not baselines:  # validation during training: the metrics alone
            return Scores(metrics)
        ones = sum(parity.tolist()) / len(data)
        rows = {"accuracy": {"model": metrics["accuracy"], "majority": max(ones, 1 - ones)}}
        return Scores(metrics, Report(f"{len(data)} bit strings", rows))

    def evaluate(self, trained: TrainedModel, data: Any = None, *, batch_size=None):
        return [self.score(trained, [s for _, s in read_bits(data) if s]).report]

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        numbered = read_bits(inputs)
        kept = [(n, s) for n, s in numbered if s]
        x, lengths, _ = encode([s for _, s in kept])
        parities = trained.model(x.to(trained.device), lengths).argmax(-1).tolist()
        outputs = {n: {"bits": s, "parity": p} for (n, s), p in zip(kept, parities)}
        return o.records_for(numbered, outputs, {"bits": "", "parity": None})

    def example(self, folder: Path) -> Example:
        strings = [format(i, "05b") for i in range(32)]
        (folder / "bits.txt").write_text("\n".join(strings) + "\n", encoding="utf-8")
        (folder / "some.txt").write_text("0110\n\n111\n", encoding="utf-8")
        (folder / "bad.txt").write_text("0110\n0a1\n", encoding="utf-8")
        return Example(
            {
                "data": {"train": str(folder / "bits.txt")},
                "model": {"hidden_size": 8},
                "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, "batch_size": 8},
            },
            str(folder / "bits.txt"),
            str(folder / "some.txt"),
            {"data": {"train": str(folder / "bad.txt")}},
        )
