"""The reference backend: the readable loop that runs any cell over a sequence, step by step.

The inputs of all steps are projected by one matrix product, then each step does one matrix product
for the recurrence (:class:`_RecurrentProduct`, whose weight gradient is one product after the loop).
A cell with a ``scan`` (the minimal RNNs) runs each layer and direction as one call of it instead.
The regularisers (:mod:`rnnkit.nn.regularisers`) and the probe act around each step here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.cells import PackedWeight, RNNCellBase, State, packed_product
from rnnkit.nn.checks import autocast_dtype

if TYPE_CHECKING:
    from rnnkit.nn.runner import Recurrent

__all__ = ["run_reference", "run_reference_packed"]


def run_reference(
    layer: Recurrent, x: Tensor, state: State | None, lengths: Tensor | None
) -> tuple[Tensor, State]:
    """Run every layer and direction of ``layer`` with the cells' own recurrence.

    ``x`` is (L, N, H_in); ``state`` holds the initial state's components, each
    (D * num_layers, N, size), or None for zeros; ``lengths`` (N,) marks padding, or is None.
    Returns the last layer's output (L, N, D * H_out) and the final state's components.
    """
    steps, batch = x.shape[0], x.shape[1]
    mask = mask_steps = None
    if lengths is not None:
        # mask[t, n] says whether step t is inside sequence n: (L, N, 1), and L x (N, 1)
        mask = (torch.arange(steps, device=x.device)[:, None] < lengths[None, :]).unsqueeze(-1)
        mask_steps = mask.unbind(0)
    finals: list[State] = []
    for index in range(layer.num_layers):
        outputs = []
        for direction in range(layer.num_directions):
            cell = layer._cells[index * layer.num_directions + direction]
            if state is None:
                h_state = cell.init_state(x, batch)
            else:
                h_state = tuple(c[index * layer.num_directions + direction] for c in state)
            if _scans(layer, cell, steps):
                out, h_state = cell.scan(x, h_state, mask=mask, reverse=bool(direction))
            else:
                out, h_state = _run_steps(layer, cell, x, h_state, (index, direction), mask_steps)
            outputs.append(out)
            finals.append(h_state)
        x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)  # (L, N, D * H_out)
        if layer.dropout and layer.training and index < layer.num_layers - 1:
            x = F.dropout(x, layer.dropout, training=True)
    return x, tuple(torch.stack(component) for component in zip(*finals))


def _run_steps(
    layer: Recurrent,
    cell: RNNCellBase,
    x: Tensor,
    h_state: State,
    where: tuple[int, int],
    mask_steps: tuple[Tensor, ...] | None,
) -> tuple[Tensor, State]:
    """One layer and direction (``where``) step by step from ``h_state``: outputs (L, N, H_out) and
    the final state; ``mask_steps`` is L x (N, 1), False past each sequence's end, or None."""
    steps, batch = x.shape[0], x.shape[1]
    # Under autocast the products run in `low` and the rest of each step in `dtype` (the
    # parameters'), so the state keeps float32's precision from step to step.
    dtype, low = x.dtype, autocast_dtype(x.device)
    # One matrix product for the inputs of every step; unbind gives views whose backward
    # does not allocate a full-size zero tensor per step, as indexing xp[t] would.
    xp = cell.project_input(x).to(dtype)  # (L, N, G)
    feedback = layer._feedback_mask(cell, batch, x)  # (N, H_out) or None
    recurrent = _RecurrentProduct(cell, xp, feedback, low)
    zones = layer._zoneout_masks(cell, steps, batch, x) if layer._zoneout else None
    xp_steps = recurrent.xp.unbind(0)  # L x (N, G)
    order = range(steps - 1, -1, -1) if where[1] else range(steps)
    out_steps: list[Tensor] = [x] * steps  # placeholders, each one overwritten
    for t in order:
        out_t, new_state = recurrent.step(t, xp_steps[t], h_state)
        if low is not None:  # a cell whose last operation was a product (proj_size)
            out_t, new_state = out_t.to(dtype), tuple(s.to(dtype) for s in new_state)
        if layer._zoneout:
            new_state = layer._zone_out(new_state, h_state, zones, t)
            out_t = new_state[0]  # the output is the zoned-out h
        if layer._probe is not None:
            new_state = tuple(layer._probe(*where, t, new_state))
            out_t = new_state[0]
        if mask_steps is not None:
            # Past a sequence's end the state stays as it was and the output is zero: the final
            # state is the one at the true end, and the reverse direction starts from the true
            # end with the initial state.
            m = mask_steps[t]
            new_state = tuple(torch.where(m, n, s) for n, s in zip(new_state, h_state))
            out_t = out_t * m
        h_state = new_state
        out_steps[t] = out_t
    return torch.stack(out_steps), h_state  # (L, N, H_out)


def _scans(layer: Recurrent, cell: RNNCellBase, steps: int) -> bool:
    """Whether ``cell`` runs as one whole-sequence scan: it has one (see the cell protocol), and
    the layer's ``scan_mode`` is ``"scan"``, or ``"auto"`` with more than one step (a single
    step, as in streaming generation, takes the per-step path). A scan has no step at which to
    zone out or drop the state fed back, so a layer using either runs the steps."""
    if not callable(getattr(cell, "scan", None)) or layer.scan_mode == "step" or layer._probe:
        return False
    if layer._zoneout or (layer._recurrent_dropout and layer.training):
        return False
    return layer.scan_mode == "scan" or steps > 1


def run_reference_packed(
    layer: Recurrent, packed: PackedSequence, state: State | None
) -> tuple[Tensor, State]:
    """The reference loop on a packed batch, in its sorted order: pad, run with lengths, re-pack."""
    x, lengths = pad_packed_sequence(packed)  # (L, N, H_in) in the original order
    if packed.sorted_indices is not None:
        x = x.index_select(1, packed.sorted_indices)
        lengths = lengths[packed.sorted_indices.cpu()]
    output, final = run_reference(layer, x, state, lengths.to(x.device))
    return pack_padded_sequence(output, lengths, enforce_sorted=True).data, final


class _RecurrentProduct:
    """``hp_t = h_t @ W_hh^T`` for every step of one layer and direction, with one gradient product.

    Left to autograd, each step's product adds its own ``(G, H)`` term ``dhp_t^T @ h_t`` into the
    gradient of ``W_hh``: L small matrix products, each writing a full-size matrix, and L additions of
    it. Here the steps multiply by a detached ``W_hh``, so autograd computes only ``dh_t``, and a
    tensor (L, N, G) whose gradient holds every step's ``dhp_t`` passes through
    :class:`_DeferredWeightGrad`, whose backward returns ``dW_hh = sum_t dhp_t^T @ h_t`` as a single
    ``(G, L*N) @ (L*N, H)`` product. That tensor is the projected input ``xp`` itself for cells whose
    step begins with ``xp_t + hp_t`` (``adds_projections``: then ``dhp_t = dxp_t``), and otherwise
    zeros added to each step's product (``hp_t = z_t + h_t @ W_hh^T``, so ``dz_t = dhp_t``).

    Used for cells that write ``step`` (and keep :class:`RNNCellBase`'s ``recurrence``) while gradients
    are being recorded for ``W_hh``; otherwise ``deferred`` is False and the cell's ``recurrence`` runs.

    ``low`` is the autocast dtype, if autocast is on: ``W_hh`` is cast to it once, not at each step.

    ``feedback`` (N, H_out), if given, is recurrent dropout's mask: ``h`` is multiplied by it where it
    enters the recurrent product (``hp_t = (h * feedback) @ W_hh^T``; ``step`` still gets the state
    as it is), or, for a cell that writes its own ``recurrence``, in the state passed to it.
    """

    def __init__(
        self,
        cell: RNNCellBase,
        xp: Tensor,
        feedback: Tensor | None = None,
        low: torch.dtype | None = None,
    ) -> None:
        self.cell = cell
        self.xp = xp
        self.feedback = feedback
        weight = getattr(cell, "weight_hh", None)
        # the cell's recurrence is RNNCellBase's: the recurrent product, then step()
        self.writes_step = getattr(type(cell), "recurrence", None) is RNNCellBase.recurrence
        self.deferred = (
            self.writes_step
            and isinstance(weight, Tensor)
            and weight.requires_grad
            and torch.is_grad_enabled()
        )
        if self.deferred:
            self.weight_t = weight.detach().t()  # (H_out, G)
            if low is not None:  # autocast would cast it again at every step
                self.weight_t = self.weight_t.to(low)
            self.packed = PackedWeight.of(weight.detach(), xp.shape[1])
            self.inputs: list[Tensor] = [weight] * xp.shape[0]  # h_t of each step, set by __call__
            if cell.adds_projections:
                # dhp_t = dxp_t: the gradient that xp receives carries every step's dhp_t already
                self.xp = _DeferredWeightGrad.apply(weight, self.inputs, xp)
                self.zero_steps = None
            else:
                zeros = xp.new_zeros(()).expand(xp.shape)
                self.zero_steps = _DeferredWeightGrad.apply(weight, self.inputs, zeros).unbind(0)

    def step(self, t: int, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """Step ``t`` of the cell from ``xp_t`` (N, G) and ``state``: ``(output_t, new_state)``."""
        if not self.deferred:
            if self.feedback is None:
                return self.cell.recurrence(xp_t, state)
            h = state[0] * self.feedback  # (N, H_out)
            if self.writes_step:
                return self.cell.step(xp_t, h @ self.cell.weight_hh.t(), state)
            return self.cell.recurrence(xp_t, (h, *state[1:]))
        h = state[0] if self.feedback is None else state[0] * self.feedback  # (N, H_out)
        self.inputs[t] = h.detach()  # data only: a graph-attached h would form a reference cycle
        if self.packed is not None:
            hp_t = packed_product(h, self.packed)  # (N, G)
            if self.zero_steps is not None:
                hp_t = hp_t + self.zero_steps[t]
        elif self.zero_steps is None:
            hp_t = h @ self.weight_t  # (N, G)
        else:
            hp_t = torch.addmm(self.zero_steps[t], h, self.weight_t)  # (N, G)
        return self.cell.step(xp_t, hp_t, state)


class _DeferredWeightGrad(torch.autograd.Function):
    """Passes ``carrier`` (L, N, G) through; its gradient, all steps' ``dhp_t``, also becomes the
    gradient of ``W_hh``, with the ``h_t`` that the loop stores in ``inputs``."""

    @staticmethod
    def forward(ctx, weight: Tensor, inputs: list[Tensor], carrier: Tensor) -> Tensor:
        ctx.inputs = inputs  # h_t of each step, known once the loop has run
        ctx.weight_dtype = weight.dtype
        return carrier.view_as(carrier)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, Tensor]:
        # The loop keeps h_t and the carrier in the parameters' dtype, also under autocast (whose
        # state the backward does not see); the casts make that explicit and cost nothing then.
        h = torch.stack(ctx.inputs).to(grad.dtype)  # (L, N, H_out)
        grad_2d = grad.reshape(-1, grad.shape[-1])  # (L*N, G)
        grad_weight = grad_2d.t() @ h.reshape(-1, h.shape[-1])  # (G, H_out)
        return grad_weight.to(ctx.weight_dtype), None, grad
