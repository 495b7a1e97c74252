"""PROVISIONAL: the public API of rnnkit's layers, wrapping torch.nn until the from-scratch runner lands.

Signature: torch.nn's exactly, plus ``backend=`` in the constructor and ``lengths=`` in forward.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class _Provisional:
    def forward(self, input, hx=None, lengths=None):  # noqa: A002
        if lengths is None:
            return super().forward(input, hx)
        total = input.shape[1 if self.batch_first else 0]
        packed = pack_padded_sequence(input, lengths.cpu(), batch_first=self.batch_first, enforce_sorted=False)
        out, state = super().forward(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=total)
        return out, state


class RNN(_Provisional, nn.RNN):
    def __init__(self, *args, backend="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.backend = backend


class LSTM(_Provisional, nn.LSTM):
    def __init__(self, *args, backend="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.backend = backend


class GRU(_Provisional, nn.GRU):
    def __init__(self, *args, backend="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.backend = backend
