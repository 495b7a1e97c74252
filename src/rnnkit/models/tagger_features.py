"""What a :class:`~rnnkit.models.tagger.SequenceTagger` reads of a word besides its id: its
characters (a CNN with max-pooling, or the character BiLSTM of Lample et al., 2016) and its shape
(casing) class.

Both matter for named entities without pretrained vectors: most test entities are unseen words,
and their spelling and capitals are what tells ``Lindström`` (a person) from ``lindström`` (no
entity at all). The word vocabulary may be lower-cased (``data.lower``); characters and shapes
always come from the token as written.

Word shape classes (:data:`CASING_CLASSES`, id 0 is padding), from the original token:

=============  ==========================================================  =====================
class          rule (first that holds)                                     examples
=============  ==========================================================  =====================
``digits``     every character a digit                                     ``1984``, ``007``
``has_digit``  some digit among other characters                           ``2nd``, ``B-52``, ``3.5``
``punct``      no letter and no digit                                      ``(``, ``--``, ``''``
``lower``      every cased letter lower-case                               ``cat``, ``e.g.``
``upper``      two or more cased letters, all upper-case                   ``NASA``, ``U.S.``
``title``      :meth:`str.istitle`: each run of letters starts upper-case  ``Paris``, ``A``, ``O'Neil``
``mixed``      other mixes of cases                                        ``iPhone``, ``McDonald``
``other``      letters without case (most non-Latin scripts)               ``東京``, ``القاهرة``
=============  ==========================================================  =====================
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn import build_layer

__all__ = ["CASING_CLASSES", "CHAR_ENCODERS", "CharLSTM", "char_cnn", "shape_ids", "word_shape"]

CASING_CLASSES = (
    "<pad>",
    "digits",
    "has_digit",
    "punct",
    "lower",
    "upper",
    "title",
    "mixed",
    "other",
)
CHAR_ENCODERS = ("cnn", "lstm")
_ID = {name: i for i, name in enumerate(CASING_CLASSES)}


def word_shape(token: str) -> int:
    """The id in :data:`CASING_CLASSES` of ``token``'s shape (see the module's table)."""
    if token.isdigit():
        return _ID["digits"]
    if any(c.isdigit() for c in token):
        return _ID["has_digit"]
    cased = [c for c in token if c.islower() or c.isupper()]
    if not cased:
        return _ID["other"] if any(c.isalpha() for c in token) else _ID["punct"]
    if all(c.islower() for c in cased):
        return _ID["lower"]
    if len(cased) >= 2 and all(c.isupper() for c in cased):
        return _ID["upper"]
    return _ID["title"] if token.istitle() else _ID["mixed"]


def shape_ids(sentences, width: int) -> Tensor:
    """``(N, width)`` shape ids of token lists, padded with 0."""
    out = torch.zeros(len(sentences), width, dtype=torch.long)
    lengths = torch.tensor([len(sentence) for sentence in sentences], dtype=torch.long)
    # one scatter into the valid positions (row-major, the order of the tokens) rather than a
    # tensor a sentence: the tag task builds these for every training batch
    valid = torch.arange(width) < lengths.unsqueeze(1)
    out[valid] = torch.tensor([word_shape(w) for s in sentences for w in s], dtype=torch.long)
    return out


def char_cnn(embedding: nn.Embedding, conv: nn.Conv1d, flat: Tensor) -> Tensor:
    """Characters ``(M, W)`` (0 = padding) -> ``(M, K)``: embedding, a convolution over the
    characters, ReLU, max over the real characters (a word with none gives zeros)."""
    width = flat.shape[1]
    embedded = embedding(flat).transpose(1, 2)  # (M, C, W)
    features = torch.relu(conv(embedded))[..., :width]  # (M, K, W)
    features = features.masked_fill((flat == 0).unsqueeze(1), float("-inf"))
    pooled = features.max(dim=2).values  # (M, K); words with no characters give -inf
    return pooled.masked_fill(torch.isinf(pooled), 0.0)


class CharLSTM(nn.Module):
    """The character BiLSTM of Lample et al. (2016): each word's characters read forwards and
    backwards; the word is ``[h_fwd(last char); h_bwd(first char)]``, ``(M, 2 * hidden)``.

    All the words of a batch are one batch of the layer, each with its own length, so padding
    characters never enter a word's states; words with no characters (padding words) give zeros.
    """

    def __init__(self, embedding_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.rnn = build_layer("lstm", embedding_dim, hidden_size, bidirectional=True)

    def forward(self, embedded: Tensor, flat: Tensor) -> Tensor:
        """``embedded`` ``(M, W, C)`` character embeddings of ``flat`` ``(M, W)`` ids."""
        lengths = (flat != 0).sum(dim=1)  # (M,)
        # a padding word (no characters) is read as one padding character, then zeroed: no
        # data-dependent indexing, so the model exports to ONNX and TorchScript as it is
        _, (h_n, _) = self.rnn(embedded, lengths=lengths.clamp(min=1))  # h_n (2, M, H)
        words = torch.cat([h_n[0], h_n[1]], dim=-1)  # (M, 2H)
        return words * (lengths > 0).unsqueeze(1).to(words.dtype)
