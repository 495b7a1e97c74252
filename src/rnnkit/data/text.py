"""Text corpora for character language models: reading files, the built-in corpus, the 90/10 split,
and batches for truncated back-propagation through time (TBPTT).

TBPTT layout (:class:`TBPTTBatches`): the training text is cut into ``N`` contiguous streams (one
per batch row); batch ``t`` holds characters ``[t*L, (t+1)*L)`` of every stream as input and the
same shifted by one as target. The model's hidden state after batch ``t`` is carried (detached)
into batch ``t+1``, so it sees context far beyond ``L`` characters. When the streams reach their
end they wrap around to the start with a new random shift of up to ``L`` characters (so chunk
boundaries differ from epoch to epoch) and the batch says ``reset=True``: the carried state must be
zeroed there. The position ``{"epoch", "chunk"}`` is saved in checkpoints for exact resume.
In multi-process training (``shard(rank, world)``) the layout is that of the global batch and each
rank keeps its own contiguous group of ``N / world`` streams, so the state it carries stays valid.
"""

from __future__ import annotations

import math
import os
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from rnnkit.data.batching import BatchOrder, check_divisible
from rnnkit.data.vocab import UNK, Vocabulary
from rnnkit.errors import RnnkitError

__all__ = [
    "BUILTIN_CORPUS_CHARS",
    "Corpus",
    "TBPTTBatch",
    "TBPTTBatches",
    "builtin_corpus",
    "char_vocabulary",
    "encode_text",
    "format_unknown",
    "load_corpus",
    "read_text",
    "split_text",
    "stream_matrix",
]

# Cap of the built-in corpus: enough for minutes of CPU training, small enough to read in a blink.
BUILTIN_CORPUS_CHARS = 3_000_000


def read_text(path: str | os.PathLike[str], what: str = "text file", *, empty: bool = False) -> str:
    """The text of a UTF-8 file: the one file reader of rnnkit (text, labelled, tagged, series
    and input files all go through it, so they fail alike).

    ``RnnkitError`` for a missing file, a directory, a file that cannot be read or that is not
    UTF-8 (naming the byte and its offset) and, unless ``empty``, an empty file. A leading
    byte-order mark is dropped; line endings are kept as they are. ``what`` names the file in
    messages (``"text file not found: PATH"``).
    """
    path = Path(path)
    if not path.exists():
        raise RnnkitError(f"{what} not found: {path}")
    if path.is_dir():
        raise RnnkitError(f"{what} {path} is a directory, not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RnnkitError(f"cannot read {what} {path}: {error.strerror or error}") from error
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex()
        raise RnnkitError(
            f"{what} {path} is not UTF-8 text: byte 0x{bad} at byte offset {error.start} cannot be "
            "decoded (convert it, e.g. with iconv -t utf-8)"
        ) from error
    if not text and not empty:
        raise RnnkitError(f"{what} {path} is empty")
    return text


@dataclass(repr=False)
class Corpus:
    """A text and where it came from (``description`` is printed to the user)."""

    text: str
    name: str
    description: str

    def __repr__(self) -> str:
        # the text can be megabytes: a repr in a log or a traceback shows only its size
        return f"Corpus(description={self.description!r}, chars={len(self.text):,})"


def _python_sources(root: Path, exclude: Callable[[Path], bool]) -> list[Path]:
    """``*.py`` files under ``root`` in a deterministic order: shallow paths first, then by name."""
    files = []
    for directory, dirnames, filenames in os.walk(root):
        rel = Path(directory).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if not exclude(rel / d))
        files.extend(Path(directory) / f for f in filenames if f.endswith(".py"))
    return sorted(files, key=lambda p: (len(p.relative_to(root).parts), str(p.relative_to(root))))


def _gather(files: list[Path], max_chars: int) -> tuple[str, int]:
    parts: list[str] = []
    total = used = 0
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not text.strip():
            continue
        text = text.rstrip("\n") + "\n\n"
        parts.append(text[: max_chars - total])
        total += len(parts[-1])
        used += 1
        if total >= max_chars:
            break
    return "".join(parts), used


def builtin_corpus(max_chars: int = BUILTIN_CORPUS_CHARS) -> Corpus:
    """The offline corpus: this machine's Python standard-library sources (the model learns to write
    Python), read in a deterministic order and capped at ``max_chars``; the sources of installed
    packages when the standard library has none."""
    skip = {
        "test",
        "tests",
        "idle_test",
        "site-packages",
        "dist-packages",
        "__pycache__",
        "lib2to3",
    }

    def exclude(rel: Path) -> bool:
        return rel.name in skip or rel.name.startswith(".")

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [(stdlib, f"the Python {version} standard library")]
    for key in ("purelib", "platlib"):
        path = Path(sysconfig.get_paths()[key])
        if all(path != c[0] for c in candidates):
            candidates.append((path, "installed Python packages"))
    for root, label in candidates:
        if not root.is_dir():
            continue
        files = _python_sources(root, exclude if label.endswith("library") else lambda rel: False)
        text, used = _gather(files, max_chars)
        if len(text) >= 10_000:
            description = f"built-in corpus: {used} source files of {label} ({root}), {len(text):,} characters"
            return Corpus(
                text=text,
                name=f"python-{'stdlib' if label.endswith('library') else 'packages'}",
                description=description,
            )
    raise RnnkitError(
        "no built-in corpus on this machine (no Python sources found in the standard library or "
        "installed packages); give a text file to learn"
    )


def load_corpus(
    path: Any,
    max_builtin_chars: int = BUILTIN_CORPUS_CHARS,
    what: str = "text file",
) -> Corpus:
    """The text of ``path``, or the built-in corpus when ``path`` is ``None``; texts in memory
    (a list of texts, or the ``text`` column of a DataFrame or ``datasets.Dataset``) are joined
    by line breaks, as the lines of a file."""
    if path is None:
        return builtin_corpus(max_builtin_chars)
    if not isinstance(path, (str, os.PathLike)):
        from rnnkit.data.tables import texts_of  # tables reads files through this module

        texts, name = texts_of(path)
        text = "\n".join(texts)
        return Corpus(text, name, f"corpus: {name}, {len(text):,} characters")
    text = read_text(path, what)
    return Corpus(
        text=text, name=Path(path).name, description=f"corpus: {path}, {len(text):,} characters"
    )


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Contiguous split: the first ``1 - val_fraction`` for training, the rest for validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = len(text) - round(len(text) * val_fraction)
    return text[:cut], text[cut:]


def char_vocabulary(text: str) -> Vocabulary:
    """The character vocabulary of ``text``: ``<unk>`` at id 0, then characters by code point."""
    return Vocabulary.build(text, specials=(UNK,), pad_token=None, unk_token=UNK, order="lexical")


def format_unknown(unknown: list[str], limit: int = 20) -> str:
    """``'é', '\\t', ... (25 in all)`` for one warning line."""
    shown = ", ".join(repr(c) for c in unknown[:limit])
    return shown + (f", ... ({len(unknown)} in all)" if len(unknown) > limit else "")


def encode_text(
    vocab: Any,
    text: str,
    *,
    warn: Callable[[str], None] | None = None,
    what: str = "text",
    unit: str = "character",
    read_as: str | None = None,
) -> Tensor:
    """Ids of ``text`` as a 1-D int64 tensor; one warning lists the pieces read as unknown.

    ``vocab``: a :class:`Vocabulary` (its characters) or anything with ``encode_with_unknown``
    (a tokenizer, then ``unit="token"``); ``read_as`` names what unknown pieces become (default:
    the vocabulary's unknown token)."""
    ids, unknown = vocab.encode_with_unknown(text)
    if unknown and warn is not None:
        warn(
            f"warning: {len(unknown)} {unit}(s) of the {what} are not in the model's vocabulary and "
            f"are read as {read_as or vocab.unk_token}: {format_unknown(unknown)}"
        )
    return torch.tensor(ids, dtype=torch.long)


class TBPTTBatch(NamedTuple):
    """One TBPTT batch: inputs and targets ``(N, L)``, and whether the carried state must be reset."""

    inputs: Tensor
    targets: Tensor
    reset: bool


class TBPTTBatches(BatchOrder):
    """Endless TBPTT batches over a 1-D tensor of ids (see the module docstring); resumable exactly.

    A :class:`~rnnkit.data.batching.BatchOrder` whose epoch is the ``(N, stream_len)`` layout of
    the ids after the epoch's random shift and whose position is the chunk: the state is
    ``{"epoch", "chunk", "seed", "size"}``.

    Args:
        ids: the encoded training text, 1-D int64.
        batch_size: ``N``, the number of parallel streams.
        seq_len: ``L``, tokens per chunk (the truncation length of back-propagation).
        seed: seeds the per-epoch shift of the chunk boundaries.
        shift: ``False`` keeps the chunk boundaries the same every epoch.
        unit: what a token is, in messages (``"characters"``, ``"tokens"``).
    """

    position = "chunk"
    size_error = (
        "the checkpoint was trained on {saved:,} characters but this text has {size:,}: "
        "resume with the same text"
    )

    def __init__(
        self,
        ids: Tensor,
        batch_size: int,
        seq_len: int,
        *,
        seed: int = 0,
        shift: bool = True,
        unit: str = "characters",
    ):
        if batch_size < 1 or seq_len < 1:
            raise RnnkitError(
                f"batch size and sequence length must be >= 1, got {batch_size} and {seq_len}"
            )
        need = batch_size * (seq_len + 1) + (seq_len if shift else 0)
        if ids.dim() != 1 or len(ids) < need:
            raise RnnkitError(
                f"the training text has {len(ids):,} {unit}, fewer than one batch needs "
                f"({batch_size} streams x {seq_len + 1} {unit}{' + shift' if shift else ''} = "
                f"{need:,}); use a longer text or a smaller --batch-size/--seq-len"
            )
        super().__init__(len(ids), seed)
        self.size_error = self.size_error.replace("characters", unit)
        self.ids = ids
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.shift = shift

    def check_world(self, world: int) -> None:
        check_divisible(self.batch_size, world)

    def plan(self, epoch: int) -> Tensor:
        """``(N, stream_len)`` view of the ids for epoch ``epoch``, after its random shift."""
        offset = 0
        if self.shift and epoch > 0:
            offset = int(torch.randint(self.seq_len, (1,), generator=self.generator(epoch)))
        stream_len = (len(self.ids) - offset) // self.batch_size
        data = self.ids[offset : offset + stream_len * self.batch_size]
        return data.view(self.batch_size, stream_len)

    def count(self, plan: Tensor) -> int:
        return (plan.shape[1] - 1) // self.seq_len

    def chunks_per_epoch(self) -> int:
        """Batches of the current epoch (its shift can make it one shorter than the first)."""
        return self.count(self.current_plan())

    def batch(self, plan: Tensor, index: int) -> TBPTTBatch:
        size = self.batch_size // self.world
        rows = slice(self.rank * size, (self.rank + 1) * size)  # this rank's streams
        start = index * self.seq_len
        inputs = plan[rows, start : start + self.seq_len]  # (N, L), N: this rank's streams
        targets = plan[rows, start + 1 : start + 1 + self.seq_len]  # (N, L)
        return TBPTTBatch(inputs.contiguous(), targets.contiguous(), index == 0)


def stream_matrix(ids: Tensor, streams: int) -> tuple[Tensor, Tensor]:
    """Inputs and targets ``(S, T)`` covering every next-character prediction of ``ids`` exactly once.

    ``ids`` is cut into ``S`` contiguous streams (fewer when the text is short); targets past the end
    of the text are ``-100`` (ignored by ``cross_entropy``). Used to evaluate on a whole text fast.
    """
    predictions = len(ids) - 1
    if predictions < 1:
        raise RnnkitError("the text is too short to evaluate: it needs at least 2 characters")
    streams = max(1, min(streams, predictions))
    length = math.ceil(predictions / streams)
    inputs = ids.new_zeros(streams * length)
    targets = ids.new_full((streams * length,), -100)
    inputs[:predictions] = ids[:-1]
    targets[:predictions] = ids[1:]
    return inputs.view(streams, length), targets.view(streams, length)
