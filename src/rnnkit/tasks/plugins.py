"""Plugins: installed packages that add cells and tasks to rnnkit.

A package names a module in the entry-point group ``rnnkit.plugins`` of its ``pyproject.toml``;
``import rnnkit`` imports that module once every public name of rnnkit is defined, and the module
registers what it brings (:func:`rnnkit.register_cell`, :func:`rnnkit.register`), so its cells are
choices of every task's ``--cell`` and its tasks have their ``rnnkit train`` command::

    [project.entry-points."rnnkit.plugins"]
    parity = "parity_plugin"

The group ``rnnkit.tasks`` of rnnkit 0.1 still works, with a :class:`DeprecationWarning`. A plugin
that fails to import is one warning line on standard error naming it (a :mod:`logging` warning
of this module's logger, so an application can route it), and the rest of rnnkit works without
it: foreign code must not break the toolkit.
"""

from __future__ import annotations

import logging
import warnings
from importlib import metadata

__all__ = ["GROUP", "OLD_GROUP", "load_plugins"]

GROUP = "rnnkit.plugins"
OLD_GROUP = "rnnkit.tasks"  # rnnkit 0.1's group, when plugins could only add tasks

log = logging.getLogger(__name__)


def load_plugins() -> list[str]:
    """Import the modules that installed packages name in :data:`GROUP` (and :data:`OLD_GROUP`),
    each of which registers its cells and tasks; return the names of those that loaded."""
    loaded = []
    for group in (GROUP, OLD_GROUP):
        for entry in metadata.entry_points(group=group):
            if group == OLD_GROUP:
                warnings.warn(
                    f"the plugin {entry.name!r} uses the entry-point group {OLD_GROUP!r}, which "
                    f"is deprecated: name it in {GROUP!r} instead",
                    DeprecationWarning,
                    stacklevel=2,
                )
            try:
                entry.load()
            except Exception as error:  # noqa: BLE001 - any failure of foreign code
                reason = " ".join(str(error).split()) or "no message"
                log.warning(
                    "rnnkit: warning: the plugin %r failed to load (%s: %s); rnnkit works "
                    "without it",
                    entry.name,
                    type(error).__name__,
                    reason,
                )
            else:
                loaded.append(entry.name)
    return loaded
