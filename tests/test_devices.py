"""Devices: ``resolve_device`` on machines with and without GPUs and MPS (torch's probes replaced),
``TrainConfig.device``, and ``--device`` on every command that runs a model."""

from __future__ import annotations

import argparse

import pytest
import torch
from cli_helpers import assert_one_line_error, run

from rnnkit.cli.main import build_parser
from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError
from rnnkit.training.devices import DEVICE_HELP, resolve_device
from rnnkit.training.settings import TrainConfig

FORMS = "expected auto, cpu, cuda, cuda:N (N a GPU's index) or mps"
COMMANDS = ("train", "evaluate", "predict", "sample", "demo", "inspect", "plot")


@pytest.fixture
def machine(monkeypatch):
    """``machine(gpus=0, mps=False)`` makes torch see that many CUDA GPUs and MPS or not."""

    def make(gpus: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return make


@pytest.mark.parametrize(
    ("gpus", "mps", "expected"),
    [(2, True, "cuda"), (1, False, "cuda"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_takes_cuda_then_mps_then_cpu(machine, gpus, mps, expected):
    machine(gpus=gpus, mps=mps)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device() == torch.device(expected)


def test_present_devices_resolve(machine):
    machine(gpus=2, mps=True)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(" CUDA:0 ") == torch.device("cuda", 0)
    assert resolve_device("mps") == torch.device("mps")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    machine(gpus=0, mps=False)
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize(
    ("asked", "gpus", "mps", "message"),
    [
        (
            "cuda",
            0,
            False,
            "device 'cuda' was asked for, but this machine has no CUDA GPU (devices here: cpu)",
        ),
        (
            "cuda:0",
            0,
            True,
            (
                "device 'cuda:0' was asked for, but this machine has no CUDA GPU "
                "(devices here: cpu, mps)"
            ),
        ),
        (
            "cuda:7",
            1,
            False,
            "device 'cuda:7' was asked for, but this machine has 1 CUDA GPU (cuda:0)",
        ),
        (
            "cuda:2",
            2,
            False,
            "device 'cuda:2' was asked for, but this machine has 2 CUDA GPUs (cuda:0, cuda:1)",
        ),
        (
            "cuda:8",
            8,
            False,
            "device 'cuda:8' was asked for, but this machine has 8 CUDA GPUs (cuda:0 to cuda:7)",
        ),
        (
            "mps",
            0,
            False,
            (
                "device 'mps' was asked for, but this machine has no Apple MPS device "
                "(devices here: cpu)"
            ),
        ),
        (
            "mps",
            2,
            False,
            (
                "device 'mps' was asked for, but this machine has no Apple MPS device "
                "(devices here: cpu, cuda:0, cuda:1)"
            ),
        ),
        (
            torch.device("cuda", 3),
            1,
            False,
            "device 'cuda:3' was asked for, but this machine has 1 CUDA GPU (cuda:0)",
        ),
    ],
)
def test_an_absent_device_names_what_was_asked_and_what_is_here(machine, asked, gpus, mps, message):
    machine(gpus=gpus, mps=mps)
    with pytest.raises(RnnkitError) as caught:
        resolve_device(asked)
    assert str(caught.value) == message
    assert not isinstance(caught.value, ConfigError)  # the name was fine: the machine lacks it


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:", "cuda:x", "cuda:-1", "cuda1", "", "cpu:0"])
def test_an_unknown_device_name_lists_the_forms(machine, name):
    machine(gpus=1, mps=True)
    with pytest.raises(ConfigError) as caught:
        resolve_device(name)
    assert str(caught.value) == f"device: {FORMS}, got {name!r}"
    with pytest.raises(ConfigError) as caught:
        TrainConfig(device=name)
    assert str(caught.value) == f"device: {FORMS}, got {name!r}"


def test_train_config_takes_any_device_form_without_asking_the_machine(machine):
    machine(gpus=0, mps=False)  # a checkpoint trained on cuda:1 still loads its config here
    assert TrainConfig(device="cuda:1").device == "cuda:1"
    assert TrainConfig(device=" MPS").device == "mps"
    assert TrainConfig.from_dict({"device": "cuda"}).device == "cuda"


def _command_parsers() -> dict[str, argparse.ArgumentParser]:
    parser, _ = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = dict(commands.choices)
    tasks = next(a for a in found["train"]._actions if isinstance(a, argparse._SubParsersAction))
    for task, task_parser in tasks.choices.items():
        found[f"train {task}"] = task_parser
    return found


def test_every_command_that_runs_a_model_has_the_same_device_option():
    parsers = _command_parsers()
    with_model = [name for name in parsers if name.split()[0] in COMMANDS and name != "train"]
    assert {name.split()[0] for name in with_model} == set(COMMANDS)
    for name in with_model:
        (option,) = [a for a in parsers[name]._actions if "--device" in a.option_strings]
        assert option.help == f"{DEVICE_HELP} (default: auto)", name
        assert option.default in ("auto", argparse.SUPPRESS), name  # train's: the config's
        assert option.choices is None, name  # cuda:N: no fixed list


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "synthetic", "--steps", "2"],
        ["evaluate", "RUN"],
        ["predict", "RUN", "--input", "-"],
        ["sample", "RUN"],
        ["demo", "--minutes", "0.01", "--out", "OUT"],
        ["inspect", "RUN", "--out", "OUT/page.html"],
        ["plot", "RUN", "--out", "OUT/plot.png"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_absent_device_is_one_line_and_exit_2_on_every_command(machine, argv, tmp_path, capsys):
    if argv[0] == "plot":
        pytest.importorskip("matplotlib")
    machine(gpus=1, mps=False)
    argv = [str(tmp_path) if a == "OUT" else a.replace("OUT", str(tmp_path)) for a in argv]
    argv = [str(tmp_path / "run") if a == "RUN" else a for a in argv]
    code, out, err = run(capsys, *argv, "--device", "cuda:7")
    assert_one_line_error(
        code, err, "device 'cuda:7' was asked for, but this machine has 1 CUDA GPU (cuda:0)"
    )
    assert out == ""
    code, out, err = run(capsys, *argv, "--device", "mps")
    assert_one_line_error(
        code,
        err,
        (
            "device 'mps' was asked for, but this machine has no Apple MPS device "
            "(devices here: cpu, cuda:0)"
        ),
    )


@pytest.mark.parametrize(
    "argv", [["evaluate", "RUN"], ["sample", "RUN"], ["plot", "RUN", "--out", "x.png"]]
)
def test_a_device_name_of_no_form_is_refused_as_the_command_line_is_read(argv, capsys):
    code, _, err = run(capsys, *argv, "--device", "tpu")
    command = argv[0]
    assert code == 2
    assert err == f"rnnkit {command}: error: argument --device: {FORMS}, got 'tpu'\n"


def test_train_names_the_option_of_a_bad_device_or_precision(machine, capsys):
    machine(gpus=0, mps=False)
    code, _, err = run(capsys, "train", "synthetic", "--device", "tpu")
    assert_one_line_error(code, err, f"--device: {FORMS}, got 'tpu'")
    code, _, err = run(capsys, "train", "synthetic", "--precision", "16-mixed", "--device", "cpu")
    assert_one_line_error(code, err, "--precision: 16-mixed needs a CUDA GPU; on the CPU use bf16")
