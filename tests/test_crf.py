"""The constrained CRF: log Z, marginals, Viterbi, N-best and span probabilities against
brute-force enumeration of all T^n paths, with and without constraints and padding; the masks
in the state_dict; finite gradients."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnkit.data.schemes import allowed_transitions, spans, to_tags
from rnnkit.export.spec import tagger_spec
from rnnkit.models import SequenceTagger, SequenceTaggerConfig
from rnnkit.models.crf import CRF, FORBIDDEN

# BIO over one type: tags O, B-X, I-X; I-X may not start nor follow O.
BIO_START = torch.tensor([True, True, False])
BIO_TRANS = torch.tensor([[True, True, False], [True, True, True], [True, True, True]])
BIO_END = torch.tensor([True, True, True])


def _random_crf(num_tags: int, seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags).double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_(0.0, 1.0)
    return crf


def _allowed(crf: CRF, path: tuple[int, ...]) -> bool:
    return (
        bool(crf.allowed_start[path[0]])
        and bool(crf.allowed_end[path[-1]])
        and all(bool(crf.allowed_transitions[i, j]) for i, j in itertools.pairwise(path))
    )


def _raw_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """The unconstrained score of one path, written out (emissions ``(n, T)``)."""
    total = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    total = total + sum(emissions[t, y] for t, y in enumerate(path))
    total = total + sum(crf.transitions[i, j] for i, j in itertools.pairwise(path))
    return float(total.detach())


def _brute_force(crf: CRF, emissions: torch.Tensor) -> tuple[float, dict[tuple[int, ...], float]]:
    """``log Z`` over the allowed paths and each allowed path's log-probability (``(n, T)``)."""
    n, num_tags = emissions.shape
    scores = {
        path: _raw_score(crf, emissions, path)
        for path in itertools.product(range(num_tags), repeat=n)
        if _allowed(crf, path)
    }
    log_z = math.log(sum(math.exp(s) for s in scores.values()))
    return log_z, {path: s - log_z for path, s in scores.items()}


def _batch(seed: int, lengths: list[int], num_tags: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, dtype=torch.float64) * 2
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return emissions, mask


@pytest.mark.parametrize("constrained", [False, True])
def test_log_z_marginals_and_decode_equal_brute_force(constrained):
    crf = _random_crf(3, seed=1)
    if constrained:
        crf.constrain(BIO_START, BIO_TRANS, BIO_END)
    lengths = [4, 1, 3, 2]
    emissions, mask = _batch(2, lengths, 3)
    log_z = crf.log_partition(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    paths = crf.decode(emissions, mask)
    assert marginals.shape == (4, 4, 3)
    for n, length in enumerate(lengths):
        true_log_z, log_probs = _brute_force(crf, emissions[n, :length])
        assert log_z[n].item() == pytest.approx(true_log_z, abs=1e-9)
        expected = torch.zeros(4, 3, dtype=torch.float64)
        for path, lp in log_probs.items():
            for t, y in enumerate(path):
                expected[t, y] += math.exp(lp)
        torch.testing.assert_close(marginals[n], expected, atol=1e-9, rtol=0)  # padded: zeros
        assert tuple(paths[n, :length].tolist()) == max(log_probs, key=log_probs.get)
    valid = marginals.sum(dim=2)[mask]
    torch.testing.assert_close(valid, torch.ones_like(valid), atol=1e-12, rtol=0)
    if constrained:  # I-X never starts nor follows a certain O
        assert marginals[:, 0, 2].abs().max().item() == 0.0


@pytest.mark.parametrize("constrained", [False, True])
def test_nbest_is_the_exact_top_k(constrained):
    crf = _random_crf(3, seed=4)
    if constrained:
        crf.constrain(BIO_START, BIO_TRANS, BIO_END)
    lengths = [3, 1, 2]
    emissions, mask = _batch(5, lengths, 3)
    best = crf.nbest(emissions, mask, k=7)
    decoded = crf.decode(emissions, mask)
    for n, length in enumerate(lengths):
        _, log_probs = _brute_force(crf, emissions[n, :length])
        ranked = sorted(log_probs.items(), key=lambda item: -item[1])[:7]
        assert [tuple(path) for path, _ in best[n]] == [path for path, _ in ranked]
        assert [lp for _, lp in best[n]] == pytest.approx([lp for _, lp in ranked], abs=1e-9)
        assert best[n][0][0] == decoded[n, :length].tolist()
    # A single step has 3 paths unconstrained and 2 under BIO (I-X may not start): fewer than k.
    assert len(best[1]) == (2 if constrained else 3)


def test_nbest_scores_decrease_and_k_1_is_viterbi():
    crf = CRF(5)
    emissions, mask = _batch(6, [9, 4, 7], 5)
    emissions = emissions.float()
    best = crf.nbest(emissions, mask, k=4)
    for n, paths in enumerate(best):
        scores = [lp for _, lp in paths]
        assert len(paths) == 4 and scores == sorted(scores, reverse=True) and scores[0] <= 0
        assert len({tuple(p) for p, _ in paths}) == 4
    top = crf.nbest(emissions, mask, k=1)
    assert [paths[0][0] for paths in top] == [paths[0][0] for paths in best]
    with pytest.raises(ValueError, match=r"^expected k >= 1, got 0$"):
        crf.nbest(emissions, mask, k=0)


def test_span_probability_equals_brute_force():
    crf = _random_crf(3, seed=8)
    crf.constrain(BIO_START, BIO_TRANS, BIO_END)
    lengths = [4, 3]
    emissions, mask = _batch(9, lengths, 3)
    tags = crf.decode(emissions, mask)
    tags[1, :3] = torch.tensor([0, 2, 2])  # O I-X I-X: O -> I-X is forbidden
    spans = [(0, 1, 3), (0, 0, 4), (1, 1, 3), (1, 0, 2), (0, 3, 4)]
    probs = crf.span_probability(emissions, mask, tags, spans)
    for (n, start, end), prob in zip(spans, probs.tolist()):
        _, log_probs = _brute_force(crf, emissions[n, : lengths[n]])
        want = tuple(tags[n, start:end].tolist())
        expected = sum(math.exp(lp) for path, lp in log_probs.items() if path[start:end] == want)
        assert prob == pytest.approx(expected, abs=1e-9)
    assert probs[2].item() > 0 and probs[3].item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(
        ValueError, match=r"0 <= start < end <= length of sequence n, got \[\[1, 2, 4\]\]$"
    ):
        crf.span_probability(emissions, mask, tags, [(1, 2, 4)])  # sequence 1 has 3 steps


def _reachable(start: torch.Tensor, trans: torch.Tensor, end: torch.Tensor, length: int) -> bool:
    state = start.clone()
    for _ in range(length - 1):
        state = (state.unsqueeze(1) & trans).any(dim=0)
    return bool((state & end).any())


@settings(max_examples=60, deadline=None)
@given(
    num_tags=st.integers(2, 4),
    length=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
    density=st.floats(0.2, 0.9),
)
def test_constrained_decoding_never_takes_a_forbidden_step(num_tags, length, seed, density):
    generator = torch.Generator().manual_seed(seed)
    start = torch.rand(num_tags, generator=generator) < density
    trans = torch.rand(num_tags, num_tags, generator=generator) < density
    end = torch.rand(num_tags, generator=generator) < density
    mask = torch.ones(2, length, dtype=torch.bool)
    mask[1, max(1, length - 2) :] = False
    sizes = mask.sum(dim=1).tolist()
    assume(bool(start.any()) and bool(end.any()))
    assume(all(_reachable(start, trans, end, size) for size in sizes))
    crf = CRF(num_tags).double()
    with torch.no_grad():  # transitions that pull hard towards the forbidden paths
        crf.transitions.copy_(torch.where(trans, -3.0, 3.0))
        crf.start_transitions.copy_(torch.where(start, -3.0, 3.0))
        crf.end_transitions.copy_(torch.where(end, -3.0, 3.0))
    crf.constrain(start, trans, end)
    emissions = torch.randn(2, length, num_tags, generator=generator, dtype=torch.float64) * 5
    paths = crf.decode(emissions, mask)
    best = crf.nbest(emissions, mask, k=3)
    for n, size in enumerate(sizes):
        path = tuple(paths[n, :size].tolist())
        assert _allowed(crf, path)
        _, log_probs = _brute_force(crf, emissions[n, :size])
        assert path == max(log_probs, key=log_probs.get)
        assert all(_allowed(crf, tuple(p)) for p, _ in best[n])
        assert best[n][0][0] == list(path)
        assert len(best[n]) == min(3, len(log_probs))


def test_gradients_stay_finite_under_constraints():
    # Tag 3 is unreachable (no allowed start, nothing may move into it): -inf would give NaN.
    crf = CRF(4)
    trans = torch.ones(4, 4, dtype=torch.bool)
    trans[:, 3] = False
    crf.constrain(torch.tensor([True, True, True, False]), trans, torch.ones(4, dtype=torch.bool))
    emissions, mask = _batch(3, [6, 2, 4], 4)
    emissions = emissions.float().requires_grad_()
    gold = torch.randint(0, 3, (3, 6))
    loss = crf(emissions, gold, mask)
    loss.backward()
    grads = [emissions.grad, *(p.grad for p in crf.parameters())]
    assert torch.isfinite(loss) and all(bool(torch.isfinite(g).all()) for g in grads)
    # A gold path through the unreachable tag: finite, about FORBIDDEN per forbidden step.
    gold[0, 2] = 3
    crf.zero_grad()
    emissions.grad = None
    ll = crf.log_likelihood(emissions, gold, mask)
    ll.sum().backward()
    assert FORBIDDEN - 50 < ll[0].item() < FORBIDDEN + 50 and ll[1].item() > -50
    assert all(bool(torch.isfinite(g).all()) for g in [emissions.grad, crf.transitions.grad])
    assert crf.marginals(emissions.detach(), mask)[..., 3].max().item() == 0.0


def test_the_masks_travel_in_the_state_dict_and_old_ones_load_unconstrained():
    crf = _random_crf(3, seed=11)
    crf.constrain(BIO_START, BIO_TRANS, BIO_END)
    emissions, mask = _batch(12, [5, 3], 3)
    emissions[:, :, 2] += 3.0  # I-X everywhere: what the unconstrained CRF would pick
    loaded = CRF(3).double()
    loaded.load_state_dict(crf.state_dict())
    assert loaded.constrained and "constrained" in repr(loaded)
    assert torch.equal(loaded.decode(emissions, mask), crf.decode(emissions, mask))
    old = {k: v for k, v in crf.state_dict().items() if not k.startswith("allowed_")}
    assert sorted(old) == ["end_transitions", "start_transitions", "transitions"]
    loaded.load_state_dict(old)  # strict: the masks are not reported missing
    assert not loaded.constrained
    plain = _random_crf(3, seed=11)
    assert torch.equal(loaded.decode(emissions, mask), plain.decode(emissions, mask))
    assert not torch.equal(loaded.decode(emissions, mask), crf.decode(emissions, mask))
    # Inside a larger model too (the key prefix).
    outer = torch.nn.Sequential(CRF(3))
    outer[0].constrain(BIO_START, BIO_TRANS, BIO_END)
    outer.load_state_dict({f"0.{k}": v for k, v in old.items()})
    assert not outer[0].constrained
    # A partial state_dict (strict=False) that does not hold the CRF leaves its masks as they were.
    outer[0].constrain(BIO_START, BIO_TRANS, BIO_END)
    outer.load_state_dict({}, strict=False)
    assert outer[0].constrained


def test_constrain_rejects_bad_masks():
    crf = CRF(3)
    with pytest.raises(
        ValueError, match=r"^expected allowed_transitions of shape \(3, 3\), got \(3,\)$"
    ):
        crf.constrain(BIO_START, BIO_END, BIO_END)
    with pytest.raises(
        ValueError, match=r"^expected allowed_start as a bool tensor, got torch.int64$"
    ):
        crf.constrain(BIO_START.long(), BIO_TRANS, BIO_END)
    with pytest.raises(ValueError, match=r"^expected at least one allowed end tag, got none$"):
        crf.constrain(BIO_START, BIO_TRANS, torch.zeros(3, dtype=torch.bool))
    assert not crf.constrained
    crf.constrain(BIO_START, BIO_TRANS, BIO_END)
    crf.constrain(*(torch.ones_like(m) for m in (BIO_START, BIO_TRANS, BIO_END)))
    assert not crf.constrained


def test_an_exported_tagger_carries_the_masks_of_a_constrained_crf():
    config = SequenceTaggerConfig(
        vocab_size=20, num_tags=3, embedding_dim=8, hidden_size=6, use_crf=True
    )
    model = SequenceTagger(config)
    assert set(json.loads(tagger_spec(model, "tag", {}).metadata["crf"])) == {
        "transitions",
        "start",
        "end",
    }
    model.crf.constrain(BIO_START, BIO_TRANS, BIO_END)
    exported = json.loads(tagger_spec(model, "tag", {}).metadata["crf"])
    assert exported["allowed_transitions"] == BIO_TRANS.tolist()
    assert exported["allowed_start"] == BIO_START.tolist()
    assert exported["allowed_end"] == BIO_END.tolist()


def test_decoding_under_a_scheme_gives_well_formed_tags():
    names = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    crf = CRF(len(names))
    crf.constrain(*allowed_transitions(names, "iobes"))
    torch.manual_seed(13)
    emissions = torch.randn(64, 7, len(names)) * 3
    mask = torch.arange(7)[None, :] < torch.randint(1, 8, (64, 1))
    paths = crf.decode(emissions, mask)
    best = crf.nbest(emissions, mask, k=3)
    unconstrained = CRF(len(names))
    unconstrained.load_state_dict({k: v for k, v in crf.state_dict().items() if "allowed" not in k})
    ill_formed = 0
    for n, size in enumerate(mask.sum(dim=1).tolist()):
        for path in [paths[n, :size].tolist(), *(p for p, _ in best[n])]:
            tags = [names[t] for t in path]
            assert to_tags(spans(tags, "iobes"), size, "iobes") == tags
        tags = [names[t] for t in unconstrained.decode(emissions, mask)[n, :size].tolist()]
        ill_formed += to_tags(spans(tags, "iobes"), size, "iobes") != tags
    assert ill_formed > 10  # the same emissions without the constraints break the scheme
