"""Many-to-one sequence classification: a recurrent layer read out into class logits.

::

    tokens (N, L) --embedding--> (N, L, E) --+
                                             +--> rnnkit RNN/LSTM/GRU --> (N, L, D*H)
    features (N, L, F) ----------------------+          |
                                                        v
        readout: "last" = final hidden state of the last layer at each sequence's true length
                  (forward and backward directions concatenated when bidirectional), (N, D*H)
                 "mean" / "max" = pooling of the outputs over the valid steps only, (N, D*H)
        --> dropout --> Linear(D*H, C) --> logits (N, C)
        (+ the logits (N, C) of a fixed bag of n-grams of the tokens, with ``bag_buckets`` set)

Legend: N = batch, L = padded length, E = embedding size, F = input features, H = hidden size,
D = 2 if bidirectional else 1, C = number of classes.

With ``vocab_size = 0`` the model has no embedding and takes continuous inputs ``(N, L, F)`` with
``F = input_size`` (the mean-sign task of the tutorials: a 2-layer tanh RNN with input 10, hidden 64
and a ``Linear(64, 2)`` head has exactly 13,314 parameters).

Padding never changes a result: ``lengths`` makes the layer stop each sequence at its true end, and
pooling ignores the padded steps, so a sequence alone and inside a padded batch gets the same logits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.models.bag import BagClassifier, BagClassifierConfig
from rnnkit.models.recurrent import RecurrentConfig, check_lengths, valid_mask

__all__ = ["SequenceClassifier", "SequenceClassifierConfig"]

POOLINGS = ("last", "mean", "max")


@dataclass
class SequenceClassifierConfig(RecurrentConfig):
    """Everything needed to rebuild a :class:`SequenceClassifier` (stored in checkpoints as a dict):
    the recurrent layer's settings (:class:`~rnnkit.models.recurrent.RecurrentConfig`, whose
    ``dropout`` also acts on the embeddings and before the head) and these.

    Attributes:
        num_classes: number of classes C (>= 2).
        vocab_size: size of the token vocabulary; 0 means continuous inputs of ``input_size``
            features and no embedding.
        input_size: number of features F of continuous inputs (used only when ``vocab_size == 0``).
        embedding_dim: embedding size E (used only when ``vocab_size > 0``).
        padding_idx: id of the padding token, whose embedding stays zero (``None`` for none).
        pooling: ``"last"`` (final hidden state at the true length), ``"mean"`` or ``"max"``.
        bag_buckets: ``None`` (the default), or the bigram buckets of a
            :class:`~rnnkit.models.bag.BagClassifier` on the same tokens whose logits are added
            to the head's (a hybrid: the task loads a bag fitted on the training split and keeps
            it fixed, so the recurrent part learns what the n-grams miss).
        padded_runs: with one layer and ``mean``/``max`` pooling, run the layer on the padded
            batch (twice when bidirectional, see :meth:`SequenceClassifier._padded_outputs`)
            instead of packing it by length: the same outputs at every valid step, and 10-30x
            faster on CPU for long texts. ``False``: always pack.
    """

    num_classes: int
    vocab_size: int = 0
    input_size: int = 0
    embedding_dim: int = 128
    padding_idx: int | None = 0
    pooling: str = "last"
    bag_buckets: int | None = None
    padded_runs: bool = True

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.vocab_size < 0:
            raise ValueError(f"vocab_size must be >= 0, got {self.vocab_size}")
        if self.vocab_size == 0 and self.input_size < 1:
            raise ValueError(
                f"continuous inputs (vocab_size=0) need input_size >= 1, got {self.input_size}"
            )
        if self.vocab_size > 0 and self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {self.embedding_dim}")
        if (
            self.padding_idx is not None
            and self.vocab_size > 0
            and not (0 <= self.padding_idx < self.vocab_size)
        ):
            raise ValueError(
                f"padding_idx must be in [0, {self.vocab_size}), got {self.padding_idx}"
            )
        super().__post_init__()
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")


class SequenceClassifier(nn.Module):
    """Embedding (or continuous input) -> rnnkit recurrent layer -> readout -> dropout -> logits.

    Inputs: ``x, lengths``
        - **x**: token ids ``(N, L)`` (long) when the model has an embedding, else features
          ``(N, L, F)``. Always batch first.
        - **lengths**: optional 1-D tensor ``(N,)`` of true lengths (default: all ``L``).

    Outputs: **logits** ``(N, C)``.
    """

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.config = config
        if config.vocab_size > 0:
            self.embedding: nn.Embedding | None = nn.Embedding(
                config.vocab_size, config.embedding_dim, padding_idx=config.padding_idx
            )
            layer_input = config.embedding_dim
        else:
            self.embedding = None
            layer_input = config.input_size
        self.rnn = config.layer(layer_input)
        self.dropout = nn.Dropout(config.dropout)
        self.num_directions = config.num_directions
        self.head = nn.Linear(self.num_directions * config.hidden_size, config.num_classes)
        self.bag: BagClassifier | None = None
        if config.bag_buckets is not None:
            if config.vocab_size == 0:
                raise ValueError("bag_buckets needs token inputs (vocab_size > 0)")
            self.bag = BagClassifier(
                BagClassifierConfig(
                    config.num_classes, config.vocab_size, config.bag_buckets, config.padding_idx
                )
            ).requires_grad_(False)
            # the head starts at zero, so the hybrid starts as the bag and learns what it misses
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def output_size(self) -> int:
        """Width of the readout fed to the head, ``D * H``."""
        return self.num_directions * self.config.hidden_size

    def _inputs(self, x: Tensor) -> Tensor:
        if self.embedding is not None:
            if x.dim() != 2 or x.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
                raise ValueError(
                    f"expected token ids of shape (N, L) and an integer dtype, got shape "
                    f"{tuple(x.shape)} and dtype {x.dtype}"
                )
            return self.dropout(self.embedding(x.long()))  # (N, L, E)
        if x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise ValueError(
                f"expected features of shape (N, L, {self.config.input_size}), got {tuple(x.shape)}"
            )
        return x

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The pooled representation ``(N, D*H)`` before dropout and the head."""
        inputs = self._inputs(x)  # (N, L, E or F)
        batch, max_len = inputs.shape[0], inputs.shape[1]
        if max_len == 0:
            raise ValueError("expected sequences of length >= 1, got L = 0")
        lengths = check_lengths(lengths, batch, max_len)
        pooling = self.config.pooling
        if lengths is None:
            outputs, state = self.rnn(inputs)
        elif self._padded(pooling, lengths, max_len):
            outputs = self._padded_outputs(inputs, lengths)  # valid steps exact, others garbage
        else:
            outputs, state = self.rnn(inputs, lengths=lengths)
        # outputs (N, L, D*H); past each true end they are zero (or masked below)
        if pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, N, H)
            last = h_n[-self.num_directions :]  # (D, N, H): the last layer, forward then backward
            return last.transpose(0, 1).reshape(batch, -1)  # (N, D*H)
        if lengths is None:
            if pooling == "mean":
                return outputs.mean(dim=1)
            return outputs.max(dim=1).values
        mask = valid_mask(lengths, max_len, outputs.device).unsqueeze(-1)  # (N, L, 1)
        if pooling == "mean":
            total = (outputs * mask).sum(dim=1)  # (N, D*H)
            return total / lengths.to(outputs.device, outputs.dtype).unsqueeze(1)
        return outputs.masked_fill(~mask, float("-inf")).max(dim=1).values  # (N, D*H)

    def _padded(self, pooling: str, lengths: Tensor, max_len: int) -> bool:
        """Whether :meth:`_padded_outputs` serves: one layer, pooled outputs, padding present."""
        return (
            self.config.padded_runs
            and self.config.num_layers == 1
            and pooling != "last"
            and int(lengths.min()) < max_len
        )

    def _padded_outputs(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """The layer's outputs ``(N, L, D*H)`` at the valid steps, from padded runs instead of a
        packed one (packing is 10-30x slower on CPU for long texts: it steps through every
        length's batch size). Right-padded texts give the forward direction exactly (padding comes
        after each text); the backward direction runs on the texts right-aligned (padding before
        them, so each backward pass starts at its text's last token) and is shifted back.
        Steps past each length hold garbage: the pooling masks them."""
        forward, _ = self.rnn(inputs)  # (N, L, D*H)
        if self.num_directions == 1:
            return forward
        hidden, max_len = self.config.hidden_size, inputs.shape[1]
        shift = (max_len - lengths.to(inputs.device)).unsqueeze(1)  # (N, 1): padding per text
        steps = torch.arange(max_len, device=inputs.device).unsqueeze(0)  # (1, L)

        def take(t: Tensor, index: Tensor) -> Tensor:  # t[n, index[n, s]] along the steps
            return t.gather(1, index.unsqueeze(-1).expand(-1, -1, t.shape[-1]))

        aligned = take(inputs, (steps - shift).clamp_min(0))  # text step s at s + shift
        backward, _ = self.rnn(aligned)
        back = take(backward[..., hidden:], (steps + shift).clamp_max(max_len - 1))
        return torch.cat([forward[..., :hidden], back], dim=-1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        logits = self.head(self.dropout(self.features(x, lengths)))  # (N, C)
        if self.bag is not None:
            logits = logits + self.bag(x, lengths)
        return logits

    @torch.no_grad()
    def predict_proba(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities ``(N, C)`` in evaluation mode (the training mode is restored)."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.forward(x, lengths), dim=-1)
        finally:
            self.train(was_training)

    def to_config_dict(self) -> dict[str, Any]:
        """``asdict(config)``: what a checkpoint stores to rebuild this model."""
        return asdict(self.config)

    @classmethod
    def from_config_dict(cls, data: dict[str, Any]) -> SequenceClassifier:
        """Rebuild (untrained) from :meth:`to_config_dict`."""
        return cls(SequenceClassifierConfig.from_dict(data))

    def extra_repr(self) -> str:
        return f"pooling={self.config.pooling!r}, num_classes={self.config.num_classes}"
