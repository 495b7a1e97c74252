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

from rnnkit.config import strict_from_dict
from rnnkit.errors import RnnkitError
from rnnkit.nn import layers

__all__ = [
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "check_regularisers",
    "recurrent_layer",
    "valid_mask",
]

POOLINGS = ("last", "mean", "max")


@dataclass
class SequenceClassifierConfig:
    """Everything needed to rebuild a :class:`SequenceClassifier` (stored in checkpoints as a dict).

    Attributes:
        num_classes: number of classes C (>= 2).
        vocab_size: size of the token vocabulary; 0 means continuous inputs of ``input_size``
            features and no embedding.
        input_size: number of features F of continuous inputs (used only when ``vocab_size == 0``).
        embedding_dim: embedding size E (used only when ``vocab_size > 0``).
        padding_idx: id of the padding token, whose embedding stays zero (``None`` for none).
        cell: a name in :data:`rnnkit.nn.layers.CELLS`: ``"rnn"`` (Elman), ``"lstm"``, ``"gru"``...
        nonlinearity: ``"tanh"`` or ``"relu"`` for ``cell="rnn"``.
        hidden_size: hidden size H of each direction.
        num_layers: stacked recurrent layers.
        bidirectional: run a backward direction too and concatenate both.
        dropout: dropout on the embeddings, between recurrent layers and before the head.
        recurrent_dropout: variational dropout of the state fed back in the recurrent layer
            (see :class:`rnnkit.nn.layers.Recurrent`).
        weight_drop: DropConnect on the recurrent weights ``weight_hh``.
        zoneout: probability that a unit of the recurrent state keeps its previous value.
        pooling: ``"last"`` (final hidden state at the true length), ``"mean"`` or ``"max"``.
        backend: the rnnkit layer backend, ``"auto"``, ``"native"`` or ``"reference"``.
    """

    num_classes: int
    vocab_size: int = 0
    input_size: int = 0
    embedding_dim: int = 128
    padding_idx: int | None = 0
    cell: str = "lstm"
    nonlinearity: str = "tanh"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    weight_drop: float = 0.0
    zoneout: float = 0.0
    pooling: str = "last"
    backend: str = "auto"

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
        _check_layer_options(
            self.cell, self.nonlinearity, self.hidden_size, self.num_layers, self.dropout
        )
        check_regularisers(self)
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceClassifierConfig:
        """Rebuild from ``asdict(config)``; an unknown key is a ``ConfigError`` naming it."""
        return strict_from_dict(cls, data)


def check_cell(cell: str) -> None:
    """Raise ``ValueError`` unless ``cell`` is registered in :data:`rnnkit.nn.layers.CELLS`."""
    if cell not in layers.CELLS:
        raise ValueError(f"cell: expected one of {', '.join(layers.CELLS)}, got {cell!r}")


def check_regularisers(config: Any) -> None:
    """Raise ``ValueError`` unless the config's ``recurrent_dropout``, ``weight_drop`` and
    ``zoneout`` (the layer's regularisers, :data:`rnnkit.nn.layers.REGULARISERS`) are in [0, 1)."""
    for name in layers.REGULARISERS:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"{name}: expected a float in [0, 1), got {value!r}")


def _check_layer_options(
    cell: str, nonlinearity: str, hidden_size: int, num_layers: int, dropout: float
) -> None:
    check_cell(cell)
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    if hidden_size < 1:
        raise ValueError(f"hidden_size must be >= 1, got {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def valid_mask(lengths: Tensor, max_len: int, device: torch.device) -> Tensor:
    """Boolean mask ``(N, max_len)``: True at the steps ``t < lengths[n]``."""
    steps = torch.arange(max_len, device=device)  # (L,)
    return steps.unsqueeze(0) < lengths.to(device).unsqueeze(1)  # (N, L)


def check_lengths(lengths: Tensor | None, batch: int, max_len: int) -> Tensor | None:
    """Validate a lengths tensor for a padded batch ``(N, L, ...)``: 1-D, N values in [1, L]."""
    if lengths is None:
        return None
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ValueError(
            f"lengths must be in [1, {max_len}], got min {int(lengths.min())} "
            f"and max {int(lengths.max())}"
        )
    return lengths.long()


def recurrent_layer(config: Any, input_size: int) -> layers.Recurrent:
    """A model's recurrent layer (batch first) from the settings its config shares with the others:
    ``cell``, ``hidden_size``, ``num_layers``, ``dropout``, ``recurrent_dropout``, ``weight_drop``,
    ``zoneout``, ``backend`` and, where the config has them, ``bidirectional`` and
    ``nonlinearity``."""
    try:
        return _build_layer(config, input_size)
    except ValueError as error:  # a setting the cell cannot take (zoneout of a scan cell...)
        raise RnnkitError(str(error)) from error


def _build_layer(config: Any, input_size: int) -> layers.Recurrent:
    return layers.build_layer(
        config.cell,
        input_size,
        config.hidden_size,
        num_layers=config.num_layers,
        bidirectional=getattr(config, "bidirectional", False),
        dropout=config.dropout,
        nonlinearity=getattr(config, "nonlinearity", "tanh"),
        backend=config.backend,
        recurrent_dropout=config.recurrent_dropout,
        weight_drop=config.weight_drop,
        zoneout=config.zoneout,
    )


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
        self.rnn = recurrent_layer(config, layer_input)
        self.dropout = nn.Dropout(config.dropout)
        self.num_directions = 2 if config.bidirectional else 1
        self.head = nn.Linear(self.num_directions * config.hidden_size, config.num_classes)

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
        if lengths is None:
            outputs, state = self.rnn(inputs)
        else:
            outputs, state = self.rnn(inputs, lengths=lengths)
        # outputs (N, L, D*H); past each true end they are zero
        pooling = self.config.pooling
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

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.head(self.dropout(self.features(x, lengths)))  # (N, C)

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
