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

Training data are drawn fresh for every batch from a generator seeded with ``(data_seed, batch
index)``, so a run is reproducible and resumable and never overfits a fixed set; validation and
test sets are fixed draws with their own seeds (the sine test set uses phases the training never
sees). ``sentence`` trains on its three sentences.

The sine metric leaves out the first step of each sequence: from a single value a model cannot
tell a rising wave from a falling one, so no model can predict that step well (it is reported too).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data import synthetic as data
from rnnkit.errors import RnnkitError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.training import StepOutput, TrainConfig, Trainer, TrainResult, model_device

__all__ = [
    "SYNTHETIC_TASKS",
    "SyntheticEvaluation",
    "SyntheticRun",
    "SyntheticTaskConfig",
    "build_model",
    "evaluate_command",
    "evaluate_synthetic",
    "predict_command",
    "train_synthetic",
]

TASK = "synthetic"
SYNTHETIC_TASKS = ("sine", "mean-sign", "sentence", "adding", "copy")

# Per-task defaults for the options left at None.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "sine": {"seq_len": 20, "cell": "rnn", "hidden_size": 6, "num_layers": 1},
    "mean-sign": {"seq_len": 20, "cell": "rnn", "hidden_size": 64, "num_layers": 2},
    "sentence": {"cell": "lstm", "hidden_size": 64, "num_layers": 1},
    "adding": {"seq_len": 50, "cell": "lstm", "hidden_size": 64, "num_layers": 1},
    "copy": {"seq_len": 20, "cell": "lstm", "hidden_size": 64, "num_layers": 1},
}
GOALS = {"sine": 1e-3, "mean-sign": 0.97, "sentence": 1.0, "adding": 0.01, "copy": 0.99}
SEED_VAL, SEED_TEST = 1_000_001, 2_000_003  # offsets of the fixed validation and test draws


@dataclass
class SyntheticTaskConfig:
    """Which synthetic task and how big (shared by the Python API and ``rnnkit train synthetic``).

    The batch size (sequences per step) is the Trainer's ``TrainConfig.batch_size``.

    Attributes:
        task: ``"sine"``, ``"mean-sign"``, ``"sentence"``, ``"adding"`` or ``"copy"``.
        seq_len: sequence length (for ``copy``: the delay between the symbols and their recall);
            ``None``: the task's default (sine 20, mean-sign 20, adding 50, copy 20; unused by
            ``sentence``).
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``; ``None``: the task's default.
        hidden_size: ``None``: the task's default (sine 6, mean-sign 64, others 64).
        num_layers: ``None``: the task's default (mean-sign 2, others 1).
        n_val, n_test: sizes of the fixed validation and test sets.
        n_copy, n_symbols: the copy task's number of symbols to remember and alphabet size.
        data_seed: seed of every data draw.
    """

    task: str = "sine"
    seq_len: int | None = None
    cell: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    n_val: int = 512
    n_test: int = 1000
    n_copy: int = 10
    n_symbols: int = 8
    data_seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in SYNTHETIC_TASKS:
            raise RnnkitError(f"task must be one of {', '.join(SYNTHETIC_TASKS)}, got {self.task!r}")
        if self.cell is not None and self.cell not in ("rnn", "lstm", "gru"):
            raise RnnkitError(f"cell must be rnn, lstm or gru, got {self.cell!r}")
        for name in ("seq_len", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise RnnkitError(f"{name} must be >= 1, got {value}")
        if self.task == "adding" and self.seq_len is not None and self.seq_len < 2:
            raise RnnkitError(f"the adding problem needs seq_len >= 2, got {self.seq_len}")
        for name in ("n_val", "n_test", "n_copy", "n_symbols"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"{name} must be >= 1, got {getattr(self, name)}")

    def resolved(self) -> SyntheticTaskConfig:
        """A copy with every ``None`` replaced by the task's default."""
        defaults = TASK_DEFAULTS[self.task]
        return replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SyntheticTaskConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


# ---------------------------------------------------------------------------- data


class FreshBatches:
    """An endless, resumable batch source drawing batch ``i`` with a generator seeded ``(seed, i)``."""

    def __init__(self, draw: Callable[[torch.Generator], Any], seed: int) -> None:
        self.draw = draw
        self.seed = seed
        self.index = 0

    def next_batch(self) -> Any:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.index)
        self.index += 1
        return self.draw(generator)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.index, self.seed = int(state["index"]), int(state["seed"])


def _char_vocab() -> list[str]:
    sentences, _ = data.sentence_completion()
    return sorted(set("\n".join(sentences) + "\n"))


def draw(task: SyntheticTaskConfig, n: int, generator: torch.Generator | int, split: str = "train"):
    """``n`` examples of a (resolved) task: ``(inputs, targets)``."""
    if task.task == "sine":
        wave = data.sine_wave(n, seq_len=task.seq_len, split="test" if split == "test" else "train",
                              seed=generator)
        return wave.inputs, wave.targets[..., 0]  # (N, L, 1), (N, L)
    if task.task == "mean-sign":
        return data.mean_sign(n, seq_len=task.seq_len, seed=generator)
    if task.task == "adding":
        return data.adding_problem(n, seq_len=task.seq_len, seed=generator)
    if task.task == "copy":
        return data.copy_task(n, seq_len=task.seq_len, n_copy=task.n_copy, n_symbols=task.n_symbols,
                              seed=generator)
    return _sentence_batch()


def _sentence_batch() -> tuple[Tensor, Tensor]:
    """The three sentences as one batch: input ``"\\n" + s``, target ``s + "\\n"``, padded."""
    sentences, _ = data.sentence_completion()
    vocab = {c: i for i, c in enumerate(_char_vocab())}
    length = max(len(s) for s in sentences) + 1
    inputs = torch.zeros(len(sentences), length, dtype=torch.long)
    targets = torch.full((len(sentences), length), -100, dtype=torch.long)  # -100: ignored
    for row, sentence in enumerate(sentences):
        ids = [vocab[c] for c in "\n" + sentence + "\n"]
        inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1])
        targets[row, : len(ids) - 1] = torch.tensor(ids[1:])
    return inputs, targets


# ---------------------------------------------------------------------------- models


def build_model(task: SyntheticTaskConfig) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a (resolved) task and its config as a dict."""
    if task.task == "sine":
        config = ForecasterConfig(input_size=1, horizon=1, lookback=task.seq_len, mode="autoregressive",
                                  cell=task.cell, hidden_size=task.hidden_size, num_layers=task.num_layers)
        return Forecaster(config), asdict(config)
    if task.task == "adding":
        config = ForecasterConfig(input_size=2, horizon=1, lookback=task.seq_len, target_index=-1,
                                  cell=task.cell, hidden_size=task.hidden_size, num_layers=task.num_layers)
        return Forecaster(config), asdict(config)
    if task.task == "mean-sign":
        from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig

        config = SequenceClassifierConfig(num_classes=2, input_size=10, cell=task.cell,
                                          hidden_size=task.hidden_size, num_layers=task.num_layers)
        return SequenceClassifier(config), asdict(config)
    if task.task == "copy":
        from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig

        config = SequenceTaggerConfig(
            vocab_size=task.n_symbols + 2, num_tags=task.n_symbols + 1, embedding_dim=16,
            padding_idx=None, unk_idx=None, cell=task.cell, hidden_size=task.hidden_size,
            num_layers=task.num_layers, bidirectional=False,  # one direction: recall, not look-ahead
        )
        return SequenceTagger(config), asdict(config)
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

    config = LanguageModelConfig(vocab_size=len(_char_vocab()), cell=task.cell, embedding_size=16,
                                 hidden_size=task.hidden_size, num_layers=task.num_layers)
    return LanguageModel(config), asdict(config)


def rebuild_model(task: SyntheticTaskConfig, model_config: dict[str, Any]) -> nn.Module:
    """The untrained model of a checkpoint, from its stored config."""
    if task.task in ("sine", "adding"):
        return Forecaster(ForecasterConfig.from_dict(dict(model_config)))
    if task.task == "mean-sign":
        from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig

        return SequenceClassifier(SequenceClassifierConfig.from_dict(dict(model_config)))
    if task.task == "copy":
        from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig

        return SequenceTagger(SequenceTaggerConfig.from_dict(dict(model_config)))
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

    return LanguageModel(LanguageModelConfig.from_dict(dict(model_config)))


def _outputs(task: SyntheticTaskConfig, model: nn.Module, x: Tensor) -> Tensor:
    """The model's raw outputs on inputs ``x``: predictions or logits."""
    if task.task == "sine":
        return model.step_predictions(x)  # (N, L)
    if task.task == "sentence":
        return model(x)[0]  # (N, L, V)
    return model(x)  # adding (N, 1); mean-sign (N, 2); copy (N, L, C)


def _loss(task: SyntheticTaskConfig, out: Tensor, y: Tensor) -> Tensor:
    if task.task in ("sine", "adding"):
        return F.mse_loss(out, y)
    if task.task == "mean-sign":
        return F.cross_entropy(out, y)
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=-100)


# ---------------------------------------------------------------------------- evaluation


@dataclass
class SyntheticEvaluation:
    """The task's metric for the model and the baseline, and whether the goal is reached."""

    task: str
    metric: str
    model: float
    baseline: float | None
    baseline_name: str
    goal: float
    higher_is_better: bool
    extra: dict[str, float]
    examples: int

    @property
    def reached(self) -> bool:
        return self.model >= self.goal if self.higher_is_better else self.model < self.goal

    def format(self) -> str:
        sign = ">=" if self.higher_is_better else "<"
        base = "n/a" if self.baseline is None else f"{self.baseline:.6g}"
        lines = [
            f"{self.task}: {self.examples} test examples",
            f"{'metric':<26} {'model':>12} {self.baseline_name:>22}   goal",
            (f"{self.metric:<26} {self.model:>12.6g} {base:>22}   {sign} {self.goal:g} "
             f"({'reached' if self.reached else 'not reached'})"),
        ]
        lines += [f"{name:<26} {value:>12.6g}" for name, value in self.extra.items()]
        return "\n".join(lines)


def _greedy_completion(model: nn.Module, prompt: str, max_chars: int = 40) -> str:
    vocab = _char_vocab()
    ids = {c: i for i, c in enumerate(vocab)}
    unknown = sorted(set(prompt) - set(ids))
    if unknown:
        raise RnnkitError(f"the sentence model knows only the characters {''.join(vocab)!r}; the prompt "
                          f"{prompt!r} has {''.join(unknown)!r}")
    newline = ids["\n"]
    new = model.generate([newline] + [ids[c] for c in prompt], max_chars, greedy=True, stop=[newline])[0]
    return "".join(vocab[i] for i in new)


@torch.no_grad()
def evaluate_synthetic(task: SyntheticTaskConfig, model: nn.Module, n: int | None = None,
                       *, split: str = "test") -> SyntheticEvaluation:
    """Score a trained model on a fixed draw (``split="test"``: the test seed; ``"val"``: validation)."""
    task = task.resolved()
    was_training = model.training
    model.eval()
    try:
        return _evaluate(task, model, n or (task.n_test if split == "test" else task.n_val), split)
    finally:
        model.train(was_training)


def _evaluate(task: SyntheticTaskConfig, model: nn.Module, n: int, split: str) -> SyntheticEvaluation:
    goal = GOALS[task.task]
    if task.task == "sentence":
        _, checks = data.sentence_completion()
        results = {prompt: _greedy_completion(model, prompt) for prompt, _ in checks}
        right = sum(results[prompt] == completion for prompt, completion in checks)
        extra = {f"{prompt!r} -> {results[prompt]!r}": float(results[prompt] == c) for prompt, c in checks}
        return SyntheticEvaluation(task.task, "completions right", right / len(checks), None, "", goal,
                                   True, extra, len(checks))
    seed = task.data_seed + (SEED_TEST if split == "test" else SEED_VAL)
    x, y = draw(task, n, seed, split)
    device = model_device(model)
    out = _outputs(task, model, x.to(device)).cpu().float()
    if task.task == "sine":
        errors = (out - y) ** 2  # (N, L)
        last = x[:, :, 0]  # persistence: the next value is the current one
        return SyntheticEvaluation(
            task.task, "MSE (steps 2..L, unseen phases)", errors[:, 1:].mean().item(),
            ((last - y) ** 2)[:, 1:].mean().item(), "persistence", goal, False,
            {"MSE (all steps)": errors.mean().item()}, n)
    if task.task == "adding":
        return SyntheticEvaluation(task.task, "MSE", F.mse_loss(out, y).item(),
                                   F.mse_loss(torch.ones_like(y), y).item(), "always 1", goal, False, {}, n)
    if task.task == "mean-sign":
        accuracy = (out.argmax(1) == y).float().mean().item()
        majority = max(y.float().mean().item(), 1 - y.float().mean().item())
        return SyntheticEvaluation(task.task, "accuracy", accuracy, majority, "majority class", goal, True,
                                   {"loss": F.cross_entropy(out, y).item()}, n)
    copied = slice(-task.n_copy, None)
    accuracy = (out[:, copied].argmax(-1) == y[:, copied]).float().mean().item()
    return SyntheticEvaluation(task.task, "accuracy on copied symbols", accuracy, 1.0 / task.n_symbols,
                               "chance", goal, True, {"loss": _loss(task, out, y).item()}, n)


# ---------------------------------------------------------------------------- training


@dataclass
class SyntheticRun:
    model: nn.Module
    result: TrainResult
    test: SyntheticEvaluation
    task: SyntheticTaskConfig


def train_synthetic(task: SyntheticTaskConfig, train_config: TrainConfig, *,
                    log: Callable[[str], None] | None = None,
                    resume: dict[str, Any] | None = None,
                    callbacks: Sequence[Callable[[Trainer, str, dict[str, Any]], None]] = ()) -> SyntheticRun:
    """Train the task's model with the shared Trainer, then score it on the test draw.

    ``callbacks`` are handed to the Trainer (they see every ``"step"`` and ``"eval"`` record).
    """
    task = task.resolved()
    torch.manual_seed(train_config.seed)  # the model's initial weights
    model, model_config = build_model(task)
    if task.task == "sentence":
        batch = _sentence_batch()
        source: Any = FreshBatches(lambda generator: batch, task.data_seed)
    else:
        source = FreshBatches(lambda generator: draw(task, train_config.batch_size, generator), task.data_seed)

    def loss_fn(model: nn.Module, batch) -> StepOutput:
        x, y = batch
        return StepOutput(_loss(task, _outputs(task, model, x), y), items=len(x))

    def eval_fn(model: nn.Module) -> dict[str, float]:
        if task.task == "sentence":
            x, y = _sentence_batch()
            device = model_device(model)
            score = _evaluate(task, model, 0, "val").model
            return {"loss": _loss(task, _outputs(task, model, x.to(device)), y.to(device)).item(),
                    "completions": score}
        result = _evaluate(task, model, task.n_val, "val")
        if task.task in ("sine", "adding"):
            return {"loss": result.model}
        return {"loss": result.extra["loss"], "accuracy": result.model}

    say = log or (lambda message: print(message, file=sys.stderr))
    parameters = sum(p.numel() for p in model.parameters())
    say(f"synthetic task {task.task}: {type(model).__name__} ({task.cell}, hidden {task.hidden_size}, "
        f"{task.num_layers} layer(s), {parameters:,} parameters)"
        + (f", sequence length {task.seq_len}" if task.task != "sentence" else ""))
    trainer = Trainer(model, train_config, source, loss_fn, eval_fn=eval_fn, task=TASK,
                      model_config=model_config, task_state={"task_config": asdict(task)},
                      unit="sequence", log=log, callbacks=callbacks)
    result = trainer.fit(resume=resume)
    model.cpu()
    return SyntheticRun(model, result, evaluate_synthetic(task, model), task)


# ---------------------------------------------------------------------------- commands


def load_synthetic(checkpoint: dict[str, Any]) -> tuple[SyntheticTaskConfig, nn.Module]:
    """The task config and trained model of a synthetic checkpoint."""
    try:
        task = SyntheticTaskConfig.from_dict(dict(checkpoint["task_state"]["task_config"])).resolved()
        model = rebuild_model(task, checkpoint["model_config"])
        model.load_state_dict(checkpoint["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        where = checkpoint.get("path", "the checkpoint")
        raise RnnkitError(f"{where} is not a valid synthetic-task checkpoint: "
                          f"{' '.join(str(error).split())[:200]}") from error
    return task, model.eval()


def evaluate_command(args: Any, checkpoint: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR`` for a synthetic task: a fresh test draw (its own seed), the metric
    beside the baseline. The data are generated, so ``--data`` is not read."""
    task, model = load_synthetic(checkpoint)
    print(evaluate_synthetic(task, model).format())
    return 0


def _parse_line(task: SyntheticTaskConfig, line: str, number: int, source: str) -> Any:
    if task.task == "sentence":
        return line.rstrip("\n")
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise RnnkitError(f"{source} line {number}: expected a JSON array, got {line.strip()[:40]!r}") from error
    shapes = {"sine": "[x1, x2, ...]", "adding": "[[number, marker], ...]", "copy": "[symbol, ...]",
              "mean-sign": "[[10 numbers], ...]"}
    try:
        if task.task == "copy":
            tensor = torch.tensor(value, dtype=torch.long)
            ok = tensor.dim() == 1 and bool(((tensor >= 0) & (tensor <= task.n_symbols + 1)).all())
        else:
            tensor = torch.tensor(value, dtype=torch.float32)
            width = {"sine": None, "adding": 2, "mean-sign": 10}[task.task]
            ok = tensor.dim() == (1 if width is None else 2) and (width is None or tensor.shape[1] == width)
    except (TypeError, ValueError, RuntimeError):
        ok = False
    if not ok or tensor.shape[0] < 1:
        raise RnnkitError(f"{source} line {number}: expected {shapes[task.task]} for the {task.task} task")
    return tensor


def predict_command(args: Any, checkpoint: dict[str, Any]) -> int:
    """``rnnkit predict DIR --input FILE|-`` for a synthetic task; one JSON line in, one out.

    Input lines: ``sine`` a JSON array of values (-> the next value); ``mean-sign`` an array of
    steps of 10 numbers (-> label and probabilities); ``adding`` an array of ``[number, marker]``
    pairs (-> the sum); ``copy`` an array of symbols (-> the symbol written at each step);
    ``sentence`` a plain-text prompt (-> its greedy completion).
    """
    task, model = load_synthetic(checkpoint)
    source = str(getattr(args, "input", "-") or "-")
    if source == "-":
        lines = sys.stdin.read().splitlines()
        name = "<stdin>"
    else:
        path = Path(source)
        if not path.is_file():
            raise RnnkitError(f"input file not found: {source}")
        lines = path.read_text(encoding="utf-8").splitlines()
        name = path.name
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _parse_line(task, line, number, name)
        with torch.no_grad():
            if task.task == "sentence":
                rows.append({"prompt": item, "completion": _greedy_completion(model, item)})
            elif task.task == "sine":
                rows.append({"next": float(model.step_predictions(item[None, :, None])[0, -1])})
            elif task.task == "adding":
                rows.append({"sum": float(model(item[None])[0, 0])})
            elif task.task == "mean-sign":
                probabilities = model.predict_proba(item[None])[0]
                rows.append({"label": int(probabilities.argmax()),
                             "probabilities": [round(float(p), 6) for p in probabilities]})
            else:
                rows.append({"output": model(item[None])[0].argmax(-1).tolist()})
    text = "".join(json.dumps(row) + "\n" for row in rows)
    output = getattr(args, "output", None)
    if output and output != "-":
        from rnnkit.checkpoint import atomic_write

        atomic_write(output, lambda file: file.write(text.encode("utf-8")))
    else:
        sys.stdout.write(text)
    return 0
