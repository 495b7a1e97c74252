"""The core the five synthetic tasks share: their defaults and goal, seeded batches, the report on a
fixed draw, the error curve, and predict's reading of one JSON array.

A synthetic task is a :class:`SyntheticKind`: its data (:meth:`~SyntheticKind.draw`), its model
(:attr:`~SyntheticKind.head` built by :meth:`~SyntheticKind.model_config`), loss, scores
beside a baseline (:meth:`~SyntheticKind.rows`), and its predict record
(:meth:`~SyntheticKind.answer`). An instance holds the run's data settings and the task's state
(the sentence task's vocabulary; ``None`` for the others).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.errors import RnnkitError
from rnnkit.tasks.base import ExportSpec, Report, Scores, TrainedModel, View
from rnnkit.training.devices import model_device
from rnnkit.training.settings import StepOutput

if TYPE_CHECKING:
    from rnnkit.tasks.synthetic import SyntheticData, SyntheticModel

__all__ = ["Defaults", "Goal", "Head", "SyntheticKind", "read_json", "token_loss"]

SEED_VAL, SEED_TEST = 1_000_001, 2_000_003  # offsets of the fixed validation and test draws


@dataclass(frozen=True)
class Defaults:
    """A task's own defaults: ``rnnkit train synthetic --task NAME`` alone reaches the task's goal
    within about a minute on 2 CPU cores (checked with 3 seeds each)."""

    seq_len: int
    cell: str
    hidden_size: int
    num_layers: int
    max_steps: int
    batch_size: int
    lr: float
    every: int  # eval_every and save_every

    def sections(self) -> dict[str, dict[str, Any]]:
        """The defaults as the config's sections (the output directory aside)."""
        return {
            "data": {"seq_len": self.seq_len},
            "model": {
                "cell": self.cell,
                "hidden_size": self.hidden_size,
                "num_layers": self.num_layers,
            },
            "train": {
                "max_steps": self.max_steps,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "warmup_steps": 50,
                "eval_every": self.every,
                "save_every": self.every,
            },
        }


@dataclass(frozen=True)
class Goal:
    """What a task's report scores: the ``metric`` row, named ``short`` in the training log
    (``val_<short>``), the goal it must reach (``sign`` ``"<"`` or ``">="`` ``value``), and the
    name of the baseline column beside the model's (``None``: no baseline)."""

    metric: str
    short: str
    sign: str
    value: float
    baseline: str | None

    def verdict(self, value: float) -> dict[str, str]:
        reached = value >= self.value if self.sign == ">=" else value < self.value
        return {
            self.metric: f"{self.sign} {self.value:g} ({'reached' if reached else 'not reached'})"
        }


@dataclass(frozen=True)
class Head:
    """The model a task trains: its class, its config's class, and what ``rnnkit export`` traces
    of it (``None``: the task's own :meth:`~SyntheticKind.export_spec`)."""

    model: type[nn.Module]
    config: type
    export: Callable[[nn.Module, str, dict[str, str]], ExportSpec] | None = None


def token_loss(out: Tensor, y: Tensor) -> Tensor:
    """The cross-entropy of every step's logits ``(N, L, C)`` against ``y`` ``(N, L)`` (-100:
    ignored)."""
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=-100)


def read_json(item: Any, where: str) -> Any:
    """One input line as the Python value of its JSON (other values are kept as they are)."""
    if not isinstance(item, str):
        return item
    try:
        return json.loads(item)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: [[[[... nested deep
        raise RnnkitError(f"{where}: expected a JSON array, got {item.strip()[:40]!r}") from None


class SyntheticKind:
    """Base of the synthetic tasks: subclasses set the class attributes and the data, model, loss
    and score methods; the rest is shared."""

    name: ClassVar[str]
    defaults: ClassVar[Defaults]
    goal: ClassVar[Goal]
    head: ClassVar[Head]
    # predict: the key of its answer, the input it reads (for its error message), and the
    # numbers a step of that input (0: one number)
    record: ClassVar[str]
    shape: ClassVar[str]
    width: ClassVar[int] = 0

    def __init__(self, data: SyntheticData, state: Any = None) -> None:
        self.data, self.state = data, state

    # ------------------------------------------------------------------------ config and state
    def check(self) -> None:
        """Raise a ``ConfigError`` for data settings this task cannot use."""

    @classmethod
    def make_state(cls, saved: Mapping[str, Any] | None) -> Any:
        """The task's state from a checkpoint's task state (``None``: a new run)."""
        return None

    def saved(self) -> dict[str, Any]:
        """The task's state as plain data for checkpoints."""
        return {}

    # ------------------------------------------------------------------------ data and model
    def draw(self, n: int, seed: torch.Generator | int, split: str = "train") -> tuple[Any, Any]:
        """``n`` examples ``(inputs, targets)`` (``split``: ``"test"`` or another draw)."""
        raise NotImplementedError

    def batch(self, size: int, generator: torch.Generator) -> tuple[Any, Any]:
        """One training batch of ``size`` examples."""
        return self.draw(size, generator)

    def about(self) -> str:
        """What a training step sees, for the log."""
        return f"sequence length {self.data.seq_len}"

    def model_config(self, rnn: dict[str, Any]) -> Any:
        """The model's config from the recurrent settings ``rnn``."""
        raise NotImplementedError

    def build(self, options: SyntheticModel, saved: Mapping[str, Any] | None = None) -> nn.Module:
        """The untrained model: from the model options, or from a checkpoint's model config."""
        if saved is not None:
            return self.head.model(self.head.config.from_dict(dict(saved)))
        return self.head.model(self.model_config(options.to_dict()))

    def outputs(self, model: nn.Module, x: Tensor) -> Tensor:
        """The model's raw outputs on inputs ``x``: predictions or logits."""
        return model(x)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> StepOutput:
        """The training loss of one batch."""
        x, y = batch
        return StepOutput(self.loss(self.outputs(model, x), y), items=len(x))

    # ------------------------------------------------------------------------ scores
    def rows(self, x: Tensor, y: Tensor, out: Tensor) -> dict[str, dict[str, float]]:
        """The report's rows: the metric beside the baseline first, then the extra rows."""
        raise NotImplementedError

    @torch.no_grad()
    def report(self, model: nn.Module, split: str, batch_size: int | None = None) -> Report:
        """The scores of ``model`` on the fixed validation or test draw."""
        d = self.data
        n = d.n_test if split == "test" else d.n_val
        x, y = self.draw(n, d.data_seed + (SEED_TEST if split == "test" else SEED_VAL), split)
        device, step = model_device(model), batch_size or n
        out = torch.cat(
            [
                self.outputs(model, x[i : i + step].to(device)).float().cpu()
                for i in range(0, n, step)
            ]
        )
        rows = self.rows(x, y, out)
        title = f"{self.name}: {n:,} {split} sequences (data seed {d.data_seed})"
        return Report(title, rows, self.goal.verdict(rows[self.goal.metric]["model"]))

    def score(self, model: nn.Module, split: str, batch_size: int | None = None) -> Scores:
        """The report on the fixed ``split`` draw and the metrics of the training log (the loss
        and the goal's metric) taken from it: a baseline here costs next to nothing."""
        report = self.report(model, split, batch_size)
        rows, g = report.rows, self.goal
        return Scores(
            {"loss": rows.get("loss", rows[g.metric])["model"], g.short: rows[g.metric]["model"]},
            report,
        )

    def validation(self) -> str:
        """The validation data, for the error curve's title."""
        return f" ({self.data.n_val:,} sequences)"

    def views(self, model: nn.Module, evals: list[Mapping[str, Any]]) -> list[View]:
        """The error curve on the validation draw beside the baseline's level and the goal."""
        g = self.goal
        points = [(e["step"], e[f"val_{g.short}"]) for e in evals if f"val_{g.short}" in e]
        if not points:
            return []
        levels = {f"goal ({g.sign} {g.value:g})": g.value}
        if g.baseline is not None:
            levels[g.baseline] = self.report(model, "val").rows[g.metric][g.baseline]
        return [
            View(
                "series",
                f"{self.name}: validation {g.metric} during training{self.validation()}",
                [step for step, _ in points],
                {"model": [float(value) for _, value in points]},
                xlabel="step",
                ylabel=g.metric,
                levels=levels,
                ylog=g.sign == "<",  # errors fall by orders of magnitude
            )
        ]

    # ------------------------------------------------------------------------ predict
    def expected(self) -> str:
        return self.shape

    def tensor(self, item: Any) -> Tensor | None:
        """``item`` as one input sequence, or ``None`` when it has the wrong shape."""
        t = torch.as_tensor(item, dtype=torch.float32)
        fits = t.dim() == 2 and t.shape[1] == self.width if self.width else t.dim() == 1
        return t if fits else None

    def parse(self, item: Any, where: str) -> Tensor:
        """One input sequence (a JSON array, or the Python list it reads as) as a tensor."""
        item = read_json(item, where)
        try:
            t = self.tensor(item)
        except (TypeError, ValueError, RuntimeError):
            t = None
        if t is None or len(t) < 1:
            raise RnnkitError(f"{where}: expected {self.expected()} for the {self.name} task")
        if not bool(torch.isfinite(t).all()):  # NaN, Infinity (JSON reads them), 1e309: NaN out
            raise RnnkitError(f"{where}: expected finite numbers, got NaN or infinity")
        return t

    def answer(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        """The predict record of one input ``x`` (a batch of one)."""
        raise NotImplementedError

    def empty(self) -> dict[str, Any]:
        """The record of a blank input."""
        return {self.record: None}

    def predict_one(self, model: nn.Module, item: Any, where: str) -> dict[str, Any]:
        return self.answer(model, self.parse(item, where)[None].to(model_device(model)))

    # ------------------------------------------------------------------------ capabilities
    def export_spec(self, model: nn.Module) -> ExportSpec:
        return self.head.export(model, f"synthetic {self.name}", {"synthetic": self.name})

    def language_model(self, model: nn.Module) -> tuple[nn.Module, Any] | None:
        return None

    def inspection_text(self) -> str:
        raise RnnkitError(f"inspecting a {self.name} model needs a text to read")

    def inspect(self, trained: TrainedModel, text: str | None) -> dict[str, Any] | None:
        """The task's own views for ``rnnkit inspect`` (``None``: the task contract's)."""
        return None
