"""The word-level language model's options: the exact adaptive softmax, tied weights, dropout,
and the word tokenizer's defaults."""

from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from rnnkit.models.adaptive_softmax import AdaptiveSoftmax
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.lm_defaults import TOKENIZER_DEFAULTS

V = 40


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    options = {"embedding_size": 12, "hidden_size": 12, "num_layers": 2, **kw}
    model = LanguageModel(LanguageModelConfig(vocab_size=V, **options))
    if model.adaptive is not None:  # zero at the start: give the cluster logits a part to play
        torch.nn.init.normal_(model.adaptive.clusters.weight)
    return model.eval()


def test_adaptive_softmax_is_a_normalised_distribution_over_the_whole_vocabulary():
    model = _model(tie_weights=True, adaptive_cutoffs=[5, 20])
    logp, _ = model(torch.randint(V, (3, 9)))
    assert logp.shape == (3, 9, V)
    torch.testing.assert_close(logp.logsumexp(-1), torch.zeros(3, 9), atol=1e-5, rtol=0)
    # a tail token's probability is its cluster's times its share inside the cluster
    assert bool((logp[..., 20:].exp().sum(-1) < 1).all())


@pytest.mark.parametrize("cutoffs", [[], [5, 20], [1], [V - 1]])
def test_loss_equals_cross_entropy_of_forward_and_skips_ignored_targets(cutoffs):
    model = _model(adaptive_cutoffs=cutoffs)
    ids, targets = torch.randint(V, (2, 8)), torch.randint(V, (2, 8))
    targets[0, :3] = -100
    logits, _ = model(ids)
    for reduction in ("mean", "sum"):
        expected = F.cross_entropy(
            logits.reshape(-1, V), targets.reshape(-1), ignore_index=-100, reduction=reduction
        )
        loss, _ = model.loss(ids, targets, reduction=reduction)
        torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)


def test_adaptive_loss_has_the_gradients_of_the_full_log_probabilities():
    model = _model(tie_weights=True, adaptive_cutoffs=[4, 15]).train()
    model.dropout.p = 0.0
    ids, targets = torch.randint(V, (3, 6)), torch.randint(V, (3, 6))
    model.loss(ids, targets)[0].backward()
    fast = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    logp, _ = model(ids)
    F.nll_loss(logp.reshape(-1, V), targets.reshape(-1)).backward()
    for a, b in zip(fast, (p.grad for p in model.parameters())):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_tied_adaptive_model_shares_the_embedding_storage():
    model = _model(tie_weights=True, adaptive_cutoffs=[10])
    assert model.head.weight is model.embedding.weight
    assert model.head.weight.data_ptr() == model.embedding.weight.data_ptr()
    names = [name for name, _ in model.named_parameters()]
    assert "head.weight" not in names and "adaptive.clusters.weight" in names


def test_dropout_acts_in_training_only():
    model = _model(dropout=0.5, adaptive_cutoffs=[10])
    ids = torch.randint(V, (2, 7))
    torch.testing.assert_close(model(ids)[0], model(ids)[0], atol=0, rtol=0)
    model.train()
    assert not torch.equal(model(ids)[0], model(ids)[0])


def test_adaptive_streaming_step_equals_forward_and_never_samples_banned_tokens():
    model = _model(adaptive_cutoffs=[5, 20])
    ids = torch.randint(V, (2, 6))
    full, _ = model(ids)
    _, state = model(ids[:, :-1])
    step, _ = model.step(ids[:, -1], model._split_state(state))
    torch.testing.assert_close(step, full[:, -1], atol=1e-5, rtol=1e-5)
    samples = model.generate([1, 2], 60, num_samples=4, seed=0, banned_ids=[0, 25, 39])
    assert not {0, 25, 39} & {t for row in samples for t in row}


@pytest.mark.parametrize("cutoffs", [[0], [5, 5], [20, 5], [2.5], [-3, 5]])
def test_bad_cutoffs_are_refused_in_one_line(cutoffs):
    with pytest.raises(ValueError) as error:
        LanguageModelConfig(vocab_size=V, adaptive_cutoffs=cutoffs)
    assert str(error.value) == (
        f"adaptive_cutoffs: expected increasing ints in [1, {V - 1}] (the vocabulary size is "
        f"{V}), got {cutoffs}"
    )


def test_cutoffs_past_the_vocabulary_are_dropped():
    assert LanguageModelConfig(vocab_size=V, adaptive_cutoffs=[5, V, 2 * V]).adaptive_cutoffs == [5]
    assert LanguageModel(LanguageModelConfig(vocab_size=V, adaptive_cutoffs=[V])).adaptive is None


def test_a_config_stored_before_adaptive_cutoffs_loads_as_the_full_softmax():
    stored = asdict(LanguageModelConfig(vocab_size=V))
    del stored["adaptive_cutoffs"]
    config = LanguageModelConfig.from_dict(stored)
    assert config.adaptive_cutoffs == [] and LanguageModel(config).adaptive is None


def test_adaptive_softmax_alone_normalises_each_row():
    layer = AdaptiveSoftmax(6, 30, [3, 12])
    torch.nn.init.normal_(layer.clusters.weight)
    weight, bias = torch.randn(30, 6), torch.randn(30)
    logp = layer.log_probs(torch.randn(5, 6), weight, bias)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(5))


def test_word_defaults_are_valid_lm_settings():
    from rnnkit.tasks.lm import LMConfig

    defaults = TOKENIZER_DEFAULTS["word"]
    assert set(defaults) <= {"model", "train", "data"} and defaults["model"]
    config = LMConfig.from_dict({**defaults, "data": {**defaults.get("data", {})}})
    for section, values in defaults.items():
        for key, value in values.items():
            assert getattr(getattr(config, section), key) == value, (section, key)


@pytest.mark.parametrize("format", ["torchscript", "onnx"])
def test_a_word_model_with_an_adaptive_softmax_trains_scores_and_exports(tmp_path, format):
    import rnnkit
    from rnnkit.export import export

    if format == "onnx":
        pytest.importorskip("onnxruntime")
    text = "the cat sat on the mat .\nthe dog sat on a log .\na cat saw the dog .\n" * 100
    (tmp_path / "train.txt").write_text(text, encoding="utf-8")
    run = rnnkit.train(
        "lm",
        {
            "data": {"train": str(tmp_path / "train.txt"), "tokenizer": "word"},
            "model": {"hidden_size": 16, "embedding_size": 16, "adaptive_cutoffs": [4, 8, 1000]},
            "train": {"max_steps": 3, "out_dir": None},
        },
        log=lambda message: None,
    )
    model = run.trained.model
    assert model.config.adaptive_cutoffs == [4, 8] and model.config.tie_weights
    perplexity = run.reports[0].rows["perplexity"]["model"]
    assert 1 < perplexity < 2 * model.config.vocab_size  # near uniform after 3 warmup steps
    exported = export(run.trained, format, tmp_path / f"model.{format}")  # checked against torch
    assert Path(exported.path).is_file()


def test_pretrained_vectors_set_the_tied_word_model_width(tmp_path):
    from rnnkit.tasks.run import resolve_config

    vectors = tmp_path / "vectors.txt"
    vectors.write_text(
        "the 0.1 0.2 0.3 0.4 0.5 0.6\ncat 0.6 0.5 0.4 0.3 0.2 0.1\n", encoding="utf-8"
    )
    data = {"train": "t.txt", "tokenizer": "word", "embeddings": str(vectors)}
    config, _ = resolve_config("lm", {"data": data})
    model = config.model
    assert (model.embedding_size, model.hidden_size, model.tie_weights) == (6, 6, True)
    config, _ = resolve_config("lm", {"data": data, "model": {"tie_weights": False}})
    assert (config.model.embedding_size, config.model.hidden_size) == (6, 200)
    for given in ({"hidden_size": 8}, {"freeze_embeddings": True}):  # untied, not refused
        config, _ = resolve_config("lm", {"data": data, "model": given})
        assert not config.model.tie_weights, given
    config, _ = resolve_config("lm", {"data": {**data, "embeddings": None}})
    assert (config.model.hidden_size, config.model.tie_weights) == (200, True)
