"""The benchmark behind ``python -m fastloss bench`` and ``bench/``.

``cases``: one definition of every case (loss, shapes, dtype, data, peers);
``numpy_ref``/``torch_ref``: the peers' implementations; ``probe``: the
memory-bandwidth floor; ``runner``: timing and the agreement check;
``report``: table, JSON and plot.  torch, scikit-learn and matplotlib are
imported only when used.
"""
from .cases import CASES, Case, Data, Peer, select  # noqa: F401
from .runner import compare, run, run_case  # noqa: F401
