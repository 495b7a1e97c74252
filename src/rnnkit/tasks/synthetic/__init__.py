"""The tutorials' synthetic tasks, trained with the shared Trainer and scored beside a baseline.

=============  ====================================  ==========================  ===================
task           model                                 metric (goal)               baseline
=============  ====================================  ==========================  ===================
``sine``       Forecaster, autoregressive, tanh RNN  test MSE of the next value  persistence
               with 6 units (the Elman tutorial)     on unseen phases (< 1e-3)   (repeat the last)
``mean-sign``  SequenceClassifier, 2-layer tanh RNN  test accuracy (>= 97%)      majority class
               with 64 units (13,314 parameters)
``sentence``   LanguageModel (characters)            completions right (100%)    --
``adding``     Forecaster, direct, one output        test MSE (< 0.01)           always 1 (~0.167)
``copy``       SequenceTagger, one direction         accuracy on the copied      chance
                                                     symbols (>= 99%)            (1 / n_symbols)
=============  ====================================  ==========================  ===================

Each is a small class of its own module (:mod:`.sine`, :mod:`.mean_sign`, :mod:`.sentence`,
:mod:`.adding`, :mod:`.copy`) on the shared core :mod:`.common`; :data:`KINDS` maps a name to it.
The registered task ``synthetic`` is their front: its ``data.task`` picks one, whose defaults
(model, training, and the output directory ``runs/<task>``) the settings given are merged over.
Python API::

    from rnnkit import tasks

    run = tasks.train("synthetic", {"data": {"task": "adding"}, "train": {"max_steps": 500}})
    print(run.reports[0].format())                 # MSE beside "always 1", and the goal
    model = tasks.load("runs/adding")
    tasks.predict(model, [[[0.2, 1], [0.3, 0], [0.4, 1]]])   # [{"line": 1, "sum": ...}]

Every batch is a fresh draw seeded by ``(data_seed, batch index)`` (reproducible, resumable,
never overfitted); validation and test sets are fixed seeded draws (sine tests unseen phases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.config import Config, at_least, option, seed_range
from rnnkit.data.batching import FreshBatches
from rnnkit.data.vocab import Vocabulary
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Example, ExportSpec, Report, Setup, Task, TrainedModel, View, register
from rnnkit.tasks.synthetic.adding import Adding
from rnnkit.tasks.synthetic.common import SyntheticKind
from rnnkit.tasks.synthetic.copy import Copy
from rnnkit.tasks.synthetic.mean_sign import MeanSign
from rnnkit.tasks.synthetic.sentence import Sentence
from rnnkit.tasks.synthetic.sine import Sine
from rnnkit.training.settings import TrainConfig

__all__ = [
    "KINDS",
    "RECIPES",
    "SyntheticConfig",
    "SyntheticData",
    "SyntheticModel",
    "SyntheticTask",
    "recipe",
]

# The order is that of the --task choices and of the defaults listed by --help.
KINDS: dict[str, type[SyntheticKind]] = {
    kind.name: kind for kind in (Sine, MeanSign, Sentence, Adding, Copy)
}
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    name: kind.defaults.sections() for name, kind in KINDS.items()
}
TASK_NAMES = tuple(KINDS)
_SINE = RECIPES["sine"]


# ---------------------------------------------------------------------------- the config
@dataclass
class SyntheticData(Config):
    task: str = option(
        "sine",
        "which synthetic task; it picks the defaults of the other settings "
        "(" + ", ".join(TASK_NAMES) + ")",
        choices=TASK_NAMES,
        metavar="NAME",
    )
    seq_len: int = option(
        _SINE["data"]["seq_len"],
        "sequence length; for copy the delay before the recall (not used by sentence)",
        metavar="L",
        check=at_least(1),
    )
    n_val: int = option(512, "validation sequences (a fixed draw)", metavar="N", check=at_least(1))
    n_test: int = option(
        1000,
        "test sequences (a fixed draw, scored by the final report and by evaluate)",
        metavar="N",
        check=at_least(1),
    )
    n_copy: int = option(10, "copy task: symbols to remember", metavar="S", check=at_least(1))
    n_symbols: int = option(8, "copy task: alphabet size", metavar="K", check=at_least(1))
    data_seed: int = option(0, "seed of the generated data", metavar="S", check=seed_range())

    def validate(self) -> None:
        KINDS[self.task](self).check()


@dataclass
class SyntheticModel(o.RecurrentOptions):
    cell: str = o.cell(_SINE["model"]["cell"])
    hidden_size: int = o.hidden(_SINE["model"]["hidden_size"])
    num_layers: int = o.layers(_SINE["model"]["num_layers"])


@dataclass
class SyntheticConfig(Config):
    data: SyntheticData = option(factory=SyntheticData)
    model: SyntheticModel = option(factory=SyntheticModel)
    train: TrainConfig = option(factory=lambda: TrainConfig(**_SINE["train"], out_dir="runs/sine"))


def recipe(name: str) -> dict[str, Any]:
    """The full default config (a dict) of the synthetic task ``name``."""
    r = RECIPES[name]
    return {
        "data": {**SyntheticData().to_dict(), **r["data"], "task": name},
        "model": {**SyntheticModel().to_dict(), **r["model"]},
        "train": {**TrainConfig().to_dict(), **r["train"], "out_dir": f"runs/{name}"},
    }


def _description() -> str:
    lines = [
        f"  {name}: "
        + ", ".join(
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for part in r.values()
            for k, v in part.items()
        )
        for name, r in RECIPES.items()
    ]
    return (
        "Train a recurrent model on a built-in synthetic task and score it on a fixed test "
        "draw beside a baseline: sine (next value of a sine wave, tested on unseen phases), "
        "mean-sign (sign of the mean of a Gaussian sequence), sentence (complete the "
        "tutorial's three sentences), adding (sum of two marked numbers; long-range memory) "
        "and copy (recall symbols after a delay). Each task has its own defaults (and writes "
        "to runs/TASK); the settings given change them:\n" + "\n".join(lines)
    )


def _blank(item: Any) -> bool:
    return item is None or (
        not item.strip() if isinstance(item, str) else isinstance(item, (list, tuple)) and not item
    )


# ---------------------------------------------------------------------------- the front
def _kind(config: SyntheticConfig, state: Any = None) -> SyntheticKind:
    return KINDS[config.data.task](config.data, state)


def _of(trained: TrainedModel) -> SyntheticKind:
    return _kind(trained.config, trained.state)


class SyntheticTask(Task):
    """The registered task ``synthetic``: the one of :data:`KINDS` that ``data.task`` names."""

    name = "synthetic"
    config_class = SyntheticConfig
    help = "train on a built-in synthetic task of the tutorials"
    description = _description()
    examples = """examples:
  rnnkit train synthetic --task sine                       # the Elman tutorial: 6 tanh units
  rnnkit train synthetic --task adding --seq-len 200 --cell lstm
  rnnkit train synthetic --task copy --seq-len 50 --cell gru
  rnnkit evaluate runs/sine                                # the fixed test draw
  echo "[0.0, 0.39, 0.72]" | rnnkit predict runs/sine --input -
  rnnkit sample runs/sentence --prompt "how"               # the sentence model writes text"""
    unit = "sequence"
    needs_data = False
    predict_hint = (
        "one JSON array a line: sine [x1, ...] -> the next value; mean-sign [[10 "
        "numbers], ...] -> the label; adding [[number, marker], ...] -> the sum; copy "
        "[symbol, ...] -> the output symbols; sentence: a prompt -> its completion"
    )

    def defaults(self, given: Mapping[str, Any]) -> dict[str, Any]:
        section = given.get("data")
        name = section.get("task", "sine") if isinstance(section, Mapping) else "sine"
        known = isinstance(name, str) and name in RECIPES  # a list or table is unhashable
        return recipe(name if known else "sine")  # a bad name fails its check later

    def setup(self, config: SyntheticConfig, saved: Any, log) -> Setup:
        kind = _kind(config, KINDS[config.data.task].make_state(saved))
        model = kind.build(config.model)
        batches = FreshBatches(partial(kind.batch, config.train.batch_size), config.data.data_seed)
        m = config.model
        log(
            f"synthetic task {kind.name}: {type(model).__name__} ({m.cell}, hidden "
            f"{m.hidden_size}, {m.num_layers} layer(s), "
            f"{sum(p.numel() for p in model.parameters()):,} parameters), {kind.about()}"
        )
        return self.scored_setup(
            config, model, batches, kind.step, kind.state, kind.saved(), "val", ["test"]
        )

    def restore(self, config: SyntheticConfig, saved, model_config):
        kind = _kind(config, KINDS[config.data.task].make_state(saved))
        return kind.build(config.model, model_config), kind.state

    def evaluate(self, trained: TrainedModel, data: Any = None, *, batch_size=None) -> list[Report]:
        """The scores on the fixed, seeded test draw of ``data.n_test`` sequences beside the
        baseline and the goal (``data`` must be ``None``: the data are generated).

        ``batch_size``: sequences per forward pass (default: all at once); the sentence task
        ignores it (it completes its four prompts one by one).
        """
        return [self.score(trained, "test", batch_size=batch_size).report]

    def score(self, trained: TrainedModel, data, *, baselines=True, batch_size=None):
        """``data``: the fixed draw, ``"val"`` (validation) or ``"test"``."""
        return _of(trained).score(trained.model, data, batch_size)

    def views(
        self, trained: TrainedModel, data: Any = None, *, evals: Sequence[Mapping[str, Any]] = ()
    ) -> list[View]:
        """The error curve: the task's metric on the fixed validation draw at each evaluation of
        the run (``evals``, from its metrics log) against the training step, beside the level of
        the task's baseline on that draw (as the report computes it) and the goal. None when the
        run logged no evaluation."""
        return _of(trained).views(trained.model, list(evals))

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        """One record per input: ``inputs`` is a file (``"-"``: standard input) of one JSON array
        a line (sentence: a text prompt a line), or a list of such arrays (as Python lists) or
        prompts. See :attr:`predict_hint` for what each task reads and writes."""
        kind, numbered = _of(trained), o.numbered_lines(inputs)
        source = (
            ("standard input" if str(inputs) == "-" else str(inputs))
            if isinstance(inputs, (str, Path))
            else None
        )
        outputs = {
            n: kind.predict_one(
                trained.model, item, f"{source} line {n}" if source else f"input {n}"
            )
            for n, item in numbered
            if not _blank(item)
        }
        return o.records_for(numbered, outputs, kind.empty())

    def example(self, folder: Path) -> Example:
        (folder / "waves.jsonl").write_text("[0.0, 0.39, 0.72]\n\n[0.5, 0.1]\n", "utf-8")
        return Example(
            {
                "data": {"task": "sine", "n_val": 16, "n_test": 32},
                "model": {"hidden_size": 4},
                "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, "batch_size": 8},
            },
            None,
            str(folder / "waves.jsonl"),
            {"data": {"task": "adding", "seq_len": 1}},
        )

    def export_spec(self, trained: TrainedModel) -> ExportSpec:
        return _of(trained).export_spec(trained.model)

    def language_model(self, trained: TrainedModel) -> tuple[nn.Module, Vocabulary] | None:
        return _of(trained).language_model(trained.model)

    def inspection_text(self, trained: TrainedModel) -> str:
        return _of(trained).inspection_text()

    def inspect(self, trained: TrainedModel, text: str | None = None, *, chars: int = 2000):
        """mean-sign: the hidden-state paths of validation sequences of each class (see
        :meth:`.mean_sign.MeanSign.inspect`); sentence: the character view."""
        found = _of(trained).inspect(trained, text)
        return super().inspect(trained, text, chars=chars) if found is None else found


register(SyntheticTask())
