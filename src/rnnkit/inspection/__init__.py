"""Looking inside trained recurrent networks: what ``rnnkit inspect`` computes and shows.

Pure computation on models and tensors (:mod:`.trace`, :mod:`.characters`, :mod:`.gradients`,
:mod:`.tokens`, :mod:`.paths`), then one self-contained HTML page (:mod:`.page`) or a figure
(:mod:`.figure`). The tasks decide which views their models have (``Task.inspect``).

- every step's states (and each gate's activation) of a layer, recorded with
  :meth:`rnnkit.nn.Recurrent.probe` (:func:`trace`, :func:`gate_values`);
- a language model over a text: each character's hidden and cell state, the units ranked by how
  much they correlate with features of the text, the top five next characters, and how often each
  gate is saturated (Karpathy, Johnson and Fei-Fei 2015, "Visualizing and understanding recurrent
  networks") (:func:`character_view`);
- gradient flow through time, ``||dL_T/dh_t||``: what reaches each step from the loss at the last
  (:func:`gradient_flow`);
- a classifier's token contributions, gradient times input (:func:`token_contributions`);
- the hidden state's path over a sequence projected to 2-D by PCA (:func:`pca_paths`).
"""

from __future__ import annotations

from rnnkit.inspection.characters import character_view, rank_units, text_features
from rnnkit.inspection.gradients import gradient_flow
from rnnkit.inspection.paths import pca_paths, project_pca
from rnnkit.inspection.tokens import token_contributions
from rnnkit.inspection.trace import Trace, find_recurrent, gate_values, trace

__all__ = [
    "Trace",
    "character_view",
    "find_recurrent",
    "gate_values",
    "gradient_flow",
    "pca_paths",
    "project_pca",
    "rank_units",
    "text_features",
    "token_contributions",
    "trace",
]
