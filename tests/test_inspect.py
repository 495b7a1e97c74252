"""rnnkit inspect: the cells' gate values, the views of rnnkit.inspection checked against the models
computed directly, the page (parsed, self-contained, and run in a real browser), the gradient
figure, and the command's bad inputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
import torch
from cli_helpers import quiet, run
from torch import nn
from torch.nn import functional as F

import rnnkit.tasks
from rnnkit.data.text import load_corpus, split_text
from rnnkit.errors import RnnkitError
from rnnkit.inspection import find_recurrent, gradient_flow, project_pca, rank_units, text_features
from rnnkit.inspection.characters import FLAT
from rnnkit.inspection.figure import gradient_figure
from rnnkit.inspection.page import render, unpacked
from rnnkit.nn import LSTM, RNN, cells
from rnnkit.tasks import TASKS, View, load
from rnnkit.tasks.inspecting import gradient_flow as run_gradient_flow
from rnnkit.tasks.lm import TBPTTLoss
from rnnkit.training.rng import seed_everything

# -------------------------------------------------------------------------------- gate values


def _state(cell: cells.RNNCellBase, batch: int) -> tuple[torch.Tensor, ...]:
    return tuple(torch.randn(batch, size, dtype=torch.float64) for size in cell.state_sizes)


def _lstm_step(cell, xp, state, gates, norm_hh=lambda v: v, norm_c=lambda v: v):
    h, c = state
    g = torch.tanh((xp + norm_hh(h @ cell.weight_hh.t())).chunk(4, dim=1)[2])
    c_new = gates["f"] * c + gates["i"] * g
    return gates["o"] * torch.tanh(norm_c(c_new)), c_new


def _gru_step(cell, xp, state, gates, hp):
    (h,) = state
    n = torch.tanh(xp.chunk(3, dim=1)[2] + gates["r"] * hp.chunk(3, dim=1)[2])
    return (1 - gates["z"]) * n + gates["z"] * h


@pytest.mark.parametrize(
    "kind",
    [
        cells.LSTMCell,
        cells.LayerNormLSTMCell,
        cells.GRUCell,
        cells.LayerNormGRUCell,
        cells.MinGRUCell,
        cells.MinLSTMCell,
    ],
)
def test_gate_values_reproduce_the_step(kind):
    torch.manual_seed(0)
    cell = kind(3, 5, dtype=torch.float64)
    x = torch.randn(4, 3, dtype=torch.float64)
    state = _state(cell, 4)
    xp = cell.project_input(x)
    gates = cell.gate_values(xp, state)
    _, expected = cell.recurrence(xp, state)
    for value in gates.values():
        assert value.shape == (4, 5) and bool(((value >= 0) & (value <= 1)).all())
    if kind is cells.LSTMCell:
        assert sorted(gates) == ["f", "i", "o"]
        got = _lstm_step(cell, xp, state, gates)
    elif kind is cells.LayerNormLSTMCell:
        assert sorted(gates) == ["f", "i", "o"]
        got = _lstm_step(
            cell, xp, state, gates, lambda v: cell._norm("hh", v), lambda v: cell._norm("c", v)
        )
    elif kind is cells.GRUCell:
        assert sorted(gates) == ["r", "z"]
        hp = F.linear(state[0], cell.weight_hh, cell.bias_hh)
        got = (_gru_step(cell, xp, state, gates, hp),)
    elif kind is cells.LayerNormGRUCell:
        assert sorted(gates) == ["r", "z"]
        hp = cell._norm("hh", state[0] @ cell.weight_hh.t())
        got = (_gru_step(cell, xp, state, gates, hp),)
    elif kind is cells.MinGRUCell:
        assert sorted(gates) == ["z"]
        candidate = xp.chunk(2, dim=1)[1]
        got = ((1 - gates["z"]) * state[0] + gates["z"] * candidate,)
    else:
        assert sorted(gates) == ["f", "i"]
        k_f, k_i, candidate = xp.chunk(3, dim=1)
        i, f = torch.sigmoid(k_i), torch.sigmoid(k_f)
        torch.testing.assert_close(gates["i"], i / (i + f), rtol=1e-10, atol=1e-12)
        got = (gates["f"] * state[0] + gates["i"] * candidate,)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", [cells.RNNCell, cells.IndRNNCell])
def test_cells_without_gates_have_no_gate_values(kind):
    cell = kind(3, 5)
    assert cell.gate_values(cell.project_input(torch.randn(2, 3)), _state(cell, 2)) == {}


# -------------------------------------------------------------------------------- runs


def _train(name: str, folder: Path, **changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    settings = TASKS[name].example(folder).settings
    for section, values in changes.items():
        settings.setdefault(section, {}).update(values)
    settings["train"]["out_dir"] = str(folder / "run")
    rnnkit.tasks.train(name, settings, log=quiet)
    return folder / "run"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Short training runs, made when first asked for: ``runs[key] -> run directory``."""
    recipes = {
        "lstm": ("lm", {"model": {"cell": "lstm"}}),
        "gru": ("lm", {"model": {"cell": "gru", "num_layers": 2}}),
        "classify": ("classify", {}),
        "mean-sign": (
            "synthetic",
            {
                "data": {"task": "mean-sign", "n_val": 16, "n_test": 16},
                "model": {"cell": "rnn", "hidden_size": 8, "num_layers": 1},
            },
        ),
        "forecast": ("forecast", {}),
    }

    class Runs(dict):
        def __missing__(self, key):
            name, changes = recipes[key]
            self[key] = _train(name, tmp_path_factory.mktemp(key), **changes)
            return self[key]

    return Runs()


class _Page(HTMLParser):
    """The spans of characters and tokens, the embedded data, and every attribute value."""

    def __init__(self) -> None:
        super().__init__()
        self.chars: list[str] = []
        self.tokens: list[str] = []
        self.data = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and attrs.get("class") in ("ch", "tok"):
            self._in = attrs["class"]
            (self.chars if self._in == "ch" else self.tokens).append("")
        elif tag == "script" and attrs.get("id") == "rnnkit-data":
            assert attrs.get("type") == "application/json"
            self._in = "data"

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "ch":
            self.chars[-1] += data
        elif self._in == "tok":
            self.tokens[-1] += data
        elif self._in == "data":
            self.data += data


def _page(capsys, run_dir: Path, out: Path, *options) -> tuple[_Page, dict, str]:
    code, printed, err = run(capsys, "inspect", run_dir, "--out", out, "--device", "cpu", *options)
    assert code == 0, err
    assert printed == f"wrote {out}\n"
    text = out.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "xmlns" not in text
    assert "<link" not in text and " src=" not in text  # no file is fetched: all inline
    page = _Page()
    page.feed(text)
    page.close()
    return page, json.loads(page.data), text


# -------------------------------------------------------------------------------- language models


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_lm_page_holds_the_models_activations(cell, runs, tmp_path, capsys):
    text = 'x = f("a(b)", [1, 2])\nprint("the cat")\n' * 3
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    page, data, _ = _page(
        capsys, runs[cell], tmp_path / "p.html", "--text", tmp_path / "t.txt", "--unit", 3
    )
    view = data["characters"]
    assert page.chars == list(text) == view["chars"]  # one span per shown character
    trained = load(runs[cell], "cpu")
    model, vocab = trained.model, trained.state.vocab
    assert data["meta"]["cell"] == cell and view["unit"] == 3
    ids = torch.tensor([vocab.stoi.get(c, vocab.unk_id) for c in text])[None]
    with torch.no_grad():
        x = model.embedding(ids)
        output, _ = model.rnn(x)  # the plain layer (its native backend), no probe
        logits, _ = model(ids)
    h = unpacked(view["states"]["h"])
    assert h.shape == (len(text), model.config.hidden_size)
    torch.testing.assert_close(h, output[0], rtol=0, atol=1e-5)
    if cell == "lstm":
        for t in (0, 17, len(text) - 1):  # c_t: the final cell state of the first t + 1 characters
            with torch.no_grad():
                _, (_, c) = model.rnn(x[:, : t + 1])
            torch.testing.assert_close(
                unpacked(view["states"]["c"])[t], c[-1, 0], rtol=0, atol=1e-5
            )
        assert [g["gate"] for g in view["gates"]] == ["i", "f", "o"]
    else:
        assert "c" not in view["states"]
        assert [(g["layer"], g["gate"]) for g in view["gates"]] == [
            (0, "r"),
            (0, "z"),
            (1, "r"),
            (1, "z"),
        ]
    probs, top = torch.softmax(logits[0], -1).topk(5, dim=-1)
    assert [[c for c, _ in row] for row in view["top"]] == [
        [vocab.itos[i] for i in row] for row in top.tolist()
    ]
    torch.testing.assert_close(
        torch.tensor([[p for _, p in row] for row in view["top"]]), probs, rtol=0, atol=1e-5
    )
    _check_saturation(model, x, view["gates"])
    _check_ranks(text, h, view["ranks"]["h"])


def _check_saturation(model, x, gates):
    """The gates' saturation fractions, stepping the cells by hand."""
    layer_input = x[0]  # (T, E)
    expected = []
    with torch.no_grad():
        for cell in model.rnn.cells:
            state = cell.init_state(layer_input, 1)
            values, outputs = {}, []
            for t in range(layer_input.shape[0]):
                xp = cell.project_input(layer_input[t : t + 1])
                for name, value in cell.gate_values(xp, state).items():
                    values.setdefault(name, []).append(value[0])
                out, state = cell.recurrence(xp, state)
                outputs.append(out[0])
            for name, steps in values.items():
                stacked = torch.stack(steps)
                expected.append(
                    ((stacked < 0.1).double().mean(0), (stacked > 0.9).double().mean(0))
                )
            layer_input = torch.stack(outputs)
    assert len(gates) == len(expected)
    for got, (left, right) in zip(gates, expected):
        torch.testing.assert_close(torch.tensor(got["left"], dtype=torch.float64), left)
        torch.testing.assert_close(torch.tensor(got["right"], dtype=torch.float64), right)


def _check_ranks(text, h, ranks):
    features = text_features(text)
    assert sorted(r["unit"] for r in ranks) == list(range(h.shape[1]))
    flat = [r["variance"] < FLAT**2 for r in ranks]
    assert flat == sorted(flat)  # the flat units last
    for group in (False, True):
        rs = [abs(r["r"]) for r, f in zip(ranks, flat) if f == group]
        assert rs == sorted(rs, reverse=True)
    for r in ranks[:3]:
        pair = torch.stack([h[:, r["unit"]].double(), features[r["feature"]].double()])
        assert r["r"] == pytest.approx(float(torch.corrcoef(pair)[0, 1]), abs=1e-4)
        best = max(
            abs(
                float(
                    torch.nan_to_num(
                        torch.corrcoef(torch.stack([h[:, r["unit"]].double(), f]))[0, 1]
                    )
                )
            )
            for f in features.values()
        )
        assert abs(r["r"]) == pytest.approx(best, abs=1e-4)


def test_text_features_follow_quotes_brackets_and_lines():
    features = text_features('a"b(c)"\nd[')
    assert features["inside quotes"].tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert features["bracket depth"].tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 1]
    assert features["position in line"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]


def test_lm_default_text_is_the_validation_part(runs, tmp_path, capsys):
    trained = load(runs["lstm"], "cpu")
    d = trained.config.data
    expected = split_text(load_corpus(d.train).text, d.val_fraction)[1][:100]
    page, data, _ = _page(capsys, runs["lstm"], tmp_path / "p.html", "--chars", 100)
    assert page.chars == data["characters"]["chars"] == list(expected)
    assert data["characters"]["unit"] == data["characters"]["ranks"]["h"][0]["unit"]


# -------------------------------------------------------------------------------- gradient flow


def test_gradient_flow_at_the_last_step_is_the_gradient_of_the_last_output(runs):
    from rnnkit.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(runs["lstm"])
    trained = load(checkpoint, "cpu")
    flow = run_gradient_flow(trained, checkpoint["task_state"])
    for values in (flow["trained"], flow["init"]):
        assert len(values) == trained.config.data.seq_len
        assert bool(torch.isfinite(values).all()) and bool((values > 0).all())
    assert not torch.allclose(flow["trained"], flow["init"])
    # the same first batch, and dL/dh_{L-1} directly: h_{L-1} reaches the loss through the
    # last output only
    seed_everything(trained.config.train.seed)
    setup = TASKS["lm"].setup(trained.config, checkpoint["task_state"], quiet)
    batch = setup.batches.next_batch()
    outputs = []
    handle = trained.model.rnn.register_forward_hook(lambda m, a, out: outputs.append(out[0]))
    try:
        with torch.enable_grad():
            loss = TBPTTLoss()(trained.model, batch).loss
            (grad,) = torch.autograd.grad(loss, outputs[0])  # (N, L, H)
    finally:
        handle.remove()
    direct = grad[:, -1].double().norm(dim=-1).mean()
    assert float(flow["trained"][-1]) == pytest.approx(float(direct), rel=1e-5)


class _Last(nn.Module):
    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.rnn = layer

    def forward(self, x):
        return self.rnn(x)[0][:, -1]  # (N, H): the last output


def test_gradients_vanish_faster_in_a_tanh_rnn_than_in_an_lstm_at_initialisation():
    torch.manual_seed(0)
    x = torch.randn(16, 30, 4)
    decay = {}
    for name, layer in (
        ("rnn", RNN(4, 32, batch_first=True)),
        ("lstm", LSTM(4, 32, batch_first=True)),
    ):
        flow = gradient_flow(_Last(layer).eval(), lambda m, b: m(b).square().sum(), x)
        assert bool((flow > 0).all())
        decay[name] = float(flow[0] / flow[-1])  # what is left of the gradient 29 steps back
    assert decay["rnn"] < decay["lstm"] / 5


class _All(nn.Module):
    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.rnn = layer

    def forward(self, x):
        return self.rnn(x)[0]  # (N, L, H): every output


@pytest.mark.parametrize("batch_first", [True, False])
def test_gradient_flow_follows_the_last_steps_loss_back_through_the_recurrence(batch_first):
    """A loss with a term at every step is followed back from its last step only: the same flow
    as a loss of the last output alone; without last_step the direct terms show too."""
    torch.manual_seed(0)
    model = _All(RNN(3, 8, batch_first=batch_first)).eval()
    x = torch.randn(4, 12, 3) if batch_first else torch.randn(12, 4, 3)
    time = 1 if batch_first else 0

    def every_step(m, b):
        return m(b).square().sum()

    def last_only(m, b):
        return m(b).select(time, -1).square().sum()

    flow = gradient_flow(model, every_step, x)
    torch.testing.assert_close(flow, gradient_flow(model, last_only, x), rtol=1e-6, atol=0)
    assert float(flow[0] / flow[-1]) < 0.5  # a tanh RNN's gradient fades going back
    direct = gradient_flow(model, every_step, x, last_step=False)
    assert bool((direct[:-1] > flow[:-1]).all())  # each step's own loss term adds to it
    assert float(direct[-1]) == pytest.approx(float(flow[-1]), rel=1e-6)


def test_gradient_flow_needs_a_recurrent_model():
    with pytest.raises(RnnkitError, match="gradient flow needs a recurrent model"):
        gradient_flow(nn.Linear(2, 2), lambda m, b: m(b).sum(), torch.zeros(1, 2))
    assert find_recurrent(_Last(RNN(2, 3))).hidden_size == 3


def test_gradient_figure_has_a_log_scale_and_two_labelled_lines(runs, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    figure = gradient_figure(torch.tensor([1e-6, 1e-3, 1.0]), torch.tensor([0.0, 1e-4, 0.5]), "t")
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    assert [line.get_label() for line in axes.get_lines()] == ["trained", "at initialisation"]
    assert list(axes.get_lines()[1].get_xdata()) == [1, 2]  # a zero norm is left out
    out = tmp_path / "flow.png"
    code, printed, err = run(capsys, "inspect", runs["mean-sign"], "--gradients", "--out", out)
    assert code == 0, err
    assert printed == f"wrote {out}\n"
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# -------------------------------------------------------------------------------- classifier, paths


def test_classifier_page_shows_gradient_times_input(runs, tmp_path, capsys):
    (tmp_path / "t.txt").write_text("a great film\n\nawful , dull film\n", encoding="utf-8")
    page, data, _ = _page(
        capsys, runs["classify"], tmp_path / "p.html", "--text", tmp_path / "t.txt"
    )
    examples = data["tokens"]["examples"]
    assert [e["tokens"] for e in examples] == [
        ["a", "great", "film"],
        ["awful", ",", "dull", "film"],
    ]
    assert page.tokens == [t for e in examples for t in e["tokens"]]
    trained = load(runs["classify"], "cpu")
    model, tokenizer = trained.model.eval(), trained.state.tokenizer
    for example, line in zip(examples, ["a great film", "awful , dull film"]):
        captured: list[torch.Tensor] = []

        def keep(module, args, out, captured=captured):
            out.retain_grad()
            captured.append(out)

        handle = model.embedding.register_forward_hook(keep)
        try:
            logits = model(torch.tensor([tokenizer.encode(line)]))
        finally:
            handle.remove()
        predicted = int(logits[0].argmax())
        logits[0, predicted].backward()
        expected = (captured[0].grad * captured[0]).sum(-1)[0]
        assert example["predicted"] == data["tokens"]["labels"][predicted]
        torch.testing.assert_close(
            torch.tensor(example["contributions"]), expected.detach(), rtol=0, atol=1e-5
        )
        torch.testing.assert_close(
            torch.tensor(example["probabilities"]),
            torch.softmax(logits[0].detach(), -1),
            rtol=0,
            atol=1e-5,
        )


def test_mean_sign_page_draws_paths_of_both_classes(runs, tmp_path, capsys):
    _, data, _ = _page(capsys, runs["mean-sign"], tmp_path / "p.html")
    paths = data["paths"]["paths"]
    assert "characters" not in data and "tokens" not in data
    assert len(paths) == 24 and {p["label"] for p in paths} == {0, 1}
    assert all(len(p["points"]) == 20 and all(len(xy) == 2 for xy in p["points"]) for p in paths)
    ends = {
        label: torch.tensor([p["points"][-1] for p in paths if p["label"] == label])
        for label in (0, 1)
    }
    assert not torch.allclose(ends[0].mean(0), ends[1].mean(0))
    assert 0 < sum(data["paths"]["explained"]) <= 1 + 1e-6
    assert len(data["gradients"]["trained"]) == 20


def test_pca_recovers_a_plane():
    torch.manual_seed(0)
    plane = torch.randn(3, 7, 2, dtype=torch.float64) * torch.tensor(
        [3.0, 1.0], dtype=torch.float64
    )
    basis, _ = torch.linalg.qr(torch.randn(6, 2, dtype=torch.float64))  # a plane in 6-D
    paths, explained = project_pca(plane @ basis.T + 5.0)
    assert paths.shape == (3, 7, 2)
    assert float(explained.sum()) == pytest.approx(1.0)
    flat = plane.reshape(-1, 2)
    # distances within the plane are kept
    torch.testing.assert_close(
        torch.cdist(paths.reshape(-1, 2), paths.reshape(-1, 2)), torch.cdist(flat, flat)
    )


# -------------------------------------------------------------------------------- in a browser


def test_the_page_runs_in_a_real_browser(runs, tmp_path, capsys):
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip(
            "Debian's chromium is not installed (apt-get install chromium): no browser to run the page"
        )
    (tmp_path / "t.txt").write_text('say "hi" (now)\n', encoding="utf-8")
    out = tmp_path / "page.html"
    _page(capsys, runs["lstm"], out, "--text", tmp_path / "t.txt")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert 'data-ready="1"' in body, dom[:2000]  # the script ran to its end
    assert "data-errors" not in body, body  # window.onerror saw no error
    coloured = dom.count('class="ch" data-t=')
    assert coloured == len('say "hi" (now)\n')
    assert dom.count('style="background-color: rgba(') >= coloured
    assert "<svg" in dom and "<polyline" in dom  # the gradient chart was drawn


# -------------------------------------------------------------------------------- bad input


def _old_format(run_dir: Path, folder: Path) -> Path:
    checkpoint = torch.load(run_dir / "best.pt", weights_only=True)
    checkpoint["format_version"] = 1
    folder.mkdir()
    torch.save(checkpoint, folder / "last.pt")
    return folder


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no checkpoint", "no checkpoint (best.pt or last.pt) in directory"),
        ("old format", "has format version 1"),
        ("not utf-8", "--text file"),
        ("unit", "--unit: expected 0..15, got 16"),
        ("text for forecast", "--text: a forecast model has no view of a text"),
        ("unit for classify", "--unit: a classify model has no view of its units"),
        ("html for gradients", "--out: with --gradients, expected a .png or .svg file"),
        ("png for the page", "--out: expected an .html file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(case, expected, runs, tmp_path, capsys):
    out, lm = tmp_path / "out" / "page.html", runs["lstm"]
    out.parent.mkdir()
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe not utf-8 \x80")
    (tmp_path / "good.txt").write_text("hello\n", encoding="utf-8")
    argv = {
        "no checkpoint": [tmp_path / "out"],
        "old format": [_old_format(lm, tmp_path / "old")],
        "not utf-8": [lm, "--text", tmp_path / "bad.txt"],
        "unit": [lm, "--unit", 16],
        "text for forecast": [runs["forecast"], "--text", tmp_path / "good.txt"],
        "unit for classify": [runs["classify"], "--unit", 0],
        "html for gradients": [lm, "--gradients"],
        "png for the page": [lm],
    }[case]
    if case == "png for the page":
        out = out.with_suffix(".png")
    code, printed, err = run(capsys, "inspect", *argv, "--out", out, "--device", "cpu")
    assert code == 2, err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1
    assert expected in err
    assert printed == ""
    assert list(out.parent.iterdir()) == []  # nothing written, not even a temporary file


def test_flat_units_rank_last_whatever_they_correlate_with():
    text = "ab(c(d)e)f\n" * 4
    features = text_features(text)
    depth = features["bracket depth"].float()
    values = torch.stack(
        [
            0.5 * torch.rand(len(text), generator=torch.Generator().manual_seed(0)),  # noise
            1e-4 * depth,  # follows the depth exactly, but too flat to see
            0.3 * depth,
        ],  # follows it, visibly
        dim=1,
    )
    ranks = rank_units(values, features)
    assert [r["unit"] for r in ranks] == [2, 0, 1]
    assert ranks[2]["r"] == pytest.approx(1.0)


# -------------------------------------------------------------------------------- a run alone


@pytest.mark.parametrize("name", ["lm", "classify", "tag", "forecast"])
def test_a_finished_run_plots_and_inspects_without_its_training_data(
    name, tmp_path, capsys, monkeypatch
):
    """plot and inspect read only the run directory: the data it trained on is gone, and the
    task's set-up (which would read it) is never run again, gradient flow included."""
    pytest.importorskip("matplotlib")
    data = tmp_path / "data"
    run_dir = _train(name, data)
    moved = tmp_path / "run"
    shutil.move(str(run_dir), moved)
    shutil.rmtree(data)

    def no_setup(*args, **kwargs):
        raise AssertionError("the task's set-up ran again")

    monkeypatch.setattr(type(TASKS[name]), "setup", no_setup)
    code, out, err = run(capsys, "plot", str(moved), "--out", str(tmp_path / "x.png"))
    assert code == 0, err
    assert (tmp_path / "x.png").stat().st_size > 0
    if name != "lm":  # the views of the model on the stored validation sample or test period
        assert "view(s) of the model" in out
    code, out, err = run(capsys, "inspect", str(moved), "--out", str(tmp_path / "x.html"))
    assert code == 0, err
    assert (tmp_path / "x.html").stat().st_size > 0


# -------------------------------------------------------------------------------- series views
NAN = float("nan")
META = {"run": "runs/m4", "task": "forecast", "cell": "lstm", "parameters": 10}


def _forecast_view(title: str = "series H1") -> View:
    """Steps 0-2 of history, a 3-step forecast with its 80% and 50% intervals, and a band that
    names no line."""
    gap = [NAN] * 3
    return View(
        "series",
        title,
        [0, 1, 2, 3, 4, 5],
        {"history": [1.0, 2.0, 3.0, *gap], "actual": gap + [11.0] * 3, "model": gap + [10, 11, 12]},
        bands={
            "model 80%": (gap + [6, 7, 8], gap + [14, 15, 16]),
            "model 50%": (gap + [9, 10, 11], gap + [12, 13, 14]),
            "spread": ([0.0] * 6, [0.5] * 6),
        },
        xlabel="step",
    )


def _polygons(html: str) -> dict[str, list[tuple[float, float]]]:
    """Each band polygon's fill and opacity -> its points."""
    found = re.findall(
        r'<polygon class="band" fill="(#[0-9a-f]{6})" fill-opacity="([0-9.]+)" stroke="none" '
        r'points="([^"]*)"/>',
        html,
    )
    return {
        (fill, float(alpha)): [tuple(map(float, p.split(","))) for p in points.split()]
        for fill, alpha, points in found
    }


def test_a_series_view_is_drawn_on_the_page_with_its_bands_as_polygons():
    bars = View("bars", "per tag F1", ["a"], {"model": [0.5]})
    html = render({"meta": META, "views": [_forecast_view(), bars]})
    # the plot area: x from 56 to 750 px, y from 12 (top) to 260 px; data: x 0..5, y 0..16
    # (every line, band and level) padded by 5% of its range
    low, high = 0 - 0.05 * 16, 16 + 0.05 * 16

    def at(x, y):
        return (round(56 + x / 5 * 694, 1), round(12 + (high - y) / (high - low) * 248, 1))

    eighty = [at(3, 14), at(4, 15), at(5, 16), at(5, 8), at(4, 7), at(3, 6)]
    fifty = [at(3, 12), at(4, 13), at(5, 14), at(5, 11), at(4, 10), at(3, 9)]
    spread = [at(x, 0.5) for x in range(6)] + [at(x, 0.0) for x in reversed(range(6))]
    # the model's bands in the model's colour (C2), the wider one lighter; "spread" the next
    # colour after the three lines (C3)
    assert _polygons(html) == {
        ("#2ca02c", 0.15): eighty,
        ("#2ca02c", 0.3): fifty,
        ("#d62728", 0.25): spread,
    }
    model = re.search(r'<polyline fill="none" stroke="#2ca02c" [^>]*points="([^"]*)"', html)
    assert model.group(1) == " ".join(f"{x},{y}" for x, y in (at(3, 10), at(4, 11), at(5, 12)))
    history = re.findall(r'<polyline fill="none" stroke="#1f77b4" [^>]*points="([^"]*)"', html)
    assert [len(p.split()) for p in history] == [3]  # broken where its values are nan
    # the legend: lines, then a key in each band's colour and opacity, labelled
    keys = re.findall(r'<rect class="band-key"[^>]* fill="(#\w+)" fill-opacity="([0-9.]+)"/>', html)
    assert keys == [("#2ca02c", "0.15"), ("#2ca02c", "0.3"), ("#d62728", "0.25")]
    for label in ("history", "actual", "model", "model 80%", "model 50%", "spread"):
        assert f'text-anchor="start">{label}</text>' in html
    assert html.count('<div class="chart view">') == 1  # the bars view is left out
    (chart,) = re.findall(r'<div class="chart view">.*?</svg>', html)
    svg = ElementTree.fromstring(chart + "</div>")  # well-formed markup
    assert len(svg.findall(".//polygon")) == 3 and svg.find("svg").get("viewBox") == "0 0 940 300"
    assert '<div class="title">series H1</div>' in html
    assert "http://" not in html and "https://" not in html and "<script src" not in html


def test_a_page_without_views_is_as_before():
    plain = render({"meta": META})
    assert render({"meta": META, "views": []}) == plain
    assert 'id="views"' not in plain and "<polygon" not in plain


@pytest.fixture
def forecast_views(monkeypatch):
    """The forecast task's inspect page holds two series views (as the many-series task's)."""

    def inspect(self, trained, text=None, *, chars=2000):
        return {"views": [_forecast_view("series H1"), _forecast_view("series H7")]}

    monkeypatch.setattr(type(TASKS["forecast"]), "inspect", inspect, raising=False)


def test_inspect_draws_the_tasks_series_views(runs, tmp_path, capsys, forecast_views):
    _, _, html = _page(capsys, runs["forecast"], tmp_path / "f.html")
    assert html.count('<div class="chart view">') == 2 and html.count('<polygon class="band"') == 6
    assert '<div class="title">series H7</div>' in html and 'id="gradients"' in html


def test_a_page_with_views_runs_in_a_real_browser(runs, tmp_path, capsys, forecast_views):
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    out = tmp_path / "f.html"
    _page(capsys, runs["forecast"], out)
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert 'data-ready="1"' in body and "data-errors" not in body, body
    assert dom.count('<polygon class="band"') == 6
