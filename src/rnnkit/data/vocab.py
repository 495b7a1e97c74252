"""A vocabulary: a deterministic, serialisable mapping between tokens (strings) and ids.

Used for characters (the language model), words (classification, tagging) and label sets.

Order of the ids (deterministic, never dependent on hashing):

1. the special tokens, in the order given (so with the default ``("<pad>", "<unk>")`` the pad id
   is 0 and the unknown id is 1);
2. the other tokens, by ``order``:

   - ``"frequency"`` (default): most frequent first, ties broken by first appearance in the input;
   - ``"lexical"``: sorted by code point (``sorted(set(tokens))``, as char-rnn does);
   - ``"first"``: by first appearance in the input (natural for label maps).

``min_freq`` drops rare tokens before ``max_size`` (which counts the special tokens too) keeps the
first ones in that order.

Tokens are Python strings, so a character vocabulary works per Unicode code point and is UTF-8
safe; :meth:`Vocabulary.to_dict` holds only lists, strings and ``None``, so checkpoints stay
loadable with ``torch.load(..., weights_only=True)``.

Example::

    >>> vocab = Vocabulary.build("hello world", specials=("<unk>",), order="lexical")
    >>> ids, unknown = vocab.encode_with_unknown("held!")
    >>> "".join(vocab.decode(ids)), unknown
    ('held<unk>', ['!'])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rnnkit.errors import RnnkitError

__all__ = ["PAD", "UNK", "Vocabulary"]

PAD = "<pad>"
UNK = "<unk>"
_ORDERS = ("frequency", "lexical", "first")


class Vocabulary:
    """Tokens <-> ids. Build one with :meth:`build`; rebuild a saved one with :meth:`from_dict`.

    Args:
        tokens: the tokens in id order (id ``i`` is ``tokens[i]``); no duplicates.
        pad_token: the padding token, or ``None``; it must be in ``tokens`` when given.
        unk_token: the token unknown inputs map to, or ``None`` (then :meth:`encode` raises
            :class:`~rnnkit.errors.RnnkitError` on an unknown token); it must be in ``tokens``.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        *,
        pad_token: str | None = None,
        unk_token: str | None = None,
    ) -> None:
        itos = list(tokens)
        for token in itos:
            if not isinstance(token, str):
                raise TypeError(
                    f"vocabulary tokens must be str, got {type(token).__name__}: {token!r}"
                )
        stoi: dict[str, int] = {}
        for index, token in enumerate(itos):
            if token in stoi:
                raise ValueError(
                    f"duplicate token {token!r} in vocabulary (ids {stoi[token]} and {index})"
                )
            stoi[token] = index
        for name, special in (("pad_token", pad_token), ("unk_token", unk_token)):
            if special is not None and special not in stoi:
                raise ValueError(f"{name} {special!r} is not in the vocabulary")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = stoi
        self.pad_token = pad_token
        self.unk_token = unk_token

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        tokens: Iterable[str],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD, UNK),
        pad_token: str | None = PAD,
        unk_token: str | None = UNK,
        order: str = "frequency",
    ) -> Vocabulary:
        """Count ``tokens`` (any iterable of strings: a str gives its characters) and build a vocabulary.

        ``pad_token``/``unk_token`` are only used when they are among ``specials`` (so
        ``specials=("<unk>",)`` gives a vocabulary with no padding and ``<unk>`` at id 0).
        Special tokens met in the input are not counted twice.
        """
        if order not in _ORDERS:
            raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        specials = list(dict.fromkeys(specials))  # drop repeats, keep order
        if max_size is not None and max_size < len(specials):
            raise ValueError(
                f"max_size must be at least the number of special tokens ({len(specials)}), got {max_size}"
            )
        counts: Counter[str] = Counter()
        for (
            token
        ) in tokens:  # Counter keeps first-appearance order for equal counts (dicts are ordered)
            counts[token] += 1
        special_set = set(specials)
        kept = [t for t, c in counts.items() if c >= min_freq and t not in special_set]
        if order == "frequency":
            kept.sort(key=lambda t: -counts[t])  # stable sort: ties stay in first-appearance order
        elif order == "lexical":
            kept.sort()
        itos = specials + kept
        if max_size is not None:
            itos = itos[:max_size]
        return cls(
            itos,
            pad_token=pad_token if pad_token in special_set else None,
            unk_token=unk_token if unk_token in special_set else None,
        )

    # ------------------------------------------------------------------ mapping
    @property
    def pad_id(self) -> int | None:
        """Id of the padding token, or ``None`` when there is none."""
        return None if self.pad_token is None else self.stoi[self.pad_token]

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown token, or ``None`` when there is none."""
        return None if self.unk_token is None else self.stoi[self.unk_token]

    @property
    def special_ids(self) -> list[int]:
        """Ids of the pad and unknown tokens that exist (tokens never to generate or predict)."""
        return [i for i in (self.pad_id, self.unk_id) if i is not None]

    def encode_with_unknown(self, tokens: Iterable[str]) -> tuple[list[int], list[str]]:
        """Ids of ``tokens`` and the distinct tokens that were not in the vocabulary (first-seen order).

        Unknown tokens map to the unknown id; with no unknown token they raise ``RnnkitError``.
        Callers use the returned list to warn once, e.g. "unknown characters: 'é', '✓'".
        """
        stoi = self.stoi
        unk = self.unk_id
        ids: list[int] = []
        unknown: dict[str, None] = {}
        for token in tokens:
            index = stoi.get(token)
            if index is None:
                unknown[token] = None
                if unk is None:
                    raise RnnkitError(
                        f"token {token!r} is not in the vocabulary (which has no unknown token)"
                    )
                index = unk
            ids.append(index)
        return ids, list(unknown)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown ones map to the unknown id (see :meth:`encode_with_unknown`)."""
        return self.encode_with_unknown(tokens)[0]

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> list[str]:
        """Tokens of ``ids`` (ints or a 1-D tensor); ``"".join(...)`` turns characters back into text."""
        itos = self.itos
        size = len(itos)
        skip = set(self.special_ids) if skip_special else set()
        out = []
        for index in ids:
            index = int(index)
            if not 0 <= index < size:
                raise ValueError(f"id {index} is out of range for a vocabulary of {size} tokens")
            if index not in skip:
                out.append(itos[index])
        return out

    def unknown_tokens(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens of ``tokens`` that are not in the vocabulary, in first-seen order."""
        return list(dict.fromkeys(t for t in tokens if t not in self.stoi))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """Id of ``token`` (the unknown id when absent, or ``KeyError`` with no unknown token)."""
        index = self.stoi.get(token)
        if index is None:
            if self.unk_token is None:
                raise KeyError(token)
            return self.stoi[self.unk_token]
        return index

    def __iter__(self):
        return iter(self.itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:8])
        more = ", ..." if len(self.itos) > 8 else ""
        return f"Vocabulary(size={len(self)}, tokens=[{head}{more}])"

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (list of str, str or None), safe for ``weights_only`` checkpoints."""
        return {"tokens": list(self.itos), "pad_token": self.pad_token, "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Rebuild a vocabulary saved by :meth:`to_dict`; ``RnnkitError`` when it is malformed."""
        try:
            tokens = data["tokens"]
            if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens):
                raise TypeError("tokens must be a list of strings")
            return cls(tokens, pad_token=data.get("pad_token"), unk_token=data.get("unk_token"))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RnnkitError(f"malformed vocabulary in checkpoint: {error}") from error
