"""The model zoo: every network of the paper's Table II, built by name.

Example:

    >>> from tfmfn import models
    >>> net = models.build("mobilefacenet")
    >>> net.input_shape, net.output_shape
    ((None, 112, 112, 3), (None, 128))
    >>> models.ZOO["mobilefacenet"].paper_params
    0.99

A model joins the zoo where it is defined (`tfmfn.models.registry.register`).
`python -m tfmfn.models` prints the zoo as a table like Table II.
"""

from tfmfn.models import baselines, mobilefacenet  # noqa: F401  (each model registers itself where it is defined)
from tfmfn.models.registry import ZOO, ZooEntry

__all__ = ["ZOO", "ZooEntry", "build", "names"]


def names():
    """Every zoo name, MobileFaceNets first, in the order of the paper's Table II."""
    return list(ZOO)


def build(name, input_shape=None, embedding_size=None, **kwargs):
    """Builds zoo model `name`; `input_shape` and `embedding_size` default to the
    variant's own (112x112x3 and 128 for most); other keyword arguments go to the
    builder (for example `last_channels=1280` for `mobilenet_v2`), and through it to
    `table.build_from_table`: `weight_decay=(4e-5, 4e-4)` decays the kernels up to the
    global operator and after it, `synchronized_batch_norm=True` syncs BatchNorm across
    replicas, as training wants them."""
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(ZOO)}")
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    if embedding_size is not None:
        kwargs["embedding_size"] = embedding_size
    return ZOO[name].builder(**kwargs)
