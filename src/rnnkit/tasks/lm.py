"""Language modelling, end to end: train, evaluate and sample a character-level recurrent model.

The command line only parses arguments into the configs below and calls :func:`train_lm`,
:func:`evaluate_lm` and :func:`sample_lm`; the Python API calls the same functions.

Checkpoints of this task have ``task = "lm"``, ``model_config`` = ``asdict(LanguageModelConfig)``
and ``task_state = {"vocab": Vocabulary.to_dict(), "data": asdict(LMDataConfig), "corpus": str}``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from rnnkit.checkpoint import load_checkpoint
from rnnkit.data.text import (
    BUILTIN_CORPUS_CHARS,
    Corpus,
    TBPTTBatch,
    TBPTTBatches,
    char_vocabulary,
    encode_text,
    format_unknown,
    load_corpus,
    read_text,
    split_text,
    stream_matrix,
)
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.training import (
    StepOutput,
    TrainConfig,
    Trainer,
    TrainResult,
    model_device,
    resolve_device,
    seed_everything,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SEQ_LEN",
    "DEFAULT_TRAIN",
    "LMDataConfig",
    "LMTrainOutcome",
    "SampleConfig",
    "TBPTTLoss",
    "evaluate_lm",
    "load_lm",
    "sample_lm",
    "text_loss",
    "train_lm",
]

LN2 = math.log(2.0)

# Defaults of `rnnkit train lm` and `rnnkit demo`, chosen with benchmarks/shakespeare.py (see
# docs/language-model.md): on 2 CPU cores, many small updates at a high learning rate beat a larger
# model or batch within minutes (LSTM 256, 32 x 64 chars, lr 8e-2 decaying to 8e-4).
DEFAULT_MODEL: dict[str, Any] = {
    "cell": "lstm",
    "embedding_size": 64,
    "hidden_size": 256,
    "num_layers": 1,
    "dropout": 0.0,
    "tie_weights": False,
}
DEFAULT_TRAIN = TrainConfig(
    max_steps=3000, batch_size=32, lr=8e-2, warmup_steps=50, min_lr_ratio=0.01, weight_decay=0.1,
    eval_every=250, save_every=250, out_dir="runs/lm",
)
DEFAULT_SEQ_LEN = 64

# What to use instead of a generic command this task has no ``*_command`` for (see task_command).
COMMAND_HINTS = {"predict_command": "use rnnkit sample for a language model"}


def _info(message: str) -> None:
    """Progress information goes to standard output (above any progress bar on stderr)."""
    tqdm.write(message, file=sys.stdout)
    sys.stdout.flush()


def _warn(message: str) -> None:
    """Warnings go to standard error, one line each."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class LMDataConfig:
    """Which text and how it is cut for training.

    Attributes:
        text: path of a UTF-8 text file; ``None`` for the built-in corpus (Python sources).
        seq_len: characters per TBPTT chunk (the truncation length).
        val_fraction: the last part of the text kept for validation (contiguous split).
        eval_chars: evaluations during training read at most this many validation characters
            (``None``: all).
        full_final_eval: after training, measure the loss on the whole validation split (the
            figure reported); ``False`` reports the last evaluation on ``eval_chars`` instead.
        eval_streams: parallel streams for evaluation (speed; each starts from a zero state).
        max_builtin_chars: cap of the built-in corpus.
    """

    text: str | None = None
    seq_len: int = DEFAULT_SEQ_LEN
    val_fraction: float = 0.1
    eval_chars: int | None = 50_000
    full_final_eval: bool = True
    eval_streams: int = 16
    max_builtin_chars: int = BUILTIN_CORPUS_CHARS

    def __post_init__(self) -> None:
        if self.seq_len < 1:
            raise RnnkitError(f"sequence length must be >= 1, got {self.seq_len}")
        if not 0.0 < self.val_fraction < 1.0:
            raise RnnkitError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.eval_chars is not None and self.eval_chars < 2:
            raise RnnkitError(f"eval_chars must be >= 2, got {self.eval_chars}")
        if self.eval_streams < 1:
            raise RnnkitError(f"eval_streams must be >= 1, got {self.eval_streams}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LMDataConfig:
        """Rebuild from ``asdict()`` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class SampleConfig:
    """Options of :func:`sample_lm` (see :meth:`LanguageModel.generate`).

    An empty ``prompt`` starts the text after a newline; the prompt is printed before the sample.
    """

    prompt: str = ""
    length: int = 500
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    num_samples: int = 1
    seed: int | None = None
    stop: str | None = None

    def __post_init__(self) -> None:
        if self.length < 0:
            raise RnnkitError(f"length must be >= 0, got {self.length}")
        if not self.temperature > 0 or not math.isfinite(self.temperature):
            raise RnnkitError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise RnnkitError(f"top-k must be >= 1, got {self.top_k}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise RnnkitError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.num_samples < 1:
            raise RnnkitError(f"number of samples must be >= 1, got {self.num_samples}")
        if self.stop == "":
            raise RnnkitError("the stop string must not be empty")


class TBPTTLoss:
    """The training loss of stateful TBPTT: carries the hidden state (detached) from batch to batch.

    The carried state is saved in checkpoints (``state_dict``) so resumed runs continue exactly.
    """

    def __init__(self) -> None:
        self.state: Any = None

    def __call__(self, model: nn.Module, batch: TBPTTBatch) -> StepOutput:
        if batch.reset:  # the streams wrapped around: the old context does not lead here
            self.state = None
        logits, state = model(batch.inputs, self.state)  # (N, L, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1))
        # A non-finite step is skipped by the Trainer; do not carry a poisoned state past it.
        self.state = detach_state(state) if torch.isfinite(loss) else None
        return StepOutput(loss, items=batch.inputs.numel())

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state["state"]


@torch.no_grad()
def text_loss(model: LanguageModel, ids: Tensor, *, streams: int = 16, chunk: int = 512) -> float:
    """Mean loss in nats per character over every next-character prediction of ``ids``."""
    inputs, targets = stream_matrix(ids, streams)  # (S, T) each
    device = model_device(model)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for start in range(0, inputs.shape[1], chunk):
            x = inputs[:, start : start + chunk].to(device)
            y = targets[:, start : start + chunk].to(device)
            logits, state = model(x, state)  # (S, C, V)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                           ignore_index=-100, reduction="sum"))
            count += int((y != -100).sum())
    finally:
        model.train(was_training)
    return total / count


@dataclass
class LMTrainOutcome:
    """What :func:`train_lm` returns."""

    result: TrainResult
    model: LanguageModel
    vocab: Vocabulary
    corpus: Corpus
    val_loss: float | None  # nats/char of the final model (whole validation split by default)
    train_chars: int
    val_chars: int
    val_loss_chars: int = 0  # how many validation characters val_loss covers


def _progress(loss: float) -> dict[str, str]:
    return {"loss": f"{loss:.3f}", "bpc": f"{loss / LN2:.3f}"}


def train_lm(
    train: TrainConfig,
    data: LMDataConfig,
    model: dict[str, Any] | None = None,
    *,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] = _info,
    warn: Callable[[str], None] = _warn,
    callbacks: Sequence[Callable[[Trainer, str, dict[str, Any]], None]] = (),
) -> LMTrainOutcome:
    """Train a character language model.

    ``model`` holds :class:`LanguageModelConfig` fields other than ``vocab_size`` (which comes from
    the text). With ``resume`` (a checkpoint from :func:`rnnkit.checkpoint.load_checkpoint`), the
    model, vocabulary and data settings come from the checkpoint and training continues exactly.
    ``callbacks`` are handed to the :class:`~rnnkit.training.Trainer`.
    """
    if resume is not None:
        state = resume.get("task_state", {})
        vocab = Vocabulary.from_dict(state.get("vocab", {}))
        saved = state.get("data", {})
        # The saved data settings (the text too, unless another is given) make the resume exact.
        data = LMDataConfig.from_dict({**saved, "text": data.text if data.text is not None else saved.get("text")})
        try:
            model_config = LanguageModelConfig.from_dict(resume["model_config"])
        except (TypeError, ValueError) as error:
            raise RnnkitError(f"checkpoint {resume.get('path')}: bad model config: {error}") from error
    corpus = load_corpus(data.text, data.max_builtin_chars)
    log(corpus.description)
    if resume is None:
        vocab = char_vocabulary(corpus.text)
        try:
            model_config = LanguageModelConfig(vocab_size=len(vocab), **(model or {}))
        except ValueError as error:
            raise RnnkitError(str(error)) from error
    train_text, val_text = split_text(corpus.text, data.val_fraction)
    train_ids = encode_text(vocab, train_text, warn=warn, what="training text")
    val_ids = encode_text(vocab, val_text, warn=warn, what="validation text")
    batches = TBPTTBatches(train_ids, train.batch_size, data.seq_len, seed=train.seed)
    has_val = len(val_ids) >= 2
    eval_ids = val_ids[: data.eval_chars] if data.eval_chars else val_ids

    seed_everything(train.seed)
    lm = LanguageModel(model_config)
    log(
        f"model: {model_config.num_layers}-layer {model_config.cell.upper()}, hidden "
        f"{model_config.hidden_size}, embedding {model_config.embedding_size}, vocabulary {len(vocab)}, "
        f"{lm.num_parameters():,} parameters; training on {len(train_ids):,} characters, "
        f"validating on {len(val_ids):,}"
    )

    def eval_fn(m: nn.Module) -> dict[str, float]:
        loss = text_loss(m, eval_ids, streams=data.eval_streams)
        return {"loss": loss, "bpc": loss / LN2}

    trainer = Trainer(
        lm, train, batches, TBPTTLoss(),
        eval_fn=eval_fn if has_val else None,
        task="lm",
        model_config=asdict(model_config),
        task_state={"vocab": vocab.to_dict(), "data": asdict(data), "corpus": corpus.description},
        progress_fn=_progress,
        unit="char",
        log=log,
        callbacks=callbacks,
    )
    if train.out_dir is not None:
        log(f"writing checkpoints and metrics to {train.out_dir}")
    result = trainer.fit(resume=resume)
    val_loss, scored = None, 0
    if has_val:
        if (len(eval_ids) == len(val_ids) or not data.full_final_eval) and result.val_metrics is not None:
            val_loss, scored = result.val_metrics["loss"], len(eval_ids) - 1
        else:
            val_loss, scored = text_loss(lm, val_ids, streams=data.eval_streams), len(val_ids) - 1
    return LMTrainOutcome(result, lm, vocab, corpus, val_loss, len(train_ids), len(val_ids), scored)



def load_lm(checkpoint: dict[str, Any] | str, device: str | torch.device = "cpu") -> tuple[LanguageModel, Vocabulary]:
    """The model (in eval mode, on ``device``) and vocabulary of an ``lm`` checkpoint (dict or path)."""
    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint(checkpoint, task="lm")
    where = checkpoint.get("path", "checkpoint")
    if checkpoint.get("task") != "lm":
        raise RnnkitError(f"{where} is a {checkpoint.get('task')!r} checkpoint, not a language model")
    try:
        vocab = Vocabulary.from_dict(checkpoint["task_state"]["vocab"])
        config = LanguageModelConfig.from_dict(checkpoint["model_config"])
        model = LanguageModel(config)
        model.load_state_dict(checkpoint["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        message = " ".join(str(error).split())[:300]
        raise RnnkitError(f"{where} does not hold a usable language model: {message}") from error
    if len(vocab) != config.vocab_size:
        raise RnnkitError(f"{where}: vocabulary of {len(vocab)} does not match the model's {config.vocab_size}")
    return model.to(resolve_device(device)).eval(), vocab


def evaluate_lm(
    checkpoint: dict[str, Any] | str,
    text_path: str,
    *,
    device: str = "cpu",
    streams: int = 16,
    warn: Callable[[str], None] = _warn,
) -> dict[str, float]:
    """Loss of a checkpoint on a text file: nats/char, bits/char and perplexity (per character)."""
    model, vocab = load_lm(checkpoint, device)
    text = read_text(text_path)
    ids = encode_text(vocab, text, warn=warn, what="text")
    if len(ids) < 2:
        raise RnnkitError(f"text file {text_path} is too short to evaluate: it needs at least 2 characters")
    loss = text_loss(model, ids, streams=streams)
    return {"loss": loss, "bpc": loss / LN2, "perplexity": math.exp(loss), "chars": float(len(ids) - 1)}


def sample_lm(
    checkpoint: dict[str, Any] | str,
    config: SampleConfig,
    *,
    device: str = "cpu",
    warn: Callable[[str], None] = _warn,
    on_text: Callable[[str], None] | None = None,
) -> list[str]:
    """Generate ``config.num_samples`` texts (each the prompt followed by its continuation).

    Characters of the prompt the model does not know are read as ``<unk>`` after one warning.
    ``on_text`` receives the text piece by piece as it is generated (one sample, no stop string);
    when it is used, the prompt and the continuation have already been handed to it.
    """
    model, vocab = load_lm(checkpoint, device)
    prompt = config.prompt
    start = prompt or ("\n" if "\n" in vocab else vocab.itos[len(vocab.special_ids)])
    prompt_ids = encode_text(vocab, start, warn=warn, what="prompt")
    stop_ids = None
    if config.stop is not None:
        stop_ids, unknown = vocab.encode_with_unknown(config.stop)
        if unknown:
            warn(f"warning: the stop string holds characters the model never writes "
                f"({format_unknown(unknown)}); it is ignored")
            stop_ids = None
    on_step = None
    if on_text is not None and config.num_samples == 1 and stop_ids is None:
        on_text(prompt)
        on_step = lambda ids: on_text(vocab.itos[int(ids[0])])
    outputs = model.generate(
        prompt_ids, config.length, num_samples=config.num_samples, temperature=config.temperature,
        top_k=config.top_k, top_p=config.top_p, greedy=config.greedy, seed=config.seed,
        banned_ids=vocab.special_ids, stop=stop_ids, on_step=on_step,
    )
    return [prompt + "".join(vocab.decode(ids)) for ids in outputs]
