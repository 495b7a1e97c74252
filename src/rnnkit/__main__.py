"""``python -m rnnkit`` runs the ``rnnkit`` command (and ``torchrun ... -m rnnkit train ...``)."""

from rnnkit.cli.main import console_main

if __name__ == "__main__":
    console_main()
