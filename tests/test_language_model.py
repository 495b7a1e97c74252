import json
import time
from dataclasses import asdict

import pytest
import torch

import rnnkit
from rnnkit.config import ConfigError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.lm import SampleConfig
from rnnkit.training.checkpoint import load_checkpoint


def _model(cell="lstm", layers=1, seed=0, **kw):
    torch.manual_seed(seed)
    config = LanguageModelConfig(
        vocab_size=11, cell=cell, embedding_size=8, hidden_size=16, num_layers=layers, **kw
    )
    return LanguageModel(config).eval()


def test_forward_shapes_and_state():
    model = _model()
    logits, (h, c) = model(torch.randint(11, (3, 7)))
    assert logits.shape == (3, 7, 11) and h.shape == c.shape == (1, 3, 16)


def test_config_validation_and_weight_tying():
    with pytest.raises(ValueError, match="tie_weights"):
        LanguageModelConfig(vocab_size=5, embedding_size=8, hidden_size=16, tie_weights=True)
    with pytest.raises(ValueError, match="cell"):
        LanguageModelConfig(vocab_size=5, cell="transformer")
    tied = LanguageModel(
        LanguageModelConfig(vocab_size=5, embedding_size=16, hidden_size=16, tie_weights=True)
    )
    assert tied.head.weight is tied.embedding.weight


def test_config_from_dict_refuses_an_unknown_key():
    # it used to drop unknown keys silently, so a misspelt setting took its default unnoticed
    data = asdict(LanguageModelConfig(vocab_size=5, cell="gru"))
    assert LanguageModelConfig.from_dict(data) == LanguageModelConfig(**data)
    with pytest.raises(
        ConfigError, match="hiden_size: unknown key; accepted: vocab_size, "
    ) as info:
        LanguageModelConfig.from_dict({**data, "hiden_size": 32})
    assert info.value.key == "hiden_size"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_streaming_step_equals_full_forward(cell):
    model = _model(cell, layers=2)
    ids = torch.randint(11, (2, 9))
    full, _ = model(ids)
    logits, state = model(ids[:, :1])
    states = model._split_state(state)
    stepped = [logits[:, -1]]
    for t in range(1, 9):
        out, states = model.step(ids[:, t], states)
        stepped.append(out)
    torch.testing.assert_close(torch.stack(stepped, 1), full, rtol=1e-5, atol=1e-5)


def test_greedy_streaming_equals_refeeding_the_prefix_and_reads_prompt_once():
    model = _model("gru", layers=2)
    calls = []
    model.rnn.register_forward_hook(lambda *args: calls.append(1))
    out = model.generate([1, 2, 3], 15, greedy=True)[0]
    assert len(calls) == 1  # the prompt, once; every new token is one cell step
    ids = [1, 2, 3]
    with torch.no_grad():
        for _ in range(15):
            logits, _ = model(torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
    assert out == ids[3:]


def test_generation_is_reproducible_with_a_seed():
    model = _model()
    threads = torch.get_num_threads()
    a = model.generate([1], 50, seed=7, num_samples=3)
    assert a == model.generate([1], 50, seed=7, num_samples=3)
    assert a != model.generate([1], 50, seed=8, num_samples=3)
    assert len(a) == 3 and all(len(s) == 50 for s in a)
    assert len({tuple(s) for s in a}) > 1  # the samples differ from each other
    assert torch.get_num_threads() == threads  # generation runs on one thread, then restores


def test_top_k_one_and_tiny_top_p_are_greedy_and_banned_ids_never_appear():
    model = _model()
    greedy = model.generate([4], 30, greedy=True, banned_ids=[0])
    assert model.generate([4], 30, top_k=1, seed=1, banned_ids=[0]) == greedy
    assert model.generate([4], 30, top_p=1e-6, seed=2, banned_ids=[0]) == greedy
    sampled = model.generate([4], 300, temperature=3.0, seed=3, banned_ids=[0, 5])[0]
    assert 0 not in sampled and 5 not in sampled


def test_stop_sequence_truncates_each_sample():
    model = _model()
    free = model.generate([2], 40, seed=5)[0]
    stop = free[10:12]
    first = next(i for i in range(len(free) - 1) if free[i : i + 2] == stop)
    assert model.generate([2], 40, seed=5, stop=stop)[0] == free[:first]


def test_generate_validates_options():
    model = _model()
    for kwargs in ({"temperature": 0.0}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}):
        with pytest.raises(ValueError):
            model.generate([1], 5, **kwargs)
    with pytest.raises(ValueError, match="length"):
        model.generate([1], -1)
    with pytest.raises(ValueError, match="prompt"):
        model.generate([], 5)
    assert model.generate([1], 0) == [[]]


def _train(tmp_path, text, steps, run="run", resume=None, callbacks=(), **model):
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    settings = {
        "data": {"text": str(path), "seq_len": 16},
        "model": {"hidden_size": 64, "embedding_size": 16, **model},
        "train": {
            "max_steps": steps,
            "batch_size": 4,
            "lr": 1e-2,
            "warmup_steps": 5,
            "eval_every": steps,
            "save_every": steps,
            "out_dir": str(tmp_path / run),
            "device": "cpu",
            "progress": False,
            "seed": 0,
        },
    }
    if resume is not None:
        return rnnkit.train("lm", None, resume=resume, log=lambda message: None)
    return rnnkit.train("lm", settings, log=lambda message: None, callbacks=callbacks)


def _step_losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "event" not in r}


def test_resumed_lm_run_equals_uninterrupted_run(tmp_path):
    """Stateful TBPTT: the carried hidden state, data position, RNG (dropout) and optimizer resume."""
    text = "\n".join(["hello how are you", "i am fine", "how are you doing"] * 40)
    _train(tmp_path, text, steps=24, run="full", cell="gru", num_layers=2, dropout=0.2)

    def stop_at_11(trainer, event, info):
        if event == "step" and info["step"] == 11:
            trainer.request_stop()

    with pytest.raises(KeyboardInterrupt):
        _train(
            tmp_path,
            text,
            steps=24,
            run="part",
            callbacks=[stop_at_11],
            cell="gru",
            num_layers=2,
            dropout=0.2,
        )
    checkpoint = load_checkpoint(tmp_path / "part" / "last.pt")
    assert (
        checkpoint["train"]["step"] == 11 and checkpoint["train"]["loss_state"]["state"] is not None
    )
    torch.manual_seed(999)
    _train(tmp_path, text, steps=24, run="part", resume=checkpoint)
    full, part = _step_losses(tmp_path / "full"), _step_losses(tmp_path / "part")
    assert sorted(full) == sorted(part) == list(range(1, 25))
    assert max(abs(full[s] - part[s]) for s in full) <= 1e-6


def test_loss_on_repetitive_text_falls_fast(tmp_path):
    start = time.perf_counter()
    outcome = _train(tmp_path, "the cat sat on the mat. " * 200, steps=120)
    assert time.perf_counter() - start < 60
    # from ln(V) = 2.4 nats; validation streams start from a zero state, so a little above train
    assert outcome.train.train_loss < 0.2, outcome.train.train_loss
    val_loss = outcome.reports[0].rows["loss (nats/char)"]["model"]
    assert val_loss < 0.3, val_loss


def test_greedy_completion_of_the_tutorial_sentences(tmp_path):
    sentences = ["hello how are you", "i am fine", "how are you doing"]
    _train(tmp_path, "\n".join(sentences * 60) + "\n", steps=250)
    run = rnnkit.load(tmp_path / "run")
    hello = rnnkit.sample(run, SampleConfig(prompt="hello", length=12, greedy=True))[0]
    assert hello.startswith("hello how are you"), hello
    how = rnnkit.sample(run, SampleConfig(prompt="how are", length=4, greedy=True))[0]
    assert how == "how are you", how
