"""Mixed precision: every cell on both backends under CPU bfloat16 autocast against float32, the
Trainer's ``precision`` (autocast in training and evaluation, the 16-mixed gradient scaler's
overflow steps), and bf16 runs that learn and resume exactly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnnkit.config import ConfigError
from rnnkit.data.batching import ShuffledBatches
from rnnkit.errors import RnnkitError
from rnnkit.nn import CELLS, LSTM, build_layer
from rnnkit.tasks import load, train
from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.training.devices import autocast
from rnnkit.training.settings import StepOutput, TrainConfig
from rnnkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

# Max |bf16 autocast - float32| of a layer's outputs (hidden 32, L 20, N 4, random input and
# weights). Measured over 6 seeds: at most 0.007 for rnn, lstm, gru, indrnn, mingru and minlstm on
# either backend, 0.015 for lngru, 0.09 for lnlstm. The layer-normalised LSTM is that much more
# sensitive to any perturbation at initialisation: in float32, rounding only its input to
# bfloat16 moves its outputs by up to 0.04 (the LSTM's by 0.001).
TOLERANCE = {"lnlstm": 0.25}
DEFAULT_TOLERANCE = 0.05
# ||g_bf16 - g_32|| / ||g_32|| of all parameters' gradients: measured at most 0.005 (lngru 0.011,
# lnlstm 0.23).
GRADIENT_TOLERANCE = {"lnlstm": 0.5}
DEFAULT_GRADIENT_TOLERANCE = 0.05
QUIET = {"progress": False, "seed": 0, "device": "cpu"}


def _layers():
    for name in CELLS:
        for backend in ("reference", "native"):
            try:
                build_layer(name, 1, 1, backend=backend).resolved_backend()
            except ValueError:  # no fused kernel for this cell
                continue
            yield pytest.param(name, backend, id=f"{name}-{backend}")


def _gradients(layer: nn.Module) -> torch.Tensor:
    grads = [p.grad.flatten() for p in layer.parameters()]
    layer.zero_grad(set_to_none=True)
    return torch.cat(grads)


@pytest.mark.parametrize(("name", "backend"), list(_layers()))
def test_every_cell_under_bf16_autocast_is_close_to_float32(name, backend):
    torch.manual_seed(0)
    layer = build_layer(name, 8, 32, backend=backend)
    x = torch.randn(4, 20, 8)  # (N, L, H_in)
    out32, state32 = layer(x)
    out32.pow(2).mean().backward()
    grads32 = _gradients(layer)
    with autocast("cpu", "bf16"):
        out, state = layer(x)
        loss = out.pow(2).mean()
    loss.backward()
    for parameter in layer.parameters():
        assert parameter.grad.dtype == parameter.dtype == torch.float32
        assert torch.isfinite(parameter.grad).all()
    grads = _gradients(layer)
    states, states32 = ((s if isinstance(s, tuple) else (s,)) for s in (state, state32))
    # outputs and state come back in the parameters' dtype, so a carried state can go back in
    assert out.dtype == torch.float32 and all(s.dtype == torch.float32 for s in states)
    error = (out - out32).abs().max().item()
    assert error < TOLERANCE.get(name, DEFAULT_TOLERANCE), error
    assert error > 0  # autocast did act
    for s, s32 in zip(states, states32):
        assert (s - s32).abs().max().item() < TOLERANCE.get(name, DEFAULT_TOLERANCE)
    relative = ((grads - grads32).norm() / grads32.norm()).item()
    assert relative < GRADIENT_TOLERANCE.get(name, DEFAULT_GRADIENT_TOLERANCE), relative


@pytest.mark.parametrize("name", ["lstm", "gru", "mingru"])
@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_padding_both_directions_and_stacked_layers_under_autocast(name, backend):
    torch.manual_seed(1)
    layer = build_layer(name, 5, 16, num_layers=2, bidirectional=True, backend=backend)
    x = torch.randn(3, 12, 5)
    lengths = torch.tensor([12, 7, 3])
    out32, _ = layer(x, lengths=lengths)
    with autocast("cpu", "bf16"):
        out, _ = layer(x, lengths=lengths)
    out.sum().backward()
    assert out.dtype == torch.float32
    assert (out - out32).abs().max() < DEFAULT_TOLERANCE
    assert out[2, 3:].abs().max() == 0  # padding stays exactly zero
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_a_layer_under_autocast_takes_a_bf16_input_and_its_own_state_back():
    # a forecaster feeds its head's (autocast, bfloat16) output back in as the next input
    torch.manual_seed(2)
    layer, head = LSTM(3, 8, batch_first=True, proj_size=4, backend="reference"), nn.Linear(4, 3)
    x = torch.randn(2, 6, 3)
    with autocast("cpu", "bf16"):
        out, state = layer(x)
        step = head(out[:, -1:])
        assert step.dtype == torch.bfloat16
        out, state = layer(step, state)
    assert out.dtype == torch.float32 and [s.dtype for s in state] == [torch.float32] * 2
    with pytest.raises(TypeError, match="expected dtype torch.float32"):
        layer(step.detach())  # outside autocast the dtypes must match, as in torch.nn


# --------------------------------------------------------------------------- the Trainer


def _trainer(**overrides) -> Trainer:
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x.sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
    seen = overrides.pop("seen", [])

    def loss_fn(model, batch):
        seen.append(("train", torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        bx, by = batch
        return StepOutput(F.cross_entropy(model(bx), by), items=len(by))

    def eval_fn(model):
        seen.append(("eval", torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return {"loss": F.cross_entropy(model(x), y).item()}

    settings = {"max_steps": 4, "eval_every": 2, "warmup_steps": 0, **QUIET, **overrides}
    source = ShuffledBatches(64, 16, lambda idx: (x[idx], y[idx]), seed=1)
    return Trainer(
        model, TrainConfig(**settings), source, loss_fn, eval_fn=eval_fn, log=lambda m: None
    )


def test_bf16_runs_the_forward_the_loss_and_evaluation_under_autocast_only():
    seen = []
    trainer = _trainer(precision="bf16", seen=seen)
    trainer.fit()
    assert {kind for kind, *_ in seen} == {"train", "eval"}
    assert all(on and dtype == torch.bfloat16 for _, on, dtype in seen)
    assert trainer.scaler is None
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert not torch.is_autocast_enabled("cpu")
    seen.clear()
    _trainer(seen=seen).fit()
    assert seen and not any(on for _, on, _ in seen)


def test_16_mixed_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ConfigError) as caught:
        _trainer(precision="16-mixed", device="auto")
    assert str(caught.value) == "precision: 16-mixed needs a CUDA GPU; on the CPU use bf16"
    with pytest.raises(ConfigError, match="expected one of 32, bf16, 16-mixed, got 'fp8'"):
        TrainConfig(precision="fp8")
    assert TrainConfig(precision=32).precision == "32"  # precision = 32 in a config file


class _Scaler:
    """Stands in for ``torch.amp.GradScaler("cuda")`` on a machine without CUDA: while the scale
    is above ``fits``, the scaled loss overflows (so do the gradients), as float16's would."""

    def __init__(self, scale: float, fits: float) -> None:
        self.scale_value, self.fits = scale, fits
        self.steps = 0

    def get_scale(self) -> float:
        return self.scale_value

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * (math.inf if self.scale_value > self.fits else 1.0)

    def unscale_(self, optimizer) -> None:
        pass

    def step(self, optimizer) -> None:
        self.steps += 1
        optimizer.step()

    def update(self) -> None:
        if self.scale_value > self.fits:
            self.scale_value /= 2

    def state_dict(self) -> dict:
        return {"scale": self.scale_value}

    def load_state_dict(self, state) -> None:
        self.scale_value = state["scale"]


def test_steps_the_gradient_scaler_skips_are_not_a_divergence():
    trainer = _trainer(max_steps=8, max_nonfinite=2)
    trainer.scaler = _Scaler(scale=64.0, fits=4.0)  # overflows at 64, 32, 16 and 8
    records = []
    trainer.callbacks.append(lambda t, event, info: records.append(info) if event == "step" else 0)
    result = trainer.fit()
    assert result.step == 8 and result.skipped_steps == 4  # 4 > max_nonfinite: not counted
    assert [r.get("skipped", False) for r in records] == [True] * 4 + [False] * 4
    assert [r["loss_scale"] for r in records] == [64, 32, 16, 8, 4, 4, 4, 4]
    assert trainer.scaler.steps == 4
    assert trainer.state_dict()["train"]["scaler"] == {"scale": 4.0}


def test_the_scaler_state_is_saved_and_restored(tmp_path):
    # torch's own GradScaler, on the CPU in place of CUDA's (16-mixed itself needs CUDA)
    trainer = _trainer(max_steps=3, out_dir=str(tmp_path))
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
    trainer.fit()
    saved = load_checkpoint(tmp_path / "last.pt")["train"]["scaler"]
    assert saved["scale"] == 2048.0 and saved["_growth_tracker"] == 1  # grew once after 2 steps
    resumed = _trainer(max_steps=4, out_dir=str(tmp_path))
    resumed.scaler = torch.amp.GradScaler("cpu", init_scale=1.0, growth_interval=2)
    resumed.fit(resume=load_checkpoint(tmp_path / "last.pt"))
    assert resumed.scaler.get_scale() == 4096.0  # 2048, one more good step: grown again


def test_overflow_at_a_scale_below_one_is_a_divergence():
    # the gradients overflow even unscaled: halving the scale for ever would not help
    trainer = _trainer(max_steps=20, max_nonfinite=3)
    trainer.scaler = _Scaler(scale=0.5, fits=0.0)
    with pytest.raises(RnnkitError, match="training diverged: 3 steps in a row"):
        trainer.fit()
    assert trainer.step == 3


def test_a_non_finite_loss_is_a_divergence_with_the_scaler_too():
    trainer = _trainer(max_steps=20, max_nonfinite=2)
    trainer.scaler = _Scaler(scale=1024.0, fits=4096.0)
    trainer.loss_fn = lambda model, batch: torch.tensor(math.nan, requires_grad=True)
    with pytest.raises(RnnkitError, match="training diverged: 2 steps in a row"):
        trainer.fit()


# --------------------------------------------------------------------------- whole runs


def _mean_sign(precision: str, zoneout: float, steps: int = 120):
    first = []
    run = train(
        "synthetic",
        {
            "data": {"task": "mean-sign", "n_val": 256, "n_test": 256},
            "model": {"cell": "lstm", "hidden_size": 16, "num_layers": 1, "zoneout": zoneout},
            "train": {
                "max_steps": steps,
                "batch_size": 32,
                "warmup_steps": 10,
                "lr": 1e-2,
                "eval_every": steps,
                "precision": precision,
                "out_dir": None,
                **QUIET,
            },
        },
        log=lambda message: None,
        callbacks=[lambda t, event, info: first.append(info["loss"]) if event == "step" else 0],
    )
    return first[0], run


# The LSTM runs natively; with zoneout, in the reference loop (deferred W_hh gradient and all).
@pytest.mark.parametrize("zoneout", [0.0, 0.05], ids=["native", "reference"])
def test_a_bf16_run_on_the_cpu_learns_as_float32_does(zoneout):
    # mean-sign: a model that has not learned scores about ln 2 = 0.69; 120 steps reach 0.15
    untrained, run = _mean_sign("bf16", zoneout)
    assert untrained > 0.6
    assert run.train.best_metric < 0.3, run.train.best_metric
    _, run32 = _mean_sign("32", zoneout)
    assert abs(run.train.best_metric - run32.train.best_metric) < 0.05


def test_a_bf16_run_resumes_exactly(tmp_path):
    settings = {
        "data": {
            "task": "copy",
            "seq_len": 4,
            "n_copy": 2,
            "n_symbols": 3,
            "n_val": 8,
            "n_test": 8,
        },
        "model": {"hidden_size": 8, "cell": "lngru"},
        "train": {"max_steps": 6, "eval_every": 3, "save_every": 3, "precision": "bf16", **QUIET},
    }

    def run(out: str, **options):
        config = {**settings, "train": {**settings["train"], "out_dir": out}}
        return train("synthetic", config, log=lambda message: None, **options)

    run(str(tmp_path / "whole"))

    def stop_at_3(trainer, event, info):
        if event == "step" and trainer.step == 3:
            trainer.request_stop()

    with pytest.raises(KeyboardInterrupt):
        run(str(tmp_path / "cut"), callbacks=[stop_at_3])
    resumed = train("synthetic", None, resume=str(tmp_path / "cut"), log=lambda message: None)
    assert resumed.train.step == 6 and resumed.config.train.precision == "bf16"
    a = load_checkpoint(tmp_path / "whole" / "last.pt")
    b = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    assert "scaler" not in b["train"]


def test_a_checkpoint_from_before_precision_loads_and_resumes_as_32(tmp_path):
    out = tmp_path / "run"
    settings = {
        "data": {"task": "adding", "seq_len": 5, "n_val": 8, "n_test": 8},
        "model": {"hidden_size": 4},
        "train": {"max_steps": 2, "out_dir": str(out), **QUIET},
    }
    train("synthetic", settings, log=lambda message: None)
    old = load_checkpoint(out / "last.pt")
    del old["path"], old["format_version"], old["rnnkit_version"]
    del old["train"]["config"]["precision"], old["task_state"]["config"]["train"]["precision"]
    save_checkpoint(out / "last.pt", old)
    (out / "best.pt").unlink()
    assert load(out, "cpu").config.train.precision == "32"
    resumed = train(
        "synthetic", {"train": {"max_steps": 3}}, resume=str(out), log=lambda message: None
    )
    assert resumed.train.step == 3 and resumed.config.train.precision == "32"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="16-mixed needs a CUDA GPU")
def test_a_16_mixed_run_on_cuda_saves_and_restores_its_loss_scale(tmp_path):
    out = str(tmp_path / "run")
    settings = {
        "data": {"task": "adding", "seq_len": 10, "n_val": 16, "n_test": 16},
        "model": {"hidden_size": 16},
        "train": {
            "max_steps": 4,
            "out_dir": out,
            "precision": "16-mixed",
            "progress": False,
            "device": "cuda",
        },
    }
    train("synthetic", settings, log=lambda message: None)
    saved = load_checkpoint(f"{out}/last.pt")["train"]["scaler"]
    assert saved["scale"] > 0
    resumed = train("synthetic", {"train": {"max_steps": 6}}, resume=out, log=lambda message: None)
    assert resumed.train.step == 6 and resumed.trained.device.type == "cuda"
    assert load_checkpoint(f"{out}/last.pt")["train"]["scaler"]["scale"] > 0
