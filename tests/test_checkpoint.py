import os
import pickle
import re
import stat

import pytest
import torch

from rnnkit.errors import RnnkitError
from rnnkit.training import checkpoint as ckpt_mod
from rnnkit.training.checkpoint import (
    FORMAT_VERSION,
    atomic_write,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
)


def _payload(value=1.0):
    return {
        "task": "lm",
        "model_config": {"hidden": 8, "cell": "lstm", "sizes": [1, 2], "pair": (0.9, 0.99)},
        "model_state": {"w": torch.full((2, 2), value)},
        "task_state": {
            "vocab": {"tokens": ["<unk>", "a"], "pad_token": None, "unk_token": "<unk>"}
        },
    }


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_round_trip_adds_version(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", _payload())
    data = load_checkpoint(path)
    assert data["format_version"] == FORMAT_VERSION
    assert data["model_config"]["pair"] == (0.9, 0.99)
    assert torch.equal(data["model_state"]["w"], torch.ones(2, 2))
    assert data["path"] == str(path)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_directory_prefers_best_then_last(tmp_path):
    save_checkpoint(tmp_path / "last.pt", _payload(2.0))
    assert find_checkpoint(tmp_path).name == "last.pt"
    save_checkpoint(tmp_path / "best.pt", _payload(3.0))
    assert load_checkpoint(tmp_path)["model_state"]["w"][0, 0] == 3.0


def test_non_plain_values_are_refused_before_writing(tmp_path):
    payload = _payload()
    payload["task_state"]["bad"] = object()
    with pytest.raises(TypeError, match="task_state"):
        save_checkpoint(tmp_path / "x.pt", payload)
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match="task"):
        save_checkpoint(tmp_path / "x.pt", {"model_state": {}})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: p.write_bytes(b"certainly not a checkpoint"), "corrupt"),
        (lambda p: p.write_bytes(b""), "corrupt"),
    ],
)
def test_bad_files(tmp_path, make, message):
    path = tmp_path / "c.pt"
    make(path)
    with pytest.raises(RnnkitError, match=message):
        load_checkpoint(path)


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", _payload())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RnnkitError, match="corrupt or truncated") as info:
        load_checkpoint(path)
    message = str(info.value)
    assert f"checkpoint {path} is corrupt or truncated" in message
    # whole: torch's reason up to its first sentence end, never cut mid-sentence or mid-word
    assert message.endswith((")", ".")) and message.count("(") == message.count(")")
    assert "If you are seeing this error" not in message, "torch's advice is left out"
    assert re.search(r"\(PytorchStreamReader failed reading zip archive: [a-z ]+\)$", message)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Bad header. More advice follows here.", " (Bad header)"),
        ("[Errno 22] Invalid argument", " ([Errno 22] Invalid argument)"),
        ("version 1.5 is not 2.0. Upgrade.", " (version 1.5 is not 2.0)"),
        ("", ""),
        ("x" * 201 + ". Short.", ""),  # a first sentence too long to show is left out, not cut
    ],
)
def test_reason_is_a_whole_first_sentence(text, reason):
    assert ckpt_mod._reason(text) == reason


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_saved_checkpoint_mode_follows_the_umask(tmp_path, umask):
    before = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "best.pt", _payload())
        assert os.umask(umask) == umask, "saving must leave the umask as it was"
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(before)
    expected = 0o666 & ~umask
    assert stat.S_IMODE(path.stat().st_mode) == expected
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_code_running_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"task": "lm", "format_version": 1, "payload": _Evil()}, path)
    with pytest.raises(RnnkitError, match="run code") as info:
        load_checkpoint(path)
    assert "system" in str(info.value)
    legacy = tmp_path / "evil.pkl"
    legacy.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(RnnkitError):
        load_checkpoint(legacy)


def test_incompatible_version_and_foreign_files(tmp_path):
    path = tmp_path / "v.pt"
    torch.save({**_payload(), "format_version": 99}, path)
    with pytest.raises(RnnkitError, match="format version 99"):
        load_checkpoint(path)
    torch.save({"weights": torch.ones(1)}, path)
    with pytest.raises(RnnkitError, match="not an rnnkit checkpoint"):
        load_checkpoint(path)
    torch.save({"format_version": FORMAT_VERSION, "task": "lm"}, path)
    with pytest.raises(RnnkitError, match="incomplete"):
        load_checkpoint(path)


def test_task_mismatch_and_empty_directory(tmp_path):
    save_checkpoint(tmp_path / "best.pt", _payload())
    with pytest.raises(RnnkitError, match="task 'lm', not 'classify'"):
        load_checkpoint(tmp_path, task="classify")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RnnkitError, match="no checkpoint"):
        load_checkpoint(empty)


def test_interrupted_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1.0))

    def crash(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of the write

    monkeypatch.setattr(ckpt_mod.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _payload(2.0))
    monkeypatch.undo()
    assert load_checkpoint(path)["model_state"]["w"][0, 0] == 1.0
    assert os.listdir(tmp_path) == ["last.pt"]  # the temporary file was removed


def test_atomic_write_into_missing_directory_is_clear(tmp_path):
    with pytest.raises(RnnkitError, match="cannot write"):
        atomic_write(tmp_path / "missing" / "x.pt", lambda f: f.write(b"x"))


@pytest.mark.parametrize(
    "content", [b"text\tlabel\nfine film\t1\n", b"(((((", b"\x80\x02]q\x00(K\x01e."]
)
def test_a_file_that_is_no_pickle_is_a_corrupt_checkpoint(tmp_path, content):
    """Found by fuzzing: a data file given as the checkpoint made torch's weights-only
    unpickler fail with IndexError (pop from empty list), which escaped ``rnnkit sample``."""
    path = tmp_path / "train.tsv"
    path.write_bytes(content)
    with pytest.raises(RnnkitError, match=f"{re.escape(str(path))}"):
        load_checkpoint(path)
