"""The recurrent layer every task model is built around: its settings, declared and checked once,
and the helpers the models share (padding masks, length checks).

:class:`RecurrentConfig` holds the settings of the layer (cell, sizes, directions, dropouts,
regularisers, backend). Each model config (:class:`~rnnkit.models.SequenceClassifierConfig`,
:class:`~rnnkit.models.SequenceTaggerConfig`, :class:`~rnnkit.models.LanguageModelConfig`,
:class:`~rnnkit.models.ForecasterConfig`) inherits it, so its keys stay flat
(``asdict(config)["hidden_size"]``), and builds its layer with :meth:`RecurrentConfig.layer`::

    @dataclass
    class MyConfig(RecurrentConfig):
        num_classes: int
        hidden_size: int = field(default=32, kw_only=True)   # another default

The recurrent settings are keyword-only (they follow each model's own fields in the constructor).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor

from rnnkit import nn as layers
from rnnkit.config import strict_from_dict
from rnnkit.errors import RnnkitError

__all__ = ["NONLINEARITIES", "RecurrentConfig", "check_cell", "check_lengths", "valid_mask"]

NONLINEARITIES = ("tanh", "relu")
# The nonlinearity a cell gets when none is given. IndRNN: relu, the paper's choice (Li et al.
# 2018), with which it learns long dependencies; every other cell that takes one: tanh.
CELL_NONLINEARITY = {"indrnn": "relu"}
# What a stored config without a nonlinearity ran with: every model before the setting was stored
# built its layer with build_layer's default, tanh (IndRNN included).
STORED_NONLINEARITY = "tanh"


def check_cell(cell: str) -> None:
    """Raise ``ValueError`` unless ``cell`` is registered in :data:`rnnkit.nn.CELLS`."""
    if cell not in layers.CELLS:
        raise ValueError(f"cell: expected one of {', '.join(layers.CELLS)}, got {cell!r}")


@dataclass(kw_only=True)
class RecurrentConfig:
    """The settings of a model's recurrent layer (see :func:`rnnkit.nn.build_layer`).

    Attributes:
        cell: a name in :data:`rnnkit.nn.CELLS`: ``"rnn"`` (Elman), ``"lstm"``, ``"gru"``...
        nonlinearity: ``"tanh"`` or ``"relu"`` for the cells that take one (``"rnn"``,
            ``"indrnn"``); ``None`` (the default) gives the cell's own: relu for IndRNN, tanh
            otherwise.
        hidden_size: hidden size H of each direction.
        num_layers: stacked recurrent layers.
        bidirectional: run a backward direction too and concatenate both (D = 2).
        dropout: dropout between stacked layers (the models apply it to their inputs and before
            their heads too).
        recurrent_dropout: variational dropout of the state fed back in the recurrent layer
            (see :class:`rnnkit.nn.Recurrent`).
        weight_drop: DropConnect on the recurrent weights ``weight_hh``.
        zoneout: probability that a unit of the recurrent state keeps its previous value.
        backend: the layer backend, ``"auto"``, ``"native"`` or ``"reference"``.
    """

    cell: str = "lstm"
    nonlinearity: str | None = None
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    weight_drop: float = 0.0
    zoneout: float = 0.0
    backend: str = "auto"

    def __post_init__(self) -> None:
        check_cell(self.cell)
        if self.nonlinearity is None:
            self.nonlinearity = CELL_NONLINEARITY.get(self.cell, "tanh")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}")
        for name in ("hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in layers.REGULARISERS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name}: expected a float in [0, 1), got {value!r}")

    @property
    def num_directions(self) -> int:
        """D: 2 if bidirectional else 1."""
        return 2 if self.bidirectional else 1

    def layer(self, input_size: int) -> layers.Recurrent:
        """The recurrent layer (batch first) of these settings over ``input_size`` features; a
        setting the cell cannot take (zoneout of a scan cell...) is an ``RnnkitError``."""
        try:
            return self._build_layer(input_size)
        except ValueError as error:
            raise RnnkitError(str(error)) from error

    def _build_layer(self, input_size: int) -> layers.Recurrent:
        # every other setting is a keyword of build_layer, by the same name
        options = {f.name: getattr(self, f.name) for f in fields(RecurrentConfig)}
        cell, hidden_size = options.pop("cell"), options.pop("hidden_size")
        return layers.build_layer(cell, input_size, hidden_size, **options)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Rebuild from ``asdict(config)`` (a checkpoint's ``model_config``); an unknown key is a
        ``ConfigError`` naming it. A dict without ``nonlinearity`` was stored before the setting
        was: its model ran with tanh, so it is rebuilt with tanh."""
        data = dict(data)
        data.setdefault("nonlinearity", STORED_NONLINEARITY)
        return strict_from_dict(cls, data)


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
