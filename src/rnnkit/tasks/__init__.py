"""The jobs rnnkit trains, behind one contract: :class:`~rnnkit.tasks.base.Task`.

:data:`TASKS` maps each name to its task: language modelling (``lm``), text classification
(``classify``), sequence tagging (``tag``), forecasting (``forecast``) and the synthetic tasks of
the tutorials (``synthetic``). :func:`train`, :func:`load`, :func:`evaluate` and :func:`predict`
work for every task; the ``rnnkit`` command is generated from the same registry. A new task is one
module that subclasses ``Task`` and calls :func:`register` (see docs/tasks.md); a package can
name such a module in the entry-point group ``rnnkit.plugins`` and ``import rnnkit`` imports it
(:mod:`rnnkit.tasks.plugins`).
"""

from rnnkit.tasks import base, capabilities, run
from rnnkit.tasks.base import *  # the contract: base.__all__
from rnnkit.tasks.capabilities import *  # the optional capabilities
from rnnkit.tasks.lm import SampleConfig, sample
from rnnkit.tasks.plugins import load_plugins
from rnnkit.tasks.run import *  # the runner: run.__all__

# isort: off
# Each module registers its task; the order here is the order of `rnnkit train --help`.
from rnnkit.tasks import lm, classify, tag, forecast, synthetic  # noqa: F401
# isort: on


__all__ = ["SampleConfig", "load_plugins", "sample"]
__all__ += base.__all__ + capabilities.__all__ + run.__all__
