"""rnnkit export: every task's model as ONNX (run by onnxruntime) and TorchScript (torch.jit.load)
equals PyTorch's outputs at other batch sizes and sequence lengths; the language model's step
generates, with onnxruntime and numpy alone, the characters rnnkit's greedy sampler writes; the
program of docs/export.md runs; the layers trace and export as torch.nn's do; bad input is one
line."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import assert_one_line_error, quiet, run

import rnnkit
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.export import FORMATS, export
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.nn import CELLS
from rnnkit.tasks import TASKS, SampleConfig, TrainedModel, get_task, sample, train
from rnnkit.tasks.lm import LMState

ort = pytest.importorskip("onnxruntime")

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    # torch 2.13 marks TorchScript deprecated; loading the files is what these tests check
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The tensor attributes self._flat_weights:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4
SHAPES = ((2, 6), (5, 3))  # (batch, length) pairs other than the traced (2, 5)
SYNTHETIC = ("sentence", "mean-sign", "adding", "copy")  # besides the example's sine


def _train(folder: Path, name: str, settings: dict) -> rnnkit.tasks.RunResult:
    settings = copy.deepcopy(settings)
    settings["train"].update(max_steps=2, eval_every=2, save_every=2, out_dir=str(folder / "run"))
    return train(name, settings, log=quiet)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A two-step run per task (from its example), of a tagger with a CRF and of each other
    synthetic task, made when first asked for: ``runs[key] -> RunResult``, key a task name,
    ``tag-crf`` or ``synthetic-<task>``."""

    class Runs(dict):
        def __missing__(self, key):
            folder = tmp_path_factory.mktemp(key)
            name, _, variant = key.partition("-")
            settings = TASKS[name].example(folder).settings
            if variant == "crf":
                settings["model"]["use_crf"] = True
            elif variant:
                settings = {
                    "data": {"task": variant, "n_val": 16, "n_test": 16, "seq_len": 8},
                    "model": {"hidden_size": 8},
                    "train": {"batch_size": 8},
                }
            self[key] = _train(folder, name, settings)
            return self[key]

    return Runs()


def _load_and_run(path: Path, format: str, names: list[str], inputs: tuple) -> list[np.ndarray]:
    """The file's outputs, read by onnxruntime or torch.jit.load (not by rnnkit)."""
    if format == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        outputs = loaded(*inputs)
    return [o.numpy() for o in (outputs if isinstance(outputs, tuple) else (outputs,))]


def _max_difference(trained: TrainedModel, path: Path, format: str) -> float:
    spec = get_task(trained.task).export_spec(trained)
    worst = 0.0
    for batch, length in SHAPES:
        inputs = spec.make_inputs(batch, spec.length or length)
        with torch.no_grad():
            expected = spec.module(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = _load_and_run(path, format, spec.input_names, inputs)
        assert len(got) == len(expected) == len(spec.output_names)
        for e, g in zip(expected, got):
            assert g.shape == tuple(e.shape)
            worst = max(worst, float(np.abs(g - e.numpy()).max()))
    return worst


KEYS = [*TASKS, "tag-crf", *(f"synthetic-{t}" for t in SYNTHETIC)]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("key", KEYS)
def test_every_task_exports_equal_to_pytorch(key, format, runs, tmp_path):
    trained = runs[key].trained
    path = tmp_path / f"model.{format}"
    done = export(trained, format, path)
    assert done.path == path and path.stat().st_size == done.size > 0
    assert done.max_difference <= TOLERANCE
    assert _max_difference(trained, path, format) <= TOLERANCE


def test_a_crf_tagger_carries_its_transition_scores(runs, tmp_path):
    trained = runs["tag-crf"].trained
    done = export(trained, "onnx", tmp_path / "tag.onnx")
    assert "Viterbi" in done.note
    session = ort.InferenceSession(str(tmp_path / "tag.onnx"), providers=["CPUExecutionProvider"])
    crf = json.loads(session.get_modelmeta().custom_metadata_map["crf"])
    torch.testing.assert_close(torch.tensor(crf["transitions"]), trained.model.crf.transitions.data)
    assert len(crf["start"]) == len(crf["end"]) == trained.model.config.num_tags


@pytest.mark.parametrize("cell", list(CELLS))
def test_the_language_model_step_exports_for_every_cell(cell, tmp_path):
    """The step of a language model needs no loop, so every cell exports; a cell with a native
    kernel takes any length L, the others one step at a time."""
    torch.manual_seed(0)
    vocab = Vocabulary.build("abcdefgh \n")
    model = LanguageModel(
        LanguageModelConfig(len(vocab), cell=cell, embedding_size=8, hidden_size=8, num_layers=2)
    ).eval()
    trained = TrainedModel("lm", model, None, LMState(vocab, torch.zeros(1), "letters"))
    path = tmp_path / "lm.onnx"
    done = export(trained, "onnx", path)
    assert done.inputs[0] == (
        "ids int64 (N, L)" if cell in ("rnn", "lstm", "gru") else "ids int64 (N, 1)"
    )
    assert _max_difference(trained, path, "onnx") <= TOLERANCE


def _generate_with_onnxruntime(path: Path, prompt: str, length: int) -> str:
    """Greedy generation from the file alone: onnxruntime, numpy and the metadata's vocabulary."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    itos, banned = json.loads(meta["vocab"]), json.loads(meta["banned_ids"])
    state = {
        i.name: np.zeros([1 if d == "N" else d for d in i.shape], np.float32)
        for i in session.get_inputs()[1:]
    }
    text, pending = prompt, [itos.index(ch) for ch in prompt]
    for _ in range(length):
        for token in pending:
            logits, *new = session.run(None, {"ids": np.array([[token]]), **state})
            state = dict(zip(state, new))
        logits = logits[0, -1]
        logits[banned] = -np.inf
        pending = [int(logits.argmax())]
        text += itos[pending[0]]
    return text


@pytest.mark.parametrize("key", ["lm", "synthetic-sentence"])
def test_onnxruntime_generates_what_rnnkit_generates(key, runs, tmp_path):
    trained = runs[key].trained
    path = tmp_path / "lm.onnx"
    export(trained, "onnx", path)
    vocab = get_task(trained.task).language_model(trained)[1]
    prompt = "".join(ch for ch in "the " if ch in vocab.stoi) or vocab.itos[-1]
    ours = sample(trained, SampleConfig(prompt=prompt, length=50, greedy=True))[0]
    assert _generate_with_onnxruntime(path, prompt, 50) == ours
    assert len(ours) == len(prompt) + 50 and prompt


def _docs_program() -> str:
    """The program of docs/export.md: its Python block that imports onnxruntime."""
    text = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    found = [b for b in blocks if "import onnxruntime" in b]
    assert len(found) == 1, "docs/export.md should hold one onnxruntime program"
    return found[0]


def test_the_program_of_the_docs_generates_rnnkits_text(runs, tmp_path):
    program = _docs_program()
    assert len(program.strip().splitlines()) <= 25
    assert "rnnkit" not in program and "torch" not in program  # onnxruntime and numpy only
    imported = set(re.findall(r"^(?:import|from) (\w+)", program, re.MULTILINE))
    assert imported <= {"json", "sys", "numpy", "onnxruntime"}, imported
    trained = runs["lm"].trained
    export(trained, "onnx", tmp_path / "lm.onnx")
    (tmp_path / "generate.py").write_text(program, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "generate.py"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    prompt = re.search(r'^text = "(.*)"', program, re.MULTILINE).group(1)
    ours = sample(trained, SampleConfig(prompt=prompt, length=50, greedy=True))[0]
    assert done.stdout == ours + "\n"


# --------------------------------------------------------------------------- the command
def test_the_command_writes_the_file_and_says_what_it_holds(runs, tmp_path, capsys):
    out = tmp_path / "lm.pt"
    code, stdout, err = run(
        capsys, "export", runs["lm"].trained.path, "--format", "torchscript", "--out", out
    )
    assert code == 0, err
    assert out.is_file()
    assert f"wrote {out} (torchscript" in stdout
    assert "inputs:  ids int64 (N, L); h float32 (1, N, 16); c float32 (1, N, 16)" in stdout
    assert "outputs: logits float32 (N, L, " in stdout
    extra = {"rnnkit.json": ""}
    torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["rnnkit.json"])["vocab"]  # the vocabulary travels inside the file


def test_a_model_that_cannot_be_exported_is_one_line_and_no_file(runs, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    settings = TASKS["classify"].example(folder).settings
    settings["model"]["cell"] = "lnlstm"
    run_ = _train(tmp_path, "classify", settings)
    out = tmp_path / "out" / "model.onnx"
    out.parent.mkdir()
    code, _, err = run(capsys, "export", run_.trained.path, "--format", "onnx", "--out", out)
    assert code == 2 and err.count("\n") == 1, err
    assert "cannot export this classify model" in err
    assert "cell 'lnlstm': LayerNormLSTMCell has no fused PyTorch kernel" in err
    assert "fixed number of steps" in err
    assert list(out.parent.iterdir()) == []  # no file, no temporary file left


def test_zoneout_is_refused_by_name(runs):
    trained = copy.deepcopy(runs["classify"].trained)
    trained.model.rnn.zoneout = 0.1
    with pytest.raises(RnnkitError, match=r"zoneout=0.1 acts at every step in evaluation"):
        export(trained, "onnx", "never-written.onnx")
    assert not Path("never-written.onnx").exists()


def test_an_unknown_format_is_one_line(runs, tmp_path, capsys):
    code, _, err = run(
        capsys,
        "export",
        runs["forecast"].trained.path,
        "--format",
        "tflite",
        "--out",
        tmp_path / "m",
    )
    assert code == 2 and err.count("\n") == 1 and "invalid choice: 'tflite'" in err
    with pytest.raises(RnnkitError, match="format: expected one of onnx, torchscript"):
        export(runs["forecast"].trained, "tflite", tmp_path / "m")


def test_onnx_without_the_extra_is_one_line(runs, tmp_path, capsys, monkeypatch):
    import rnnkit.extras

    real = rnnkit.extras.importlib.import_module

    def missing(name, *args):
        if name in ("onnx", "onnxruntime"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(rnnkit.extras.importlib, "import_module", missing)
    out = tmp_path / "m.onnx"
    code, _, err = run(
        capsys, "export", runs["forecast"].trained.path, "--format", "onnx", "--out", out
    )
    assert_one_line_error(
        code,
        err,
        "rnnkit export --format onnx needs onnx and onnxruntime, which are not installed: "
        "pip install \"rnnkit[onnx]\" (No module named 'onnx')",
    )
    assert not out.exists()


# --------------------------------------------------------------------------- the layers
LAYERS = [(rnnkit.RNN, torch.nn.RNN), (rnnkit.LSTM, torch.nn.LSTM), (rnnkit.GRU, torch.nn.GRU)]


@pytest.mark.parametrize("ours, theirs", LAYERS, ids=lambda c: c.__name__)
def test_the_layers_trace_like_torch_nn(ours, theirs):
    torch.manual_seed(0)
    layer = ours(4, 8, num_layers=2, bidirectional=True, batch_first=True).eval()
    reference = layer.to_torch().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(layer, (torch.randn(2, 5, 4),), check_trace=False)
    x = torch.randn(3, 9, 4)  # another batch size and length
    with torch.no_grad():
        got, expected = traced(x), reference(x)
    torch.testing.assert_close(got[0], expected[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(got[1], expected[1], atol=1e-5, rtol=0)


def _exports(layer, dynamic_length: bool):
    from torch.export import Dim

    axes = {0: Dim("N"), 1: Dim("L")} if dynamic_length else {0: Dim("N")}
    try:
        return torch.export.export(layer, (torch.randn(2, 5, 4),), dynamic_shapes=(axes,))
    except Exception:  # noqa: BLE001 - torch.export raises several kinds for a specialised shape
        return None


@pytest.mark.parametrize("ours, theirs", LAYERS, ids=lambda c: c.__name__)
def test_torch_export_handles_the_layers_as_torch_nns(ours, theirs):
    """Dynamic batch: exported and equal. Dynamic length: as torch.nn's layer (in torch 2.13 the
    recurrent operator decomposes into a loop over a fixed length, for both)."""
    torch.manual_seed(0)
    layer = ours(4, 8, batch_first=True).eval()
    reference = layer.to_torch().eval()
    exported = _exports(layer, dynamic_length=False)
    assert exported is not None
    x = torch.randn(7, 5, 4)
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x)[0], reference(x)[0], atol=1e-5, rtol=0)
    assert (_exports(layer, True) is None) == (_exports(reference, True) is None)


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.MinGRU])
def test_scripting_a_layer_says_what_works_instead(cls):
    with pytest.raises(RuntimeError, match="use torch.jit.trace or torch.export.export"):
        torch.jit.script(cls(4, 8))


def test_the_export_spec_is_part_of_every_task():
    for name in ("lm", "classify", "tag", "forecast", "synthetic"):
        assert isinstance(TASKS[name], rnnkit.tasks.Exportable), name
    assert dataclasses.is_dataclass(rnnkit.tasks.ExportSpec)


def _ids_from_metadata(meta: dict[str, str], text: str) -> list[int]:
    """A text -> the file's input ids, with the standard library and the metadata alone."""
    rules = {key: json.loads(meta[key]) for key in ("lower", "split", "vocab", "unk_id")}
    if rules["lower"]:
        text = text.lower()
    split = rules["split"]
    tokens = re.findall(split["findall"], text) if split["kind"] == "word" else list(text)
    index = {token: i for i, token in enumerate(rules["vocab"])}
    ids = [index.get(token, rules["unk_id"]) for token in tokens]
    return ids[: json.loads(meta["max_length"])] or [rules["unk_id"]]


def test_a_word_classifier_file_carries_its_tokenizer_rules(runs, tmp_path):
    """A program reads the texts with the file's metadata alone (lower-casing, the split rule,
    the vocabulary, the unknown id, the length cut) and gets rnnkit's predictions."""
    trained = runs["classify"].trained
    assert trained.state.tokenizer.kind == "word"
    export(trained, "onnx", tmp_path / "c.onnx")
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["pad_id"]) == trained.state.tokenizer.pad_id
    texts = ["A GREAT film, isn't it?", "awful ... zebra-crossing"]
    for text in texts:
        ids = _ids_from_metadata(meta, text)
        assert ids == trained.state.tokenizer.encode(text, trained.config.data.max_length)
        (logits,) = session.run(None, {"tokens": np.array([ids]), "lengths": np.array([len(ids)])})
        expected = rnnkit.predict(trained, [text])[0]["probabilities"]
        probs = np.exp(logits[0]) / np.exp(logits[0]).sum()
        assert [round(float(p), 6) for p in probs] == pytest.approx(
            list(expected.values()), abs=1e-5
        )


def test_a_tagger_file_carries_its_tokenizer_rules(runs, tmp_path):
    trained = runs["tag"].trained
    export(trained, "onnx", tmp_path / "t.onnx")
    session = ort.InferenceSession(str(tmp_path / "t.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["split"])["kind"] == "word"
    assert json.loads(meta["vocab"]) == list(trained.state.words.itos)
    assert (json.loads(meta["pad_id"]), json.loads(meta["unk_id"])) == (0, 1)
    assert json.loads(meta["lower"]) == trained.state.lower


@pytest.mark.parametrize("name", ["classify", "tag"])
def test_export_prints_no_packed_sequence_warnings(name, runs, tmp_path, capfd):
    trained = runs[name].trained
    capfd.readouterr()
    export(trained, "onnx", tmp_path / "m.onnx")
    err = capfd.readouterr().err
    assert "PackPadded" not in err and "PadPacked" not in err, err
