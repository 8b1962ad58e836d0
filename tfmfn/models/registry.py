"""The zoo's registry: every model registers itself where it is defined (`@register`), with its
architecture table and its row of the paper's Table II.

Example:

    >>> from tfmfn import models
    >>> from tfmfn.models import registry
    >>> entry = registry.ZOO["mobilefacenet_m"]
    >>> entry.paper_name, entry.paper_params, entry.activation, len(entry.table)
    ('MobileFaceNet-M', 0.92, 'prelu', 9)
"""

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A zoo model and its row of the paper's Table II (CASIA-WebFace, ArcFace; latency on a
    Snapdragon 820, 4 threads, NCNN); None where the paper has no such model."""

    builder: Callable
    paper_name: str
    paper_params: float = None
    """Millions of parameters, as the paper gives them (None: not in the paper)."""
    paper_lfw: float = None
    paper_agedb30: float = None
    paper_ms: int = None
    table: tuple = None
    """The architecture table the builder uses by default (what `tfmfn.port` compares a pretrained
    file's layers against)."""
    activation: str = None


ZOO = {}
"""{name: ZooEntry}, in the order the models are defined (MobileFaceNets first, then the baselines)."""


def register(paper_name, paper=(), table=None, activation=None):
    """Registers the decorated builder under its function name: `paper` is (millions of parameters,
    LFW, AgeDB-30, ms) from the paper's Table II, empty for a model the paper does not have."""

    def decorate(builder):
        if builder.__name__ in ZOO:
            raise ValueError(f"{builder.__name__} is registered twice")
        ZOO[builder.__name__] = ZooEntry(builder, paper_name, *paper, table=table, activation=activation)
        return builder

    return decorate
