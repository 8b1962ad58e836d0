"""The model zoo: every network of the paper's Table II, built by name.

Example:

    >>> from tfmfn import models
    >>> net = models.build("mobilefacenet")
    >>> net.input_shape, net.output_shape
    ((None, 112, 112, 3), (None, 128))
    >>> models.ZOO["mobilefacenet"].paper_params
    0.99

`python -m tfmfn.models` prints the zoo as a table like Table II.
"""

import dataclasses
from typing import Callable

from tfmfn.models import baselines, mobilefacenet


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A zoo model and its row of the paper's Table II (CASIA-WebFace, ArcFace;
    latency on a Snapdragon 820, 4 threads, NCNN); None where the paper has no such model."""

    builder: Callable
    paper_name: str
    paper_params: float = None
    """Millions of parameters, as the paper gives them (None: not in the paper)."""
    paper_lfw: float = None
    paper_agedb30: float = None
    paper_ms: int = None


ZOO = {
    "mobilefacenet": ZooEntry(mobilefacenet.mobilefacenet, "MobileFaceNet", 0.99, 99.28, 93.05, 24),
    "mobilefacenet_112x96": ZooEntry(
        mobilefacenet.mobilefacenet_112x96, "MobileFaceNet (112x96)", 0.99, 99.18, 92.96, 21
    ),
    "mobilefacenet_96x96": ZooEntry(
        mobilefacenet.mobilefacenet_96x96, "MobileFaceNet (96x96)", 0.99, 99.08, 92.63, 18
    ),
    "mobilefacenet_m": ZooEntry(mobilefacenet.mobilefacenet_m, "MobileFaceNet-M", 0.92, 99.18, 92.67, 24),
    "mobilefacenet_s": ZooEntry(mobilefacenet.mobilefacenet_s, "MobileFaceNet-S", 0.84, 99.00, 92.48, 23),
    "mobilefacenet_relu": ZooEntry(
        mobilefacenet.mobilefacenet_relu, "MobileFaceNet (ReLU)", 0.98, 99.15, 92.83, 23
    ),
    "mobilefacenet_lrelu": ZooEntry(mobilefacenet.mobilefacenet_lrelu, "MobileFaceNet (one slope per layer; tfmfn)"),
    "mobilefacenet_x2": ZooEntry(
        mobilefacenet.mobilefacenet_x2, "MobileFaceNet (expansion x2)", 1.1, 99.10, 92.81, 27
    ),
    "mobilefacenet_sirius": ZooEntry(
        mobilefacenet.mobilefacenet_sirius, "MobileFaceNet, sirius-ai MobileFaceNet_TF layout (pretrained files; tfmfn)"
    ),
    "mobilenet_v1": ZooEntry(baselines.mobilenet_v1, "MobileNetV1", 3.2, 98.63, 88.95, 60),
    "shufflenet_g3": ZooEntry(baselines.shufflenet_g3, "ShuffleNet (1x, g=3)", 0.83, 98.70, 89.27, 27),
    "mobilenet_v2": ZooEntry(baselines.mobilenet_v2, "MobileNetV2", 2.1, 98.58, 88.81, 49),
    "mobilenet_v2_gdconv": ZooEntry(
        baselines.mobilenet_v2_gdconv, "MobileNetV2-GDConv", 2.1, 98.88, 90.67, 50
    ),
}


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
