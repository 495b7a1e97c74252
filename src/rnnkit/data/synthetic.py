"""The tutorials' synthetic tasks as built-in, seeded datasets.

Every function takes a ``seed`` (or a ``torch.Generator``) and returns CPU tensors, so one seed
always gives the same data. Legend: N = sequences, L = sequence length.

- :func:`sine_wave` -- next-value prediction on a sine wave (the Elman network tutorial: 20
  points per sequence, a 6-unit tanh RNN). Train and test use *disjoint* phase offsets, so the
  test measures generalisation to unseen phases.
- :func:`mean_sign` -- many-to-one classification: Gaussian sequences ``(N, 20, 10)``, label 1 when
  the mean of all the numbers is positive.
- :func:`sentence_completion` -- the three sentences of the tutorial ('hello how are you',
  'i am fine', 'how are you doing'), with the prompts whose completion is unambiguous.
- :func:`adding_problem` -- long-range memory (Hochreiter & Schmidhuber 1997; Le et al. 2015):
  two channels, random numbers and a marker with two ones; the target is the sum of the two
  marked numbers. Predicting 1 always gives MSE ~0.167; success is MSE < 0.01.
- :func:`copy_task` -- long-range memory (Arjovsky et al. 2016): remember ``n_copy`` symbols over
  a delay of ``seq_len`` blank steps, then reproduce them after a delimiter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "SENTENCES",
    "SineWave",
    "adding_problem",
    "copy_task",
    "mean_sign",
    "sentence_completion",
    "sine_wave",
]

SENTENCES = ("hello how are you", "i am fine", "how are you doing")


def _generator(seed: int | torch.Generator) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return generator


def _check_positive(name: str, value: int) -> None:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class SineWave:
    """Sine-wave sequences for next-value prediction.

    Attributes:
        inputs: ``(N, L, 1)`` the values ``sin(phase + dt * t)`` for ``t = 0 .. L-1``.
        targets: ``(N, L, 1)`` the next value at every step (``targets[:, t] = inputs[:, t+1]``, and
            the last target is the value one step after the sequence).
        phases: ``(N,)`` the phase offset of each sequence.
    """

    inputs: Tensor
    targets: Tensor
    phases: Tensor


def sine_wave(
    n: int,
    *,
    seq_len: int = 20,
    split: str = "train",
    dt: float = 0.4,
    sectors: int = 16,
    seed: int | torch.Generator = 0,
) -> SineWave:
    """Sine-wave sequences whose phase offsets come from the ``split``'s half of the circle.

    The phase circle ``[0, 2*pi)`` is cut into ``sectors`` equal sectors; ``"train"`` draws phases
    uniformly from the even sectors, ``"test"`` from the odd ones, so no test phase is within a
    sector of a training phase. ``dt = 0.4`` is the tutorial's step (``linspace(2, 10, 21)``).
    """
    _check_positive("n", n)
    _check_positive("seq_len", seq_len)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if sectors < 2 or sectors % 2:
        raise ValueError(f"sectors must be an even number >= 2, got {sectors}")
    generator = _generator(seed)
    width = 2 * math.pi / sectors
    sector = 2 * torch.randint(0, sectors // 2, (n,), generator=generator) + (split == "test")
    phases = (
        sector.to(torch.float64) + torch.rand(n, generator=generator, dtype=torch.float64)
    ) * width
    steps = torch.arange(seq_len + 1, dtype=torch.float64) * dt  # (L+1,)
    wave = torch.sin(phases[:, None] + steps[None, :]).to(torch.float32)  # (N, L+1)
    return SineWave(inputs=wave[:, :-1, None], targets=wave[:, 1:, None], phases=phases)


def mean_sign(
    n: int, *, seq_len: int = 20, dim: int = 10, seed: int | torch.Generator = 0
) -> tuple[Tensor, Tensor]:
    """Gaussian sequences and the sign of their mean.

    Returns:
        ``(inputs (N, L, D) float32 ~ N(0, 1), labels (N,) int64)`` with label 1 when the mean of
        all ``L * D`` numbers of the sequence is positive, else 0.
    """
    _check_positive("n", n)
    _check_positive("seq_len", seq_len)
    _check_positive("dim", dim)
    inputs = torch.randn(n, seq_len, dim, generator=_generator(seed))  # (N, L, D)
    labels = (inputs.mean(dim=(1, 2)) > 0).long()  # (N,)
    return inputs, labels


def sentence_completion() -> tuple[list[str], list[tuple[str, str]]]:
    """The tutorial's sentences and the completions a trained model must produce.

    Returns:
        ``(sentences, checks)`` where each check is ``(prompt, completion)``: greedy decoding from
        the prompt must write the completion. Only prompts with a single possible continuation in
        the training sentences are checked ('how are you' may end or go on with ' doing').
    """
    checks = [
        ("hello", " how are you"),
        ("i am", " fine"),
        ("how are you d", "oing"),
        ("hello how", " are you"),
    ]
    return list(SENTENCES), checks


def adding_problem(
    n: int, *, seq_len: int = 50, seed: int | torch.Generator = 0
) -> tuple[Tensor, Tensor]:
    """The adding problem.

    Each step has two channels: a number drawn uniformly from ``[0, 1)`` and a marker that is 1 at
    exactly two steps (one in the first half of the sequence, one in the second half) and 0
    elsewhere. The target is the sum of the two marked numbers.

    Returns:
        ``(inputs (N, L, 2) float32, targets (N, 1) float32)``.
    """
    _check_positive("n", n)
    if seq_len < 2:
        raise ValueError(f"seq_len must be >= 2 for the adding problem, got {seq_len}")
    generator = _generator(seed)
    numbers = torch.rand(n, seq_len, generator=generator)  # (N, L)
    half = seq_len // 2
    first = torch.randint(0, half, (n,), generator=generator)  # (N,)
    second = torch.randint(half, seq_len, (n,), generator=generator)  # (N,)
    markers = torch.zeros(n, seq_len)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (numbers[rows, first] + numbers[rows, second]).unsqueeze(1)  # (N, 1)
    return torch.stack([numbers, markers], dim=2), targets


# Symbols of the copy task: 0 is the blank, 1..n_symbols are data, n_symbols + 1 is the delimiter.
COPY_BLANK = 0


def copy_task(
    n: int,
    *,
    seq_len: int = 100,
    n_copy: int = 10,
    n_symbols: int = 8,
    seed: int | torch.Generator = 0,
) -> tuple[Tensor, Tensor]:
    """The copy task: ``n_copy`` data symbols, ``seq_len - 1`` blanks, a delimiter, ``n_copy``
    blanks; the target is blank everywhere except the last ``n_copy`` steps, which must repeat the
    data symbols. Total length ``seq_len + 2 * n_copy``; a model that does not remember can do no
    better than chance (``1 / n_symbols``) on the copied steps.

    Returns:
        ``(inputs (N, seq_len + 2*n_copy) int64, targets (same shape) int64)`` with values in
        ``0 .. n_symbols + 1`` (``0`` blank, ``n_symbols + 1`` the delimiter).
    """
    _check_positive("n", n)
    _check_positive("seq_len", seq_len)
    _check_positive("n_copy", n_copy)
    _check_positive("n_symbols", n_symbols)
    generator = _generator(seed)
    total = seq_len + 2 * n_copy
    data = torch.randint(1, n_symbols + 1, (n, n_copy), generator=generator)  # (N, S)
    inputs = torch.full((n, total), COPY_BLANK, dtype=torch.long)
    inputs[:, :n_copy] = data
    inputs[:, n_copy + seq_len - 1] = n_symbols + 1  # the delimiter: "now write them out"
    targets = torch.full((n, total), COPY_BLANK, dtype=torch.long)
    targets[:, -n_copy:] = data
    return inputs, targets
