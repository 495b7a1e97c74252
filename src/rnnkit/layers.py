"""The older name of :mod:`rnnkit.nn` (rnnkit 0.1), kept so that code written for it still imports."""

from rnnkit.nn import *
from rnnkit.nn import __all__  # noqa: F401
