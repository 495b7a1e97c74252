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

Each task has its own defaults (model, training, and the output directory ``runs/<task>``) in
:data:`RECIPES`; the settings given are merged over those of the chosen ``data.task``. Python API::

    from rnnkit import tasks

    run = tasks.train("synthetic", {"data": {"task": "adding"}, "train": {"max_steps": 500}})
    print(run.reports[0].format())                 # MSE beside "always 1", and the goal
    model = tasks.load("runs/adding")
    tasks.predict(model, [[[0.2, 1], [0.3, 0], [0.4, 1]]])   # [{"line": 1, "sum": ...}]

Every batch is a fresh draw seeded by ``(data_seed, batch index)`` (reproducible, resumable,
never overfitted); validation and test sets are fixed seeded draws (sine tests unseen phases).
The sine metric leaves out step 1: from one value no model can tell a rising wave from a falling.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import Config, ConfigError, at_least, option, seed_range
from rnnkit.data import synthetic as data
from rnnkit.data.batching import shard_rows
from rnnkit.data.text import char_vocabulary
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.inspection import pca_paths
from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Example, ExportSpec, Report, Setup, Task, TrainedModel, View, register
from rnnkit.tasks.exporting import (
    classifier_spec,
    forecaster_spec,
    language_model_spec,
    tagger_spec,
)
from rnnkit.training.trainer import StepOutput, TrainConfig, model_device

__all__ = [
    "RECIPES",
    "SyntheticConfig",
    "SyntheticData",
    "SyntheticModel",
    "SyntheticTask",
    "recipe",
]


def _recipe(seq_len, cell, hidden, layers, steps, batch, lr, every) -> dict[str, dict[str, Any]]:
    return {
        "data": {"seq_len": seq_len},
        "model": {"cell": cell, "hidden_size": hidden, "num_layers": layers},
        "train": {
            "max_steps": steps,
            "batch_size": batch,
            "lr": lr,
            "warmup_steps": 50,
            "eval_every": every,
            "save_every": every,
        },
    }


# The defaults of each task: `rnnkit train synthetic --task NAME` alone reaches the task's goal
# within about a minute on 2 CPU cores (checked with 3 seeds each). The settings given are merged
# over them; the output directory is runs/<task>.
# fmt: off
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    #                     seq_len  cell  hidden layers  steps batch   lr    eval_every
    "sine":      _recipe(20,      "rnn",  6,     1,      3000,  32,   3e-2,  500),
    "mean-sign": _recipe(20,      "rnn",  64,    2,      1500,  64,   1e-3,  250),
    "sentence":  _recipe(20,      "lstm", 64,    1,      2000,  32,   1e-2,  250),  # no seq_len
    "adding":    _recipe(50,      "gru",  64,    1,      1000,  32,   1e-2,  200),
    "copy":      _recipe(20,      "gru",  128,   1,      1500,  64,   3e-2,  250),
}
# fmt: on
TASK_NAMES = tuple(RECIPES)
_SINE = RECIPES["sine"]
# task: (metric, short name in the training log, goal sign, goal, baseline)
GOALS = {
    "sine": ("MSE (steps 2..L, unseen phases)", "mse", "<", 1e-3, "persistence"),
    "mean-sign": ("accuracy", "accuracy", ">=", 0.97, "majority class"),
    "sentence": ("completions right", "completions", ">=", 1.0, None),
    "adding": ("MSE", "mse", "<", 0.01, "always 1"),
    "copy": ("accuracy on copied symbols", "accuracy", ">=", 0.99, "chance"),
}
SEED_VAL, SEED_TEST = 1_000_001, 2_000_003  # offsets of the fixed validation and test draws
PATHS_PER_CLASS = 12  # mean-sign sequences of each class whose paths rnnkit inspect draws


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
        if self.task == "adding" and self.seq_len < 2:
            raise ConfigError(
                "seq_len", f"the adding problem needs seq_len >= 2, got {self.seq_len}"
            )


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


class FreshBatches:
    """Endless, resumable batches: batch ``i`` is drawn with a generator seeded ``(seed, i)``.

    After ``shard(rank, world)`` every rank draws the same global batch and keeps its rows.
    """

    def __init__(self, draw: Callable[[torch.Generator], Any], seed: int) -> None:
        self.draw, self.seed, self.index = draw, seed, 0
        self.rank, self.world = 0, 1

    def shard(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world

    def next_batch(self) -> Any:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.index)
        self.index += 1
        batch = self.draw(generator)
        return batch if self.world == 1 else shard_rows(batch, self.rank, self.world)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "seed": self.seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.index, self.seed = int(state["index"]), int(state["seed"])


# ---------------------------------------------------------------------------- data and models
def _sentence_batch(vocab: Vocabulary) -> tuple[Tensor, Tensor]:
    """The three sentences as one batch: input ``"\\n" + s``, target ``s + "\\n"``, padded."""
    length = max(len(s) for s in data.SENTENCES) + 1
    inputs = torch.zeros(len(data.SENTENCES), length, dtype=torch.long)
    targets = torch.full((len(data.SENTENCES), length), -100, dtype=torch.long)  # -100: ignored
    for row, sentence in enumerate(data.SENTENCES):
        ids = [vocab.stoi[c] for c in "\n" + sentence + "\n"]
        inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1])
        targets[row, : len(ids) - 1] = torch.tensor(ids[1:])
    return inputs, targets


def _draw(d: SyntheticData, n: int, seed: torch.Generator | int, split: str = "train"):
    """``n`` examples of a task other than sentence: ``(inputs, targets)``."""
    if d.task == "sine":
        wave = data.sine_wave(
            n, seq_len=d.seq_len, split="test" if split == "test" else "train", seed=seed
        )
        return wave.inputs, wave.targets[..., 0]  # (N, L, 1), (N, L)
    if d.task == "mean-sign":
        return data.mean_sign(n, seq_len=d.seq_len, seed=seed)
    if d.task == "adding":
        return data.adding_problem(n, seq_len=d.seq_len, seed=seed)
    return data.copy_task(n, seq_len=d.seq_len, n_copy=d.n_copy, n_symbols=d.n_symbols, seed=seed)


MODELS = {
    "sine": (Forecaster, ForecasterConfig),
    "adding": (Forecaster, ForecasterConfig),
    "mean-sign": (SequenceClassifier, SequenceClassifierConfig),
    "copy": (SequenceTagger, SequenceTaggerConfig),
    "sentence": (LanguageModel, LanguageModelConfig),
}


def _model_config(config: SyntheticConfig, vocab: Vocabulary | None) -> Any:
    d, rnn = config.data, config.model.recurrent()
    if d.task == "sine":
        return ForecasterConfig(input_size=1, lookback=d.seq_len, mode="autoregressive", **rnn)
    if d.task == "adding":
        return ForecasterConfig(input_size=2, lookback=d.seq_len, target_index=-1, **rnn)
    if d.task == "mean-sign":
        return SequenceClassifierConfig(num_classes=2, input_size=10, **rnn)
    if d.task == "copy":  # one direction: recall, not look-ahead
        return SequenceTaggerConfig(
            vocab_size=d.n_symbols + 2,
            num_tags=d.n_symbols + 1,
            embedding_dim=16,
            padding_idx=None,
            unk_idx=None,
            bidirectional=False,
            **rnn,
        )
    return LanguageModelConfig(vocab_size=len(vocab), embedding_size=16, **rnn)


def _outputs(task: str, model: nn.Module, x: Tensor) -> Tensor:
    """The model's raw outputs on inputs ``x``: predictions or logits."""
    if task == "sine":
        return model.step_predictions(x)  # (N, L)
    if task == "sentence":
        return model(x)[0]  # (N, L, V)
    return model(x)  # adding (N, 1); mean-sign (N, 2); copy (N, L, C)


def _loss(task: str, out: Tensor, y: Tensor) -> Tensor:
    if task in ("sine", "adding"):
        return F.mse_loss(out, y)
    if task == "mean-sign":
        return F.cross_entropy(out, y)
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=-100)


# ---------------------------------------------------------------------------- scores
def _complete(model: LanguageModel, vocab: Vocabulary, prompt: str, where: str = "prompt") -> str:
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


def _goal(task: str, value: float) -> dict[str, str]:
    metric, _, sign, goal, _ = GOALS[task]
    reached = value >= goal if sign == ">=" else value < goal
    return {metric: f"{sign} {goal:g} ({'reached' if reached else 'not reached'})"}


def _sentence_report(model: LanguageModel, vocab: Vocabulary) -> Report:
    _, checks = data.sentence_completion()
    got = {prompt: _complete(model, vocab, prompt) for prompt, _ in checks}
    right = sum(got[p] == c for p, c in checks) / len(checks)
    x, y = (t.to(model_device(model)) for t in _sentence_batch(vocab))
    loss = _loss("sentence", _outputs("sentence", model, x), y).item()
    details = [
        f"{p!r} -> {got[p]!r}" + ("" if got[p] == c else f" (expected {c!r})") for p, c in checks
    ]
    return Report(
        f"sentence: the {len(checks)} completion checks",
        {"completions right": {"model": right}, "loss": {"model": loss}},
        _goal("sentence", right),
        details,
    )


def _rows(d: SyntheticData, x: Tensor, y: Tensor, out: Tensor) -> dict[str, dict[str, float]]:
    """The report's rows: the metric beside the baseline first, then the extra rows."""
    metric, _, _, _, baseline = GOALS[d.task]
    if d.task == "sine":
        errors, persistence = (out - y) ** 2, (x[:, :, 0] - y) ** 2  # (N, L): repeat the last
        return {
            metric: {
                "model": errors[:, 1:].mean().item(),
                baseline: persistence[:, 1:].mean().item(),
            },
            "MSE (all steps)": {"model": errors.mean().item(), baseline: persistence.mean().item()},
        }
    if d.task == "adding":
        return {
            metric: {
                "model": F.mse_loss(out, y).item(),
                baseline: F.mse_loss(torch.ones_like(y), y).item(),
            }
        }
    if d.task == "mean-sign":
        share = y.float().mean().item()
        return {
            metric: {
                "model": (out.argmax(1) == y).float().mean().item(),
                baseline: max(share, 1 - share),
            },
            "loss": {"model": _loss(d.task, out, y).item()},
        }
    copied = slice(-d.n_copy, None)
    accuracy = (out[:, copied].argmax(-1) == y[:, copied]).float().mean().item()
    return {
        metric: {"model": accuracy, baseline: 1.0 / d.n_symbols},
        "loss": {"model": _loss(d.task, out, y).item()},
    }


@torch.no_grad()
def _report(
    model: nn.Module,
    d: SyntheticData,
    vocab: Vocabulary | None,
    split: str,
    batch_size: int | None = None,
) -> Report:
    """The scores of ``model`` on the fixed validation or test draw."""
    if d.task == "sentence":
        return _sentence_report(model, vocab)
    n = d.n_test if split == "test" else d.n_val
    x, y = _draw(d, n, d.data_seed + (SEED_TEST if split == "test" else SEED_VAL), split)
    device, step = model_device(model), batch_size or n
    out = torch.cat(
        [
            _outputs(d.task, model, x[i : i + step].to(device)).float().cpu()
            for i in range(0, n, step)
        ]
    )
    rows = _rows(d, x, y, out)
    return Report(
        f"{d.task}: {n:,} {split} sequences (data seed {d.data_seed})",
        rows,
        _goal(d.task, rows[GOALS[d.task][0]]["model"]),
    )


# ---------------------------------------------------------------------------- predict
SHAPES = {
    "sine": "[x1, x2, ...]",
    "adding": "[[number, marker], ...]",
    "mean-sign": "[[10 numbers], ...]",
    "copy": "[symbol, ...]",
}
EMPTY = {
    "sine": {"next": None},
    "adding": {"sum": None},
    "mean-sign": {"label": None},
    "copy": {"output": None},
    "sentence": {"prompt": "", "completion": None},
}


def _parse(d: SyntheticData, item: Any, where: str) -> Tensor:
    """One input sequence (a JSON array, or the Python list it reads as) as a tensor."""
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: [[[[... nested deep
            raise RnnkitError(
                f"{where}: expected a JSON array, got {item.strip()[:40]!r}"
            ) from None
    expected = SHAPES[d.task]
    try:
        if d.task == "copy":
            expected += f" of symbols 0..{d.n_symbols + 1}"
            t = torch.as_tensor(item, dtype=torch.long)
            ok = t.dim() == 1 and bool(((t >= 0) & (t <= d.n_symbols + 1)).all())
        else:
            t = torch.as_tensor(item, dtype=torch.float32)
            width = {"sine": 0, "adding": 2, "mean-sign": 10}[d.task]
            ok = t.dim() == 1 if not width else t.dim() == 2 and t.shape[1] == width
    except (TypeError, ValueError, RuntimeError):
        ok = False
    if not ok or len(t) < 1:
        raise RnnkitError(f"{where}: expected {expected} for the {d.task} task")
    if not bool(torch.isfinite(t).all()):  # NaN, Infinity (JSON reads them), 1e309: NaN out
        raise RnnkitError(f"{where}: expected finite numbers, got NaN or infinity")
    return t


def _predict_one(trained: TrainedModel, item: Any, where: str) -> dict[str, Any]:
    task, model = trained.config.data.task, trained.model
    if task == "sentence":
        if not isinstance(item, str):
            raise RnnkitError(f"{where}: expected a text prompt, got {type(item).__name__}")
        return {"prompt": item, "completion": _complete(model, trained.state, item, where)}
    x = _parse(trained.config.data, item, where)[None].to(trained.device)
    if task == "sine":
        return {"next": round(float(model.step_predictions(x[..., None])[0, -1]), 6)}
    if task == "adding":
        return {"sum": round(float(model(x)[0, 0]), 6)}
    if task == "mean-sign":
        probs = model.predict_proba(x)[0].tolist()
        return {
            "label": max(range(2), key=probs.__getitem__),
            "probabilities": {str(k): round(p, 6) for k, p in enumerate(probs)},
        }
    return {"output": model(x)[0].argmax(-1).tolist()}


def _blank(item: Any) -> bool:
    return item is None or (
        not item.strip() if isinstance(item, str) else isinstance(item, (list, tuple)) and not item
    )


# ---------------------------------------------------------------------------- the task
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


class SyntheticTask(Task):
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
        d, settings = config.data, config.train
        vocab = (
            None
            if d.task != "sentence"
            else Vocabulary.from_dict(saved["vocab"])
            if saved
            else char_vocabulary("\n".join(data.SENTENCES) + "\n")
        )  # <unk>, the characters
        kept = {"vocab": vocab.to_dict()} if vocab is not None else {}
        model, _ = self.restore(config, kept, None)
        fixed = _sentence_batch(vocab) if vocab is not None else None
        batches = FreshBatches(
            lambda generator: (
                fixed if fixed is not None else _draw(d, settings.batch_size, generator)
            ),
            d.data_seed,
        )
        m = config.model
        log(
            f"synthetic task {d.task}: {type(model).__name__} ({m.cell}, hidden {m.hidden_size}, "
            f"{m.num_layers} layer(s), {sum(p.numel() for p in model.parameters()):,} parameters), "
            + ("each step trains on the 3 sentences" if vocab else f"sequence length {d.seq_len}")
        )

        def loss_fn(model: nn.Module, batch) -> StepOutput:
            x, y = batch
            return StepOutput(_loss(d.task, _outputs(d.task, model, x), y), items=len(x))

        def eval_fn(model: nn.Module) -> dict[str, float]:
            rows = _report(model, d, vocab, "val").rows
            metric, short = GOALS[d.task][:2]
            return {"loss": rows.get("loss", rows[metric])["model"], short: rows[metric]["model"]}

        return Setup(model, batches, loss_fn, eval_fn, vocab, kept, self.evaluate)

    def restore(self, config: SyntheticConfig, saved, model_config):
        vocab = Vocabulary.from_dict(saved["vocab"]) if config.data.task == "sentence" else None
        kind, settings = MODELS[config.data.task]
        return kind(
            _model_config(config, vocab)
            if model_config is None
            else settings.from_dict(dict(model_config))
        ), vocab

    def evaluate(self, trained: TrainedModel, data: Any = None, *, batch_size=None) -> list[Report]:
        """The scores on the fixed, seeded test draw of ``data.n_test`` sequences beside the
        baseline and the goal (``data`` must be ``None``: the data are generated).

        ``batch_size``: sequences per forward pass (default: all at once); the sentence task
        ignores it (it completes its four prompts one by one).
        """
        return [_report(trained.model, trained.config.data, trained.state, "test", batch_size)]

    def views(self, trained: TrainedModel, data: Any = None, *, evals=()) -> list[View]:
        """The error curve: the task's metric on the fixed validation draw at each evaluation of
        the run (``evals``, from its metrics log) against the training step, beside the level of
        the task's baseline on that draw (as the report computes it) and the goal. None when the
        run logged no evaluation."""
        d = trained.config.data
        metric, short, sign, goal, baseline = GOALS[d.task]
        points = [(e["step"], e[f"val_{short}"]) for e in evals if f"val_{short}" in e]
        if not points:
            return []
        levels = {f"goal ({sign} {goal:g})": goal}
        if baseline is not None:
            rows = _report(trained.model, d, trained.state, "val").rows
            levels[baseline] = rows[metric][baseline]
        return [
            View(
                "series",
                f"{d.task}: validation {metric} during training"
                + ("" if d.task == "sentence" else f" ({d.n_val:,} sequences)"),
                [step for step, _ in points],
                {"model": [float(value) for _, value in points]},
                xlabel="step",
                ylabel=metric,
                levels=levels,
                ylog=sign == "<",  # errors fall by orders of magnitude
            )
        ]

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        """One record per input: ``inputs`` is a file (``"-"``: standard input) of one JSON array
        a line (sentence: a text prompt a line), or a list of such arrays (as Python lists) or
        prompts. See :attr:`predict_hint` for what each task reads and writes."""
        numbered = o.numbered_lines(inputs)
        source = (
            ("standard input" if str(inputs) == "-" else str(inputs))
            if isinstance(inputs, (str, Path))
            else None
        )
        outputs = {
            n: _predict_one(trained, item, f"{source} line {n}" if source else f"input {n}")
            for n, item in numbered
            if not _blank(item)
        }
        return o.records_for(numbered, outputs, EMPTY[trained.config.data.task])

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
        task, model = trained.config.data.task, trained.model
        what = f"synthetic {task}"
        metadata = {"synthetic": task}
        if task == "sentence":
            spec = language_model_spec(model, trained.state, what)
            spec.metadata.update(metadata)
            return spec
        if task in ("sine", "adding"):
            return forecaster_spec(model, what, metadata)
        if task == "mean-sign":
            return classifier_spec(model, what, metadata)
        return tagger_spec(model, what, metadata)  # copy

    def language_model(self, trained: TrainedModel) -> tuple[nn.Module, Vocabulary] | None:
        return (trained.model, trained.state) if trained.config.data.task == "sentence" else None

    def inspection_text(self, trained: TrainedModel) -> str:
        return "\n".join(data.SENTENCES) + "\n"  # the sentence task's whole training text

    def inspect(self, trained: TrainedModel, text: str | None = None, *, chars: int = 2000):
        """mean-sign: the top layer's hidden-state paths of :data:`PATHS_PER_CLASS` validation
        sequences of each class, projected to 2-D by PCA; sentence: the character view."""
        d = trained.config.data
        if d.task != "mean-sign":
            return super().inspect(trained, text, chars=chars)
        if text is not None:
            raise RnnkitError("a mean-sign model has no view of a text")
        x, y = _draw(d, 8 * PATHS_PER_CLASS, d.data_seed + SEED_VAL)
        picked = torch.cat([(y == label).nonzero()[:PATHS_PER_CLASS, 0] for label in (0, 1)])
        found = pca_paths(trained.model, x[picked].to(trained.device))
        return {
            "paths": {
                "paths": found["paths"],
                "explained": found["explained"],
                "labels": y[picked],
                "predicted": found["outputs"].argmax(-1).cpu(),
                "names": ["negative mean", "positive mean"],
                "source": f"{len(picked)} validation sequences (data seed {d.data_seed})",
            }
        }


register(SyntheticTask())
