"""The minimal GRU and LSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates from the input
only, so a whole sequence is one linear scan, with a hand-written backward."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.nn.cells.base import RNNCellBase, State

__all__ = ["MinGRUCell", "MinLSTMCell", "compile_min_cells"]


def _update_logit(*logits: Tensor) -> Tensor:
    """``u`` with ``σ(u)`` the weight of the candidate: minGRU's ``k_z``, or minLSTM's
    ``log σ(k_i) - log σ(k_f)`` from ``(k_i, k_f)``, so that ``σ(u) = i / (f + i)`` and ``σ(-u) =
    f / (f + i)`` without forming ``f + i``, which underflows to 0 (then 0/0) when both are tiny."""
    if len(logits) == 1:
        return logits[0]
    k_i, k_f = logits
    return F.logsigmoid(k_i) - F.logsigmoid(k_f)


def _convex_coefficients(u: Tensor) -> tuple[Tensor, Tensor]:
    """``z = σ(u)`` and ``a = 1 - z``: the weights of the candidate and of the previous state.

    With ``u = -inf`` (a step past a sequence's end) ``z`` is exactly 0 and ``a`` exactly 1, so the
    state is carried unchanged and no gradient reaches that step's gates.
    """
    z = torch.sigmoid(u)
    return z, torch.rsub(z, 1.0)


def _min_coefficients(
    mask: Tensor | None, c: Tensor, *logits: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``z``, ``a = 1 - z`` and ``b = z ⊙ c`` of every step (L, N, H); ``u = -inf`` where ``mask``
    (L, N, 1) is False."""
    u = _update_logit(*logits)
    if mask is not None:
        u = u.masked_fill(~mask, float("-inf"))
    z, a = _convex_coefficients(u)
    return z, a, z * c


def _min_input_grads(
    h0: Tensor, out: Tensor, g: Tensor, z: Tensor, a: Tensor, reverse: bool, c: Tensor, *logits
) -> tuple[Tensor, ...]:
    """The gradients of ``c`` and of the logits from ``g = dL/dh`` of every step (see
    :class:`_MinScan`)."""
    # c - h_{t-1}, with h_{t-1} = h0 at the scan's first step, written in two pieces (no shifted copy)
    diff = torch.empty_like(c)
    if reverse:
        torch.sub(c[:-1], out[1:], out=diff[:-1])
        torch.sub(c[-1], h0, out=diff[-1])
    else:
        torch.sub(c[1:], out[:-1], out=diff[1:])
        torch.sub(c[0], h0, out=diff[0])
    dc = g * z
    du = diff.mul_(dc).mul_(a)  # z a (c - h_prev) ⊙ g, in place of diff
    if len(logits) == 1:
        return dc, du
    k_i, k_f = logits  # u = log σ(k_i) - log σ(k_f), and d log σ(k)/dk = σ(-k)
    return dc, torch.neg(k_i).sigmoid_().mul_(du), torch.neg(k_f).sigmoid_().mul_(du).neg_()


def _scan_steps(a: Tensor, b: Tensor, h0: Tensor, reverse: bool) -> Tensor:
    """``h_t = a_t ⊙ h_{t-1} + b_t`` for t = 0..L-1 (L-1..0 with ``reverse``) from ``h0`` (N, H),
    written over ``b`` (L, N, H), which is returned.

    One in-place multiply-add per step, with no autograd graph: on a CPU this beats cumulative
    products or log-space sums, which need several full passes over (L, N, H) and either divide by
    products that underflow or take logs of signed values. Writing over ``b`` saves a tensor of that
    size and a view per step.
    """
    a_steps, out_steps = a.unbind(0), b.unbind(0)
    h = h0
    for t in range(len(out_steps) - 1, -1, -1) if reverse else range(len(out_steps)):
        h = torch.addcmul(out_steps[t], a_steps[t], h, out=out_steps[t])
    return b


def _scan_adjoint(a: Tensor, grad: Tensor, reverse: bool) -> Tensor:
    """The backward scan of :func:`_scan_steps`: ``g_t = grad_t + a_s ⊙ g_s`` where s is the step
    after t in the forward scan's direction (t + 1, or t - 1 with ``reverse``), run from the last
    step back to the first."""
    g = torch.empty_like(grad)
    a_steps, grad_steps, g_steps = a.unbind(0), grad.unbind(0), g.unbind(0)
    steps = len(g_steps)
    order = range(steps) if reverse else range(steps - 1, -1, -1)
    later = order[0]
    g_steps[later].copy_(grad_steps[later])
    for t in order[1:]:
        torch.addcmul(grad_steps[t], a_steps[later], g_steps[later], out=g_steps[t])
        later = t
    return g


class _MinScan(torch.autograd.Function):
    """A whole minGRU / minLSTM sequence: from ``h0`` (N, H), the candidates ``c`` and the gate
    logits (``k_z``, or ``k_i, k_f``), each (L, N, H), the states ``h`` (L, N, H) of every step.

    Forward: ``z = σ(u)``, ``a = 1 - z``, ``b = z ⊙ c`` and the scan ``h_t = a_t ⊙ h_{t-1} + b_t``.
    Backward: the adjoint of a linear scan is the same scan run the other way,
    ``g_t = dL/dh_t + a_{t+1} ⊙ g_{t+1}`` (``dh_0 = a_0 ⊙ g_0``), and then, all steps at once,
    ``dc_t = z_t ⊙ g_t`` and ``du_t = z_t a_t (c_t - h_{t-1}) ⊙ g_t`` (as ``h_t = h_{t-1} + z_t (c_t -
    h_{t-1})``), ``du`` reaching ``k_i, k_f`` through ``d log σ(k)/dk = σ(-k)``. No graph per step
    is recorded: autograd sees one node.

    ``mask`` (L, N, 1), optional, is False past each sequence's end: there ``u = -inf``, so the state
    is carried unchanged (and the reverse direction starts at the true end from ``h0``).
    """

    @staticmethod
    def forward(ctx, h0: Tensor, mask: Tensor | None, reverse: bool, c: Tensor, *logits: Tensor):
        z, a, b = _elementwise("coefficients")(mask, c, *logits)  # (L, N, H) each
        out = _scan_steps(a, b, h0, reverse)  # (L, N, H), in b's memory
        ctx.save_for_backward(h0, z, a, out, c, *logits)
        ctx.reverse = reverse
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        h0, z, a, out, c, *logits = ctx.saved_tensors
        g = _scan_adjoint(a, grad.contiguous(), ctx.reverse)  # (L, N, H): dL/dh_t, all paths
        first = -1 if ctx.reverse else 0
        grad_h0 = a[first] * g[first]
        grads = _elementwise("input_grads")(h0, out, g, z, a, ctx.reverse, c, *logits)
        return grad_h0, None, None, *grads


_SCAN_BLOCK = 2**21  # numbers per (L, N, H) tensor in one block of MinGRU/MinLSTMCell.scan
_ELEMENTWISE = {"coefficients": _min_coefficients, "input_grads": _min_input_grads}
_compiled: dict[str, Callable[..., object]] = {}


def compile_min_cells(enabled: bool = True) -> None:
    """Run the element-wise arithmetic around the minimal cells' scans (the gates before it, the
    gradients of the gates after it) as kernels fused by ``torch.compile``, or, with ``False``, as
    plain PyTorch operations again (the default).

    Optional: it needs a C++ compiler on a CPU, and the first sequences of each kind take seconds to
    compile. If compiling fails, a warning says so and the plain operations are used from then on.
    The scans themselves, and all results, are the same either way (to rounding).
    """
    _compiled.clear()
    if enabled:
        for name, function in _ELEMENTWISE.items():
            _compiled[name] = torch.compile(function, dynamic=True, fullgraph=True)


def _elementwise(name: str) -> Callable[..., object]:
    """The compiled version of ``_ELEMENTWISE[name]`` after :func:`compile_min_cells`, else it."""
    compiled = _compiled.get(name)
    if compiled is None:
        return _ELEMENTWISE[name]

    def call(*args: object) -> object:
        try:
            return compiled(*args)
        except (RuntimeError, OSError) as error:  # no compiler (dynamo wraps it): plain PyTorch
            warnings.warn(
                f"compile_min_cells: compiling failed ({type(error).__name__}: {error}); using "
                "plain PyTorch operations",
                RuntimeWarning,
                stacklevel=2,
            )
            _compiled.clear()
            return _ELEMENTWISE[name](*args)

    return call


class _MinCellBase(RNNCellBase):
    """What minGRU and minLSTM share: ``weight_ih`` and ``bias_ih`` only, a state ``(h,)``, one step
    in :meth:`recurrence` and a whole sequence at once in :meth:`scan`."""

    native_mode = None
    _biases = ("bias_ih",)
    _reset_when_built = True

    def _add_parameters(self, factory: dict[str, object]) -> None:
        del self.weight_hh  # the gates see x_t only: no recurrent matrix

    def _split(self, xp: Tensor) -> tuple[Tensor, ...]:
        """A projection's blocks reordered as ``(c, *logits)`` for :func:`_min_coefficients`."""
        raise NotImplementedError

    def recurrence(self, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step, for streaming: the same operations as one step of :meth:`scan`."""
        (h,) = state
        _, a, b = _min_coefficients(None, *self._split(xp_t))  # (N, H) each
        h = torch.addcmul(b, a, h)  # a ⊙ h + z ⊙ c
        return h, (h,)

    def _gates(self, u: Tensor) -> dict[str, Tensor]:
        """The gates of one step from its update logit ``u`` (N, H) (see :func:`_update_logit`)."""
        raise NotImplementedError

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        _, *logits = self._split(xp_t)
        return self._gates(_update_logit(*logits))

    def scan(
        self, x: Tensor, state: State, mask: Tensor | None = None, reverse: bool = False
    ) -> tuple[Tensor, State]:
        """A whole sequence at once: the input ``x`` (L, N, H_in) and the state ``(h_0,)`` ->
        outputs (L, N, H) and the final state.

        ``mask`` (L, N, 1) is False past each sequence's end: the state is carried there unchanged and
        the outputs are zero. With ``reverse`` the steps run from L-1 down to 0 (the final state is
        the one after step 0).
        """
        # Blocks of steps whose (L_block, N, H) tensors hold at most _SCAN_BLOCK numbers, the state
        # carried from one to the next: glibc gives larger buffers fresh pages from the kernel each
        # time (past its 32 MiB mmap threshold), whose faults cost more than the arithmetic here.
        steps, batch = x.shape[0], x.shape[1]
        size = max(1, _SCAN_BLOCK // (batch * self.hidden_size))
        starts = list(range(0, steps, size))
        h, outputs = state[0], {}
        for start in reversed(starts) if reverse else starts:
            part = slice(start, start + size)
            out = self._scan_block(x[part], h, None if mask is None else mask[part], reverse)
            h = out[0] if reverse else out[-1]
            outputs[start] = out
        out = torch.cat([outputs[start] for start in starts]) if len(starts) > 1 else outputs[0]
        # h, the last block's own step, rather than a step of the whole out: its gradient then
        # needs a zero tensor the size of one block instead of one the size of out
        return (out if mask is None else out * mask), (h,)

    def _scan_block(self, x: Tensor, h0: Tensor, mask: Tensor | None, reverse: bool) -> Tensor:
        """:meth:`scan` of ``x`` (L, N, H_in) from ``h0`` (N, H): every step's h (L, N, H)."""
        # One product per gate block rather than one for all: each block comes out contiguous, and
        # element-wise kernels on a strided slice of a (L, N, G*H) tensor are several times slower.
        weights = self.weight_ih.chunk(self.gates, 0)
        biases = (None,) * self.gates if self.bias_ih is None else self.bias_ih.chunk(self.gates)
        # Under autocast the products come out in bfloat16 or float16; the scan runs in x's dtype
        # (the parameters'), where a long sequence's state does not pile up rounding.
        blocks = [F.linear(x, w, b).to(x.dtype) for w, b in zip(weights, biases)]  # G x (L, N, H)
        return _MinScan.apply(h0, mask, reverse, *self._split(blocks))


class MinGRUCell(_MinCellBase):
    r"""A minimal GRU cell (Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We
    Needed?"): the update gate and the candidate depend on the input only,

    .. math::
        \begin{array}{ll}
        z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = W_h x_t + b_h \\
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t
        \end{array}

    so :math:`h_t = a_t \odot h_{t-1} + b_t` is linear in :math:`h` and a whole sequence is one
    scan (:meth:`scan`) instead of L dependent steps. This is the paper's sequential form, with the
    plain candidate :math:`\tilde h_t` (not its log-space :math:`g(\cdot) > 0`, which only a scan in
    log space needs): :math:`h_t` is a convex combination of :math:`h_{t-1}` and :math:`\tilde h_t`,
    so :math:`|h_t| \le \max(|h_0|, \max_s |\tilde h_s|)` at any length, and :math:`1 - z_t` is
    computed as :math:`\sigma`'s complement, bounded in :math:`[0, 1]`, never divided by.

    Args: ``input_size`` (:math:`H_{in}`), ``hidden_size`` (:math:`H`), ``bias`` (if ``False``, no
    ``bias_ih``). Inputs: ``input`` :math:`(N, H_{in})` or :math:`(H_{in})`; ``hx`` :math:`(N, H)`
    or :math:`(H)`, zeros if omitted. Output: ``h'`` in the shape of ``hx``.

    Parameters: ``weight_ih`` :math:`(2H, H_{in})`, stacked :math:`(W_z, W_h)`, and ``bias_ih``
    :math:`(2H)`, stacked :math:`(b_z, b_h)`; uniform in :math:`\pm 1/\sqrt{H}` as torch.nn's. No
    ``weight_hh``.

    Legend: N = batch size, H_in = input features, H = hidden features, L = sequence length.
    """

    gates = 2

    def _split(self, xp: Tensor | list[Tensor]) -> tuple[Tensor, ...]:
        k_z, c = xp.chunk(2, dim=-1) if isinstance(xp, Tensor) else xp
        return c, k_z

    def _gates(self, u: Tensor) -> dict[str, Tensor]:
        """The update gate ``z`` (N, H), the weight of the candidate."""
        return {"z": torch.sigmoid(u)}


class MinLSTMCell(_MinCellBase):
    r"""A minimal LSTM cell (Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We
    Needed?"): forget and input gates and the candidate depend on the input only, and the gates are
    normalised to sum to one,

    .. math::
        \begin{array}{ll}
        f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
            \tilde h_t = W_h x_t + b_h \\
        f'_t = f_t / (f_t + i_t), \quad i'_t = i_t / (f_t + i_t) \\
        h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t
        \end{array}

    The normalised gates are computed in log space, :math:`i'_t = \sigma(u_t)` and :math:`f'_t =
    1 - \sigma(u_t)` with :math:`u_t = \log \sigma(W_i x_t + b_i) - \log \sigma(W_f x_t + b_f)`, which
    equals the quotients but never forms :math:`f_t + i_t` (it underflows to 0 when both gates are
    tiny). As in :class:`MinGRUCell`, the candidate is the paper's plain sequential-mode
    :math:`\tilde h_t` and :math:`h_t` a convex combination of :math:`h_{t-1}` and
    :math:`\tilde h_t`, bounded at any length; a whole sequence is one scan (:meth:`scan`).

    Args, inputs and output: as :class:`MinGRUCell`'s.

    Parameters: ``weight_ih`` :math:`(3H, H_{in})`, stacked :math:`(W_f, W_i, W_h)`, and ``bias_ih``
    :math:`(3H)`, stacked :math:`(b_f, b_i, b_h)`; uniform in :math:`\pm 1/\sqrt{H}` as torch.nn's.
    No ``weight_hh``.

    Legend: N = batch size, H_in = input features, H = hidden features, L = sequence length.
    """

    gates = 3

    def _split(self, xp: Tensor | list[Tensor]) -> tuple[Tensor, ...]:
        k_f, k_i, c = xp.chunk(3, dim=-1) if isinstance(xp, Tensor) else xp
        return c, k_i, k_f

    def _gates(self, u: Tensor) -> dict[str, Tensor]:
        """The normalised input and forget gates ``i' = i / (f + i)`` and ``f' = 1 - i'`` (N, H)."""
        z, a = _convex_coefficients(u)
        return {"i": z, "f": a}
