"""The recurrent product ``h @ W_hh^T`` by oneDNN with a weight laid out once per forward pass."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PackedWeight", "packed_product"]


class PackedWeight:
    """``W_hh`` laid out once per forward pass for oneDNN's matrix products, forward and backward.

    On a CPU, a product ``(N, H) @ (H, G)`` with a weight reordered to oneDNN's blocked layout takes
    about half the time of ``torch.mm`` on the same data (measured at N=64, H=512, G=2048: 0.67 ms
    against 1.36 ms), and the recurrent loop does two per step (``h @ W^T`` forward, ``dhp @ W``
    backward). The reorder costs about one product, so it pays from two steps on. Used only for
    products of at least :attr:`min_work` multiply-adds, for float32 tensors on the CPU, where
    PyTorch has the private operators (a CPU build with oneDNN) and a check shows that they compute
    the product, and not under autocast; everywhere else :meth:`of` gives ``None`` and the runner
    uses ``torch.mm``.
    """

    usable: bool | None = None  # decided on first use
    # Below this many multiply-adds per product (N * G * H) torch.mm is as fast and the custom
    # autograd node costs more than it saves: measured at N=32, H=64 (0.5M) and N=16, H=128 (1M)
    # the packed product made an LSTM 1.3-1.5x slower, at N=64, H=512 (67M) 1.1x faster.
    min_work = 1 << 23

    def __init__(self, weight: Tensor, batch: int) -> None:
        reorder = torch.ops.mkldnn._reorder_linear_weight
        self.forward = reorder(weight, batch)  # for h @ W^T: (N, H) -> (N, G)
        self.backward = reorder(weight.t().contiguous(), batch)  # for dhp @ W: (N, G) -> (N, H)

    @staticmethod
    def product(x: Tensor, packed: Tensor) -> Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")

    @classmethod
    def of(cls, weight: Tensor, batch: int) -> PackedWeight | None:
        """The packed weight (G, H) for batches of ``batch`` rows, or ``None`` where unavailable."""
        if weight.device.type != "cpu" or weight.dtype != torch.float32 or weight.dim() != 2:
            return None
        if torch.is_autocast_enabled("cpu"):  # the product runs in autocast's dtype, by torch.mm
            return None
        if batch * weight.numel() < cls.min_work:
            return None
        if cls.usable is None:
            cls.usable = cls._works()
        return cls(weight, batch) if cls.usable else None

    @classmethod
    def _works(cls) -> bool:
        """Whether this PyTorch has the operators and they compute ``x @ W^T`` and ``g @ W``."""
        if not torch.backends.mkldnn.is_available():
            return False
        try:
            generator = torch.Generator().manual_seed(0)
            weight = torch.randn(12, 5, generator=generator)
            x, g = torch.randn(3, 5, generator=generator), torch.randn(3, 12, generator=generator)
            packed = cls(weight, 3)
            forward = cls.product(x, packed.forward)
            backward = cls.product(g, packed.backward)
        except (AttributeError, RuntimeError, NotImplementedError):
            return False
        return torch.allclose(forward, x @ weight.t(), atol=1e-5) and torch.allclose(
            backward, g @ weight, atol=1e-5
        )


class _PackedProduct(torch.autograd.Function):
    """``h @ W^T`` by oneDNN with a :class:`PackedWeight`; its backward gives ``dh = dhp @ W`` only
    (the weight's gradient is deferred, see :class:`_RecurrentProduct`)."""

    @staticmethod
    def forward(ctx, h: Tensor, packed: PackedWeight) -> Tensor:
        ctx.packed = packed
        return PackedWeight.product(h.contiguous(), packed.forward)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return PackedWeight.product(grad.contiguous(), ctx.packed.backward), None


def packed_product(h: Tensor, packed: PackedWeight) -> Tensor:
    """``h @ W^T`` (N, G) with a :class:`PackedWeight`; differentiable in ``h`` only."""
    return _PackedProduct.apply(h, packed)
