"""A recurrent language model (characters or tokens) with streaming generation.

::

    ids (N, L) --embedding--> (N, L, E) --rnnkit RNN/LSTM/GRU--> (N, L, H) --dropout--> Linear(H, V)
    --> logits (N, L, V)

Legend: N = batch, L = sequence length, E = embedding size, H = hidden size, V = vocabulary size.

With ``adaptive_cutoffs`` the output layer is an exact adaptive softmax
(:mod:`rnnkit.models.adaptive_softmax`) over the same ``Linear(H, V)`` weights: :meth:`LanguageModel.loss`
then costs a fraction of the full softmax, and ``forward`` returns log-probabilities (which
``cross_entropy`` reads as logits: their log-sum-exp is 0).

:meth:`LanguageModel.generate` reads the prompt once, then feeds one sampled token at a time with
the recurrent state carried forward: the cost of each new token is one step of the network,
never a re-run of the prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.models.adaptive_softmax import AdaptiveSoftmax, check_cutoffs
from rnnkit.models.recurrent import RecurrentConfig

__all__ = ["LanguageModel", "LanguageModelConfig", "State", "detach_state"]

State = Any  # a Tensor (RNN, GRU) or a tuple (h, c) (LSTM), each (num_layers, N, H)


@dataclass
class LanguageModelConfig(RecurrentConfig):
    """Everything needed to rebuild a :class:`LanguageModel` (stored in checkpoints as a dict):
    the recurrent layer's settings (:class:`~rnnkit.models.recurrent.RecurrentConfig`, one
    direction, hidden size 512 by default; its ``dropout`` also acts on the embeddings and before
    the head) and these.

    Attributes:
        vocab_size: V, the number of tokens (characters) including special tokens.
        embedding_size: E.
        tie_weights: share the embedding matrix with the output head (needs E == H).
        adaptive_cutoffs: where the output layer's clusters start, ids increasing from 1 (an
            exact adaptive softmax: ids ordered by frequency make it fast); those ``>= V`` are
            dropped; empty (or ``None``): the full softmax.
    """

    vocab_size: int
    embedding_size: int = 64
    tie_weights: bool = False
    adaptive_cutoffs: list[int] = field(default_factory=list)
    hidden_size: int = field(default=512, kw_only=True)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        super().__post_init__()
        if self.bidirectional:
            raise ValueError("bidirectional: a language model reads left to right; expected False")
        if self.tie_weights and self.embedding_size != self.hidden_size:
            raise ValueError(
                "tie_weights needs embedding_size == hidden_size, got "
                f"{self.embedding_size} and {self.hidden_size}"
            )
        # cutoffs at or past the end of the vocabulary are dropped: one setting (a default)
        # serves vocabularies of every size, a small one getting fewer clusters or none
        self.adaptive_cutoffs = [
            c
            for c in self.adaptive_cutoffs or ()
            if not (isinstance(c, int) and c >= self.vocab_size)
        ]
        if self.adaptive_cutoffs:
            check_cutoffs(self.adaptive_cutoffs, self.vocab_size)


def detach_state(state: State) -> State:
    """Cut the graph behind a carried state (truncated back-propagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class LanguageModel(nn.Module):
    """Embedding -> rnnkit recurrent layer -> dropout -> linear head over the vocabulary."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.rnn = config.layer(config.embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_weights:
            self.head.weight = self.embedding.weight
        self.adaptive = None
        if config.adaptive_cutoffs:
            self.adaptive = AdaptiveSoftmax(
                config.hidden_size, config.vocab_size, config.adaptive_cutoffs
            )
        self._init_weights()

    def _init_weights(self) -> None:
        # Small embeddings (as in nanoGPT/AWD-LSTM) keep the first steps' activations tame; a zero
        # head bias starts every token at the same logit.
        nn.init.normal_(self.embedding.weight, std=0.1 if not self.config.tie_weights else 0.02)
        nn.init.zeros_(self.head.bias)
        if isinstance(self.rnn, nn.Module) and self.config.cell == "lstm":
            # Forget-gate bias 1 (Jozefowicz et al. 2015): remember by default, a faster start.
            H = self.config.hidden_size
            for name, parameter in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        parameter[H : 2 * H].fill_(1.0)

    def forward(self, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
        """``ids (N, L)`` from ``state`` -> ``logits (N, L, V)`` and the state after the last step
        (with ``adaptive_cutoffs``: log-probabilities)."""
        out, state = self.features(ids, state)  # (N, L, H)
        return self.output(out), state  # (N, L, V)

    def features(self, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
        """``ids (N, L)`` -> what the output layer reads, ``(N, L, H)`` (after dropout), and the
        state after the last step."""
        x = self.dropout(self.embedding(ids))  # (N, L, E)
        out, state = self.rnn(x, state)  # (N, L, H)
        return self.dropout(out), state

    def output(self, h: Tensor) -> Tensor:
        """Logits ``(..., V)`` of ``h (..., H)``: log-probabilities with ``adaptive_cutoffs``."""
        if self.adaptive is None:
            return self.head(h)
        flat = self.adaptive.log_probs(h.reshape(-1, h.shape[-1]), self.head.weight, self.head.bias)
        return flat.view(*h.shape[:-1], -1)

    def loss(
        self, ids: Tensor, targets: Tensor, state: State = None, *, reduction: str = "mean"
    ) -> tuple[Tensor, State]:
        """Cross-entropy (nats) of ``targets (N, L)`` after ``ids (N, L)`` from ``state``, the
        ``mean`` or ``sum`` over the positions whose target is not -100, and the state after the
        last step. Equal to ``cross_entropy`` of :meth:`forward`'s logits, but an adaptive softmax
        computes only the clusters of the targets."""
        out, state = self.features(ids, state)  # (N, L, H)
        y = targets.reshape(-1)
        if self.adaptive is None:  # the head on (N, L, H) as forward does: the same floats
            logits = self.head(out).reshape(-1, self.config.vocab_size)
            return F.cross_entropy(logits, y, ignore_index=-100, reduction=reduction), state
        h, kept = out.reshape(-1, out.shape[-1]), y != -100
        nll = self.adaptive.nll(h[kept], y[kept], self.head.weight, self.head.bias)
        return (nll.sum() if reduction == "sum" else nll.mean()), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def generate(
        self,
        prompt: Sequence[int] | Tensor,
        length: int,
        *,
        num_samples: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        greedy: bool = False,
        seed: int | None = None,
        banned_ids: Sequence[int] = (),
        stop: Sequence[int] | None = None,
        on_step: Callable[[Tensor], None] | None = None,
    ) -> list[list[int]]:
        """Continue ``prompt`` with ``length`` new tokens, for ``num_samples`` samples at once.

        The prompt (at least one token) is read in one pass; then each new token is one network
        step on the carried state. ``greedy`` takes the most likely token; otherwise the logits are
        divided by ``temperature``, cut to the ``top_k`` most likely and to the smallest set whose
        probability reaches ``top_p``, and sampled with a generator seeded by ``seed``. Tokens in
        ``banned_ids`` (e.g. ``<unk>``) are never produced. A sample that produces the token sequence
        ``stop`` ends there (``stop`` is not included). ``on_step(ids (S,))`` sees each new token.

        Returns the new tokens of each sample (without the prompt).
        """
        _check_sampling(length, num_samples, temperature, top_k, top_p, greedy)
        vocab, device = self.config.vocab_size, self.head.weight.device
        noise = None if greedy else _GumbelNoise(length, num_samples, vocab, device, seed)
        choose = _Choice(temperature, top_k, top_p, noise)
        was_training = self.training
        self.eval()
        # One step of a few samples is far too little work to share between threads: the hand-offs
        # cost more than they save (about 25% slower with 2 threads on 2 cores), so run it on one.
        threads = torch.get_num_threads()
        single = (
            self.head.weight.device.type == "cpu"
            and threads > 1
            and num_samples * self.config.hidden_size <= 4096
        )
        if single:
            torch.set_num_threads(1)
        try:
            return self._generate(
                prompt, length, num_samples, choose, banned_ids, list(stop or ()), on_step
            )
        finally:
            self.train(was_training)
            if single:
                torch.set_num_threads(threads)

    def _generate(
        self, prompt, length, num_samples, choose, banned_ids, stop, on_step
    ) -> list[list[int]]:
        device = self.head.weight.device
        prompt = torch.as_tensor(prompt, dtype=torch.long, device=device).flatten()
        if prompt.numel() == 0:
            raise ValueError("the prompt must hold at least one token")
        # Everything that does not change from step to step is prepared once: the cells, the first
        # layer's input projection of every token, and the head's bias with -inf at banned tokens.
        cells = self.rnn.cells
        table = self.input_table()  # (V, G*H)
        head_bias = self.head.bias.detach().clone()
        banned = sorted(set(banned_ids))
        head_bias[banned] = float("-inf")

        # Read the prompt once for all samples: (S, P) -> logits of the next token (S, V).
        logits, state = self(prompt.expand(num_samples, -1))
        logits = logits[:, -1]
        logits[:, banned] = float("-inf")
        cell_states = self._split_state(state)
        outputs = torch.empty(num_samples, length, dtype=torch.long, device=device)
        done = torch.zeros(num_samples, dtype=torch.bool, device=device)
        ends = [length] * num_samples
        for t in range(length):
            nxt = choose(logits)  # (S,)
            outputs[:, t] = nxt
            if on_step is not None:
                on_step(nxt)
            if stop and _stopped(outputs[:, : t + 1], stop, done, ends):
                break
            if t + 1 < length:  # one step on the carried state
                logits, cell_states = self._step(nxt, cell_states, cells, table, head_bias)
        rows = outputs.tolist()
        return [row[: ends[s]] for s, row in enumerate(rows)]

    def _split_state(self, state: State) -> list[tuple[Tensor, ...]]:
        """The layer's state ``(num_layers, N, H)`` (or a tuple of them) as one tuple per layer."""
        parts = state if isinstance(state, tuple) else (state,)
        return [tuple(part[layer] for part in parts) for layer in range(self.config.num_layers)]

    def step(
        self, ids: Tensor, cell_states: list[tuple[Tensor, ...]], input_table: Tensor | None = None
    ) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """One time step for generation: ``ids (N,)`` and per-layer states -> ``logits (N, V)``.

        Runs each layer's cell directly (inference only, as the layer in evaluation mode: no
        dropout, zoneout's expectation): for a single step this is several times faster than the
        whole-sequence kernel, whose set-up cost dominates.
        ``input_table`` (from :meth:`input_table`) replaces the embedding and the first layer's
        input projection by one row lookup.
        """
        table = input_table if input_table is not None else self.input_table()
        return self._step(ids, cell_states, self.rnn.cells, table, self.head.bias)

    def _step(self, ids, cell_states, cells, table, head_bias):
        h = table[ids]  # (N, G*H): the first layer's projected input
        new_states = []
        for layer, (cell, cell_state) in enumerate(zip(cells, cell_states)):
            xp = h if layer == 0 else cell.project_input(h)  # (N, G*H)
            h, cell_state = self.rnn.eval_step(cell, xp, cell_state)
            new_states.append(cell_state)  # h: (N, H)
        if self.adaptive is None:
            return F.linear(h, self.head.weight, head_bias), new_states  # (N, V)
        # the head's bias is -inf at banned tokens: they stay impossible after normalising
        logp = self.adaptive.log_probs(h, self.head.weight, self.head.bias)
        return logp.masked_fill(head_bias == float("-inf"), float("-inf")), new_states

    def input_table(self) -> Tensor:
        """``(V, G*H)``: the first layer's input projection of every token's embedding (for :meth:`step`)."""
        return self.rnn.cells[0].project_input(self.embedding.weight)


def _check_sampling(
    length: int,
    num_samples: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    greedy: bool,
) -> None:
    """Raise ``ValueError`` for an option of :meth:`LanguageModel.generate` out of its range."""
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if not greedy and not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")


def _stopped(outputs: Tensor, stop: list[int], done: Tensor, ends: list[int]) -> bool:
    """Whether every sample has now written ``stop``: ``outputs (S, t)`` so far; a sample that
    has just written it is marked in ``done (S,)`` and ``ends`` (where its text ends)."""
    steps = outputs.shape[1]
    if steps < len(stop):
        return False
    tail = outputs[:, steps - len(stop) :]  # (S, len(stop))
    hit = (tail == tail.new_tensor(stop)).all(dim=1) & ~done
    for s in hit.nonzero().flatten().tolist():
        ends[s] = steps - len(stop)
    done |= hit
    return bool(done.all())


def _filter(logits: Tensor, top_k: int | None, top_p: float | None) -> Tensor:
    """Set to -inf all but the ``top_k`` most likely tokens and the smallest set reaching ``top_p``."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (S, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token when the tokens before it already reach top_p (the first is always kept)
        drop = (probs.cumsum(dim=-1) - probs) >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


class _Choice:
    """The next token of each sample from its logits ``(S, V)``: the most likely when ``noise`` is
    None, else a draw from softmax(logits / temperature) cut to ``top_k`` and ``top_p``."""

    def __init__(self, temperature: float, top_k: int | None, top_p: float | None, noise):
        self.temperature, self.top_k, self.top_p, self.noise = temperature, top_k, top_p, noise

    def __call__(self, logits: Tensor) -> Tensor:
        if self.noise is None:
            return logits.argmax(dim=-1)
        if self.top_k is None and self.top_p is None:
            # Gumbel-max: argmax(logits/T + g) is a sample of softmax(logits/T); no softmax needed
            return (logits + self.temperature * self.noise.next()).argmax(dim=-1)
        filtered = _filter(logits / self.temperature, self.top_k, self.top_p)
        return (filtered + self.noise.next()).argmax(dim=-1)


class _GumbelNoise:
    """Gumbel(0, 1) noise ``(S, V)`` per step, drawn in blocks from one seeded generator."""

    BLOCK = 256

    def __init__(
        self, length: int, samples: int, vocab: int, device: torch.device, seed: int | None
    ):
        self.shape = (max(1, min(length, self.BLOCK)), samples, vocab)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, (1,))))
        self.device = device
        self.block = torch.empty(0)
        self.index = self.shape[0]

    def next(self) -> Tensor:
        if self.index >= self.shape[0]:
            exponential = torch.empty(self.shape, device=self.device).exponential_(
                generator=self.generator
            )
            self.block = -exponential.log()  # -log(Exp(1)) is Gumbel(0, 1)
            self.index = 0
        self.index += 1
        return self.block[self.index - 1]
