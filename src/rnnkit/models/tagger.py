"""Many-to-many sequence tagging: one tag per token, with an optional linear-chain CRF.

::

    words (N, L) --embedding--> (N, L, E) ----------------+
    chars (N, L, W) --char CNN (max over W) or BiLSTM--> (N, L, K) --+--> concat (N, L, E + K + S)
    shapes (N, L) --casing embedding--> (N, L, S) -------------+     [chars, shapes optional]
        --> dropout --> rnnkit RNN/LSTM/GRU, bidirectional by default --> (N, L, D*H)
        --> dropout --> Linear(D*H, T) --> emissions (N, L, T)
        --> per-token softmax (cross-entropy) or a CRF (forward algorithm / Viterbi)

Legend: N = batch, L = padded length in words, W = padded word length in characters, E = word
embedding size, K = character features (CNN filters, or twice the character BiLSTM's hidden size),
S = casing embedding size, H = hidden size, D = 2 if bidirectional else 1, T = tags.

The optional character CNN gives unknown words a representation from their spelling (suffixes,
capitals, digits), which matters on small treebanks where many test words are unseen. Word dropout
replaces training words by ``<unk>`` at random so that the ``<unk>`` embedding is actually learned.
The character encoders and the word shape classes are in :mod:`rnnkit.models.tagger_features`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.models.crf import CRF
from rnnkit.models.recurrent import RecurrentConfig, check_lengths, valid_mask
from rnnkit.models.tagger_features import CASING_CLASSES, CHAR_ENCODERS, CharLSTM, char_cnn

__all__ = ["IGNORE_INDEX", "SequenceTagger", "SequenceTaggerConfig"]

IGNORE_INDEX = -100  # tag id of padded positions for the cross-entropy loss


@dataclass
class SequenceTaggerConfig(RecurrentConfig):
    """Everything needed to rebuild a :class:`SequenceTagger` (stored in checkpoints as a dict):
    the recurrent layer's settings (:class:`~rnnkit.models.recurrent.RecurrentConfig`,
    bidirectional by default; its ``dropout`` also acts on the inputs and before the output
    layer) and these.

    Attributes:
        vocab_size: word vocabulary size (>= 2).
        num_tags: number of tags T (>= 2).
        embedding_dim: word embedding size E.
        padding_idx: id of the padding word (embedding stays zero).
        unk_idx: id of the unknown word, used by ``word_dropout``.
        word_dropout: probability of replacing a training word by ``<unk>``.
        char_vocab_size: character vocabulary size; 0 turns the character encoder off.
        char_embedding_dim: character embedding size.
        char_filters: character features K: the CNN's output channels, or twice the hidden size
            of the character BiLSTM (even).
        char_kernel_size: width of the character convolution.
        use_crf: score whole tag paths with a linear-chain CRF instead of per-token softmax.
        char_encoder: ``"cnn"`` (convolution, max over the characters) or ``"lstm"`` (the final
            states of a character BiLSTM, Lample et al. 2016).
        casing: add an embedding of each word's shape class
            (:data:`~rnnkit.models.tagger_features.CASING_CLASSES`).
        casing_dim: size S of that embedding.
    """

    vocab_size: int
    num_tags: int
    embedding_dim: int = 100
    padding_idx: int | None = 0
    unk_idx: int | None = 1
    word_dropout: float = 0.0
    char_vocab_size: int = 0
    char_embedding_dim: int = 32
    char_filters: int = 64
    char_kernel_size: int = 3
    use_crf: bool = False
    char_encoder: str = "cnn"
    casing: bool = False
    casing_dim: int = 8
    bidirectional: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        if self.num_tags < 2:
            raise ValueError(f"num_tags must be >= 2, got {self.num_tags}")
        if self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {self.embedding_dim}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {self.word_dropout}")
        if self.word_dropout > 0 and self.unk_idx is None:
            raise ValueError("word_dropout needs unk_idx (the id of the unknown word)")
        if self.char_vocab_size < 0:
            raise ValueError(f"char_vocab_size must be >= 0, got {self.char_vocab_size}")
        if (
            self.char_vocab_size > 0
            and min(self.char_embedding_dim, self.char_filters, self.char_kernel_size) < 1
        ):
            raise ValueError("char_embedding_dim, char_filters and char_kernel_size must be >= 1")
        if self.char_encoder not in CHAR_ENCODERS:
            raise ValueError(
                f"char_encoder must be one of {', '.join(CHAR_ENCODERS)}, got {self.char_encoder!r}"
            )
        if self.char_encoder == "lstm" and self.char_filters % 2:
            raise ValueError(
                f"char_filters must be even with the lstm char_encoder (forward and backward "
                f"halves), got {self.char_filters}"
            )
        if self.casing_dim < 1:
            raise ValueError(f"casing_dim must be >= 1, got {self.casing_dim}")
        super().__post_init__()


class SequenceTagger(nn.Module):
    """Word (and optional character and shape) embeddings -> recurrent layer -> tag scores.

    Inputs: ``words, lengths, chars, shapes``
        - **words**: ``(N, L)`` word ids, padded with ``padding_idx``.
        - **lengths**: optional ``(N,)`` true lengths (default: all ``L``).
        - **chars**: ``(N, L, W)`` character ids (0 = padding), required when the model has a
          character encoder.
        - **shapes**: ``(N, L)`` shape class ids (0 = padding,
          :func:`~rnnkit.models.tagger_features.word_shape`), required with ``casing``.

    Outputs: **emissions** ``(N, L, T)``.
    """

    def __init__(self, config: SequenceTaggerConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(
            config.vocab_size, config.embedding_dim, padding_idx=config.padding_idx
        )
        layer_input = config.embedding_dim
        # the attribute names of the CNN are those of 0.1 checkpoints
        self.char_embedding: nn.Embedding | None = None
        self.char_conv: nn.Conv1d | None = None
        self.char_lstm: CharLSTM | None = None
        if config.char_vocab_size > 0:
            self.char_embedding = nn.Embedding(
                config.char_vocab_size, config.char_embedding_dim, padding_idx=0
            )
            if config.char_encoder == "lstm":
                self.char_lstm = CharLSTM(config.char_embedding_dim, config.char_filters // 2)
            else:
                self.char_conv = nn.Conv1d(
                    config.char_embedding_dim,
                    config.char_filters,
                    config.char_kernel_size,
                    padding=config.char_kernel_size // 2,
                )
            layer_input += config.char_filters
        self.casing_embedding: nn.Embedding | None = None
        if config.casing:
            self.casing_embedding = nn.Embedding(
                len(CASING_CLASSES), config.casing_dim, padding_idx=0
            )
            layer_input += config.casing_dim
        self.rnn = config.layer(layer_input)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.num_directions * config.hidden_size, config.num_tags)
        self.crf: CRF | None = CRF(config.num_tags) if config.use_crf else None

    def _char_features(self, chars: Tensor) -> Tensor:
        batch, length, width = chars.shape
        flat = chars.reshape(batch * length, width).long()  # (N*L, W)
        if self.char_lstm is not None:
            features = self.char_lstm(self.char_embedding(flat), flat)  # (N*L, K)
        else:
            features = char_cnn(self.char_embedding, self.char_conv, flat)  # (N*L, K)
        return features.reshape(batch, length, -1)  # (N, L, K)

    def _inputs(self, words: Tensor, chars: Tensor | None, shapes: Tensor | None) -> Tensor:
        """The recurrent layer's input ``(N, L, E [+ K] [+ S])``."""
        batch, max_len = words.shape
        parts = [self.embedding(words)]  # (N, L, E)
        if self.char_embedding is not None:
            if chars is None or chars.dim() != 3 or chars.shape[:2] != (batch, max_len):
                got = None if chars is None else tuple(chars.shape)
                raise ValueError(
                    f"this tagger reads characters: expected chars of shape ({batch}, {max_len}, W), "
                    f"got {got}"
                )
            parts.append(self._char_features(chars))  # (N, L, K)
        if self.casing_embedding is not None:
            if shapes is None or tuple(shapes.shape) != (batch, max_len):
                got = None if shapes is None else tuple(shapes.shape)
                raise ValueError(
                    f"this tagger reads word shapes: expected shapes of shape ({batch}, {max_len}), "
                    f"got {got}"
                )
            parts.append(self.casing_embedding(shapes.long()))  # (N, L, S)
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    def forward(
        self,
        words: Tensor,
        lengths: Tensor | None = None,
        chars: Tensor | None = None,
        shapes: Tensor | None = None,
    ) -> Tensor:
        if words.dim() != 2:
            raise ValueError(f"expected word ids of shape (N, L), got {tuple(words.shape)}")
        batch, max_len = words.shape
        if max_len == 0:
            raise ValueError("expected sequences of length >= 1, got L = 0")
        lengths = check_lengths(lengths, batch, max_len)
        words = words.long()
        if self.training and self.config.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.config.word_dropout
            words = words.masked_fill(
                drop & (words != self.config.padding_idx), self.config.unk_idx
            )
        inputs = self.dropout(self._inputs(words, chars, shapes))
        if lengths is None:
            outputs, _ = self.rnn(inputs)
        else:
            outputs, _ = self.rnn(inputs, lengths=lengths)  # (N, L, D*H)
        return self.head(self.dropout(outputs))  # (N, L, T)

    def mask(self, words: Tensor, lengths: Tensor | None) -> Tensor:
        """Valid-step mask ``(N, L)`` for a batch."""
        if lengths is None:
            return torch.ones(words.shape, dtype=torch.bool, device=words.device)
        return valid_mask(lengths, words.shape[1], words.device)

    def loss(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean loss per valid token: CRF negative log-likelihood or token cross-entropy."""
        if self.crf is not None:
            return self.crf(emissions, tags, mask)
        target = tags.long().masked_fill(~mask, IGNORE_INDEX)  # (N, L)
        return nn.functional.cross_entropy(
            emissions.reshape(-1, emissions.shape[-1]),
            target.reshape(-1),
            ignore_index=IGNORE_INDEX,
        )

    @torch.no_grad()
    def decode(
        self,
        words: Tensor,
        lengths: Tensor | None = None,
        chars: Tensor | None = None,
        shapes: Tensor | None = None,
    ) -> list[list[int]]:
        """Best tag ids of each sentence (its true length), in evaluation mode."""
        was_training = self.training
        self.eval()
        try:
            emissions = self.forward(words, lengths, chars, shapes)  # (N, L, T)
            mask = self.mask(words, lengths)
            if self.crf is not None:
                best = self.crf.decode(emissions, mask)
            else:
                best = emissions.argmax(dim=-1)  # (N, L)
        finally:
            self.train(was_training)
        sizes = mask.sum(dim=1).tolist()
        return [row[:size] for row, size in zip(best.tolist(), sizes)]

    def to_config_dict(self) -> dict[str, Any]:
        """``asdict(config)``: what a checkpoint stores to rebuild this model."""
        return asdict(self.config)

    @classmethod
    def from_config_dict(cls, data: dict[str, Any]) -> SequenceTagger:
        """Rebuild (untrained) from :meth:`to_config_dict`."""
        return cls(SequenceTaggerConfig.from_dict(data))
