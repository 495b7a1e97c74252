r"""The recurrent regularisers: recurrent dropout, DropConnect on the recurrent weights and zoneout.

They wrap any cell the runner (:class:`rnnkit.nn.runner.Recurrent`) runs: the runner takes them as
keyword options and applies them around each cell's step, so no cell and no layer class implements
them. Every random mask comes from :meth:`Regularised._draw_mask`, in a fixed order per layer and
direction: the weight mask (before the loop), the feedback mask, the zoneout masks.

Three keyword options, each a probability :math:`p \in [0, 1)`, 0 (off) by default; with
:math:`p = 0` the layer computes exactly what it computes without the option. Masks are drawn
independently for every layer and direction, from torch's default generator
(``torch.manual_seed`` makes them reproducible).

- ``recurrent_dropout`` (Gal and Ghahramani 2016, Keras' ``recurrent_dropout``): in training,
  the previous output :math:`h_{t-1}` is multiplied by one mask :math:`m / (1 - p)`,
  :math:`m \sim \mathrm{Bernoulli}(1 - p)^{N \times H_{out}}`, drawn once per forward and
  used at every step, where it enters the recurrence: :math:`W_{hh} (m \odot h_{t-1}) / (1 - p)`
  for the cells that write ``step`` (all built-in cells but IndRNN), so that a GRU's
  interpolation :math:`z \odot h_{t-1}` and an LSTM's cell state :math:`c` are not dropped;
  for a cell that writes its own ``recurrence`` (IndRNN: :math:`u \odot h_{t-1}`), the ``h`` of
  the state passed to it. The step's output and the state carried on are not dropped. In
  evaluation it is the identity.
- ``weight_drop`` (DropConnect on the recurrent weights, Merity, Keskar and Socher 2017,
  AWD-LSTM): in training, every cell's ``weight_hh`` is replaced for one forward by
  :math:`W_{hh} \odot m / (1 - p)`, one mask :math:`m` of ``weight_hh``'s shape per layer and
  direction, the same at every step; the gradient reaches ``weight_hh`` through the mask. For
  IndRNN this drops entries of the per-unit weight :math:`u` (H,), i.e. cuts the self-loop of
  those units for the whole forward; with ``max_length`` the bound is applied to the dropped
  :math:`u`, so it holds in training too. An LSTM's projection ``weight_hr`` is not dropped. A
  cell without a ``weight_hh`` parameter is refused. In evaluation it is the identity.
- ``zoneout`` (Krueger et al. 2017): after each step every state component (:math:`h`, and
  :math:`c` in LSTMs, each with its own mask) is :math:`s_t = m \odot s_{t-1} + (1 - m)
  \odot \tilde s_t` with a fresh :math:`m \sim \mathrm{Bernoulli}(p)^{N \times size}` at every
  step in training, and the expectation :math:`s_t = p \, s_{t-1} + (1 - p) \, \tilde s_t` in
  evaluation. The step's output is the zoned-out :math:`h_t` (what the next step and the next
  layer see).

Padded steps (``lengths``, ``PackedSequence``) keep the state as without the options. The fused
kernels take the recurrent weights as a list, so ``weight_drop`` runs on both backends; they
cannot express ``recurrent_dropout`` or ``zoneout``: ``backend="auto"`` then runs the reference
loop (in evaluation mode it may run natively with ``recurrent_dropout``, which is then the
identity, but not with ``zoneout``, whose expectation still acts), and ``backend="native"`` with
either is a ``ValueError``. A cell with a ``scan`` runs its steps one by one while zoneout or
recurrent dropout acts. The three options are attributes that may be changed later, checked in the
same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from rnnkit.nn.cells import RNNCellBase, State

__all__ = ["REGULARISERS", "Regularised", "check_probability"]

REGULARISERS = ("recurrent_dropout", "weight_drop", "zoneout")
"""The recurrent regularisers every layer takes as keyword options (see :class:`Regularised`)."""


def check_probability(name: str, value: object) -> float:
    """``value`` as a float in [0, 1): a dropout-like probability."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a float in [0, 1), got {type(value).__name__} {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a float in [0, 1), got {value}")
    return float(value)


def _fused_lacks(name: str) -> property:
    """The option ``name``: a probability (see :func:`check_probability`) that the fused kernels
    cannot run, so refused while the backend is ``"native"``."""

    def set_value(self: Regularised, value: float) -> None:
        value = check_probability(name, value)
        if value and self._backend == "native":
            raise ValueError(
                f"{name}: backend 'native' cannot run {name}={value} (PyTorch's fused kernels have "
                "no such option); expected 0.0, or backend 'auto' or 'reference'"
            )
        setattr(self, f"_{name}", value)

    return property(lambda self: getattr(self, f"_{name}"), set_value)


class Regularised:
    """The regularisers' part of the runner: the three options (checked when set), their masks, the
    weight drop around a forward pass and zoneout after a step. Mixed into
    :class:`rnnkit.nn.runner.Recurrent`, whose ``_cells``, ``_backend`` and ``training`` it reads."""

    _cells: list[RNNCellBase]
    _backend: str
    training: bool

    def _init_regularisers(
        self, recurrent_dropout: float, weight_drop: float, zoneout: float
    ) -> float:
        """Set recurrent dropout and zoneout; give back ``weight_drop`` checked, to be set once the
        cells exist."""
        self._recurrent_dropout = check_probability("recurrent_dropout", recurrent_dropout)
        self._zoneout = check_probability("zoneout", zoneout)
        self._weight_drop = 0.0
        return check_probability("weight_drop", weight_drop)

    recurrent_dropout = _fused_lacks("recurrent_dropout")
    zoneout = _fused_lacks("zoneout")

    @property
    def weight_drop(self) -> float:
        return self._weight_drop

    @weight_drop.setter
    def weight_drop(self, value: float) -> None:
        value = check_probability("weight_drop", value)
        lacking = [c for c in self._cells if not isinstance(c._parameters.get("weight_hh"), Tensor)]
        if value and lacking:
            raise ValueError(
                f"weight_drop: {type(lacking[0]).__name__} has no recurrent weight parameter "
                f"'weight_hh' to drop; expected 0.0, got {value}"
            )
        self._weight_drop = value

    # -- the regularisers' masks --------------------------------------------------------------------

    def _draw_mask(self, shape: tuple[int, ...], probability: float, like: Tensor) -> Tensor:
        """A boolean tensor of ``shape`` on ``like``'s device, each entry True with ``probability``.

        Every random mask of the regularisers is drawn here, in a fixed order (per layer and
        direction: the weight mask, before the loop; the feedback mask; the zoneout masks)."""
        return torch.rand(shape, device=like.device) < probability

    def _dropout_mask(self, shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
        """Inverted dropout's multiplier: 0 with probability ``p``, else ``1 / (1 - p)``."""
        keep = self._draw_mask(shape, 1.0 - p, like)
        return keep.to(like.dtype) / (1.0 - p)

    @contextlib.contextmanager
    def _weights_dropped(self) -> Iterator[None]:
        """In training with ``weight_drop``: each cell's ``weight_hh`` is, for the duration, its
        product with a dropout mask of its own, so both backends and every step use that tensor and
        autograd carries its gradient back to the parameter through the mask."""
        if not (self._weight_drop and self.training):
            yield
            return
        originals = [cell._parameters["weight_hh"] for cell in self._cells]
        try:
            for cell, weight in zip(self._cells, originals):
                mask = self._dropout_mask(tuple(weight.shape), self._weight_drop, weight)
                # a plain tensor in the Parameter's place, until the forward ends
                cell._parameters["weight_hh"] = weight * mask
            yield
        finally:
            for cell, weight in zip(self._cells, originals):
                cell._parameters["weight_hh"] = weight

    def _feedback_mask(self, cell: RNNCellBase, batch: int, x: Tensor) -> Tensor | None:
        """Recurrent dropout's multiplier of the ``h`` fed back (N, H_out) in training, else None:
        variational, one mask per sequence, the same at every step."""
        if not (self._recurrent_dropout and self.training):
            return None
        return self._dropout_mask((batch, cell.state_sizes[0]), self._recurrent_dropout, x)

    def _zoneout_masks(self, cell: RNNCellBase, steps: int, batch: int, x: Tensor) -> State | None:
        """Training: for each state component, (L, N, size) True where a unit keeps its previous
        value at a step; evaluation (the expectation is used instead): ``None``."""
        if not self.training:
            return None
        return tuple(
            self._draw_mask((steps, batch, size), self._zoneout, x) for size in cell.state_sizes
        )

    def _zone_out(self, new: State, old: State, masks: State | None, t: int) -> State:
        """Zoneout of step ``t``: ``m * old + (1 - m) * new`` per component, or its expectation."""
        if masks is None:
            return tuple(torch.lerp(n, o, self._zoneout) for n, o in zip(new, old))
        return tuple(torch.where(m[t], o, n) for m, n, o in zip(masks, new, old))

    def eval_step(self, cell: RNNCellBase, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step of ``cell`` (one of :attr:`cells`) as this layer runs it in evaluation mode: the
        cell's recurrence, then zoneout's expectation. For step-by-step generation."""
        output, new_state = cell.recurrence(xp_t, state)
        if not self._zoneout:
            return output, new_state
        new_state = self._zone_out(new_state, state, None, 0)
        return new_state[0], new_state

    def _regularisers_repr(self) -> list[str]:
        """``name=p`` for each regulariser in use, for the layer's repr."""
        return [f"{name}={getattr(self, name)}" for name in REGULARISERS if getattr(self, name)]
