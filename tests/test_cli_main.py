import rnnkit
from rnnkit.cli import main


def test_version(capsys):
    try:
        code = main(["--version"])
    except SystemExit as exit_:  # pragma: no cover - main() catches it
        code = exit_.code
    assert code == 0
    assert capsys.readouterr().out.strip() == f"rnnkit {rnnkit.__version__}"


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: rnnkit" in capsys.readouterr().err


def test_unknown_option_exits_2(capsys):
    assert main(["--no-such-option"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err
