"""MobileFaceNet (Chen et al. 2018, arXiv 1804.07573) and the variants of its Table II.

`MOBILEFACENET` below is the paper's Table I. The variants change one thing each:

| builder                 | change against Table I                                          |
|-------------------------|-----------------------------------------------------------------|
| mobilefacenet           | none: 112x112 input, PReLU, 128-d embedding                     |
| mobilefacenet_112x96    | 112x96 input (GDConv kernel 7x6)                                |
| mobilefacenet_96x96     | 96x96 input (GDConv kernel 6x6)                                 |
| mobilefacenet_m         | no linear 1x1 after the GDConv: the 512-d GDConv output is the  |
|                         | embedding                                                       |
| mobilefacenet_s         | MobileFaceNet-M without the 1x1 conv before the GDConv: the     |
|                         | GDConv runs on the last bottleneck's 128 channels               |
| mobilefacenet_relu      | ReLU instead of PReLU                                           |
| mobilefacenet_lrelu     | one learned PReLU slope per layer instead of one per channel    |
|                         | (not in the paper: int8 TFLite runs it as LEAKY_RELU, the       |
|                         | fastest int8 deploy form; see `tfmfn.quantize.qat`)                 |
| mobilefacenet_x2        | expansion factor of the first bottleneck row doubled (2 -> 4)   |
| mobilefacenet_sirius    | the layout of the pretrained MobileFaceNets that Android apps   |
|                         | ship (sirius-ai's MobileFaceNet_TF; not in the paper): a linear |
|                         | 1x1 conv after the first depthwise conv and another (512 wide)  |
|                         | after the GDConv; 192-d embedding (`tfmfn.port` imports them)   |
| mobilefacenet_tiny      | Table I in miniature (not in the paper, and not a face model):  |
|                         | each operator once at an eighth of the width, 17K parameters;   |
|                         | trains in seconds, for smoke runs and the tests of the training |
|                         | loop, QAT and export                                            |

The paper names -M and -S by the 1x1 layers they drop but does not say which ones
in a way that fixes the parameter counts; dropping the linear 1x1 after the GDConv
(-M) and then the 1x1 before it (-S) is the reading that gives its 0.92M and 0.84M.
Likewise "expansion x2" cannot mean every bottleneck (that gives 1.82M, not 1.1M);
doubling the first bottleneck row, which runs at the highest resolution, gives
1.08M and is the default (`doubled_rows` chooses others).

Every builder takes `padding`: "same" (TensorFlow's, the default) or "symmetric"
(PyTorch's), how the strided convolutions pad. Each variant registers itself
(`@register`: its row of the paper's Table II, its table and activation, which
`tfmfn.port` compares a pretrained file against); adding one is one function here.

Example:

    >>> from tfmfn.models import mobilefacenet
    >>> net = mobilefacenet.mobilefacenet_112x96()
    >>> net.input_shape, net.output_shape
    ((None, 112, 96, 3), (None, 128))
"""

import dataclasses

from tfmfn import preprocess
from tfmfn.models.registry import ZOO, register
from tfmfn.models.table import Row, build_from_table, with_embedding_size

INPUT_SHAPE = (*preprocess.INPUT_SIZE, 3)

MOBILEFACENET = (
    #   operator      t    c    n  s
    Row("conv3x3",    1,   64,  1, 2),
    Row("dwconv3x3",  1,   64,  1, 1),
    Row("bottleneck", 2,   64,  5, 2),
    Row("bottleneck", 4,  128,  1, 2),
    Row("bottleneck", 2,  128,  6, 1),
    Row("bottleneck", 4,  128,  1, 2),
    Row("bottleneck", 2,  128,  2, 1),
    Row("conv1x1",    1,  512,  1, 1),
    Row("gdconv",     1,  512,  1, 1),
    Row("linear1x1",  1,  128,  1, 1),
)  # fmt: skip
"""Table I of the paper (the input column is implied by the strides)."""

MOBILEFACENET_SIRIUS = (
    MOBILEFACENET[:2] + (Row("linear1x1", c=64),) + MOBILEFACENET[2:-1] + (Row("linear1x1", c=512), Row("linear1x1", c=192))
)
"""Table I as sirius-ai's MobileFaceNet_TF builds it: the depthwise stem conv is followed by a
linear 1x1 conv, and the GDConv by a 512-wide linear 1x1 conv before the embedding layer."""

MOBILEFACENET_TINY = (
    #   operator      t    c    n  s
    Row("conv3x3",    1,    8,  1, 2),
    Row("dwconv3x3",  1,    8,  1, 1),
    Row("bottleneck", 2,    8,  1, 2),
    Row("bottleneck", 2,   16,  1, 2),
    Row("bottleneck", 2,   16,  1, 1),
    Row("bottleneck", 2,   16,  1, 2),
    Row("conv1x1",    1,   64,  1, 1),
    Row("gdconv",     1,   64,  1, 1),
    Row("linear1x1",  1,  128,  1, 1),
)  # fmt: skip
"""Table I's operators and strides with one block per row and an eighth of its widths: the same
112x112 -> 7x7 path and 128-d embedding for a model that builds and trains in seconds."""


def _doubled(table, rows):
    for row_number in rows:
        if table[row_number - 1].op != "bottleneck":
            raise ValueError(f"Table I row {row_number} is not a bottleneck row (rows 3-7 are)")
    return tuple(
        dataclasses.replace(row, t=row.t * 2) if number in rows else row for number, row in enumerate(table, start=1)
    )


def _build(variant, input_shape, embedding_size, padding, name=None, table=None, activation=None, **training):
    entry = ZOO[variant]
    table = with_embedding_size(table or entry.table, embedding_size)
    return build_from_table(table, input_shape, activation or entry.activation, name or variant, padding, **training)


@register("MobileFaceNet", (0.99, 99.28, 93.05, 24), MOBILEFACENET, "prelu")
def mobilefacenet(input_shape=INPUT_SHAPE, embedding_size=128, activation="prelu", name="mobilefacenet",
                  padding="same", **training):
    """The paper's MobileFaceNet: 0.99M parameters, 221M MACs at 112x112."""
    return _build("mobilefacenet", input_shape, embedding_size, padding, name, activation=activation, **training)


@register("MobileFaceNet (112x96)", (0.99, 99.18, 92.96, 21), MOBILEFACENET, "prelu")
def mobilefacenet_112x96(input_shape=(112, 96, 3), embedding_size=128, padding="same", **training):
    """MobileFaceNet on 112x96 crops (Table II: 21 ms against 24 ms)."""
    return mobilefacenet(input_shape, embedding_size, name="mobilefacenet_112x96", padding=padding, **training)


@register("MobileFaceNet (96x96)", (0.99, 99.08, 92.63, 18), MOBILEFACENET, "prelu")
def mobilefacenet_96x96(input_shape=(96, 96, 3), embedding_size=128, padding="same", **training):
    """MobileFaceNet on 96x96 crops (Table II: 18 ms, the fastest)."""
    return mobilefacenet(input_shape, embedding_size, name="mobilefacenet_96x96", padding=padding, **training)


@register("MobileFaceNet-M", (0.92, 99.18, 92.67, 24), MOBILEFACENET[:-1], "prelu")
def mobilefacenet_m(input_shape=INPUT_SHAPE, embedding_size=512, padding="same", **training):
    """MobileFaceNet-M: the GDConv output is the embedding (no linear 1x1 after it)."""
    return _build("mobilefacenet_m", input_shape, embedding_size, padding, **training)


@register("MobileFaceNet-S", (0.84, 99.00, 92.48, 23), MOBILEFACENET[:-3] + (Row("gdconv", c=MOBILEFACENET[-4].c),),
          "prelu")
def mobilefacenet_s(input_shape=INPUT_SHAPE, embedding_size=128, padding="same", **training):
    """MobileFaceNet-S: MobileFaceNet-M without the 1x1 conv before the GDConv.

    The embedding is the GDConv of the last bottleneck, so it is always 128-d.
    """
    return _build("mobilefacenet_s", input_shape, embedding_size, padding, **training)


@register("MobileFaceNet (ReLU)", (0.98, 99.15, 92.83, 23), MOBILEFACENET, "relu")
def mobilefacenet_relu(input_shape=INPUT_SHAPE, embedding_size=128, padding="same", **training):
    """MobileFaceNet with ReLU in place of every PReLU."""
    return _build("mobilefacenet_relu", input_shape, embedding_size, padding, **training)


@register("MobileFaceNet (one slope per layer; tfmfn)", (), MOBILEFACENET, "lrelu")
def mobilefacenet_lrelu(input_shape=INPUT_SHAPE, embedding_size=128, padding="same", **training):
    """MobileFaceNet with one learned negative slope per layer (a PReLU shared over channels).

    About 7K parameters fewer than the paper's network (one slope per layer
    instead of one per channel); exported as LEAKY_RELU, which XNNPACK runs in int8 at the
    cost of a ReLU.
    """
    return _build("mobilefacenet_lrelu", input_shape, embedding_size, padding, **training)


@register("MobileFaceNet (expansion x2)", (1.1, 99.10, 92.81, 27), _doubled(MOBILEFACENET, (3,)), "prelu")
def mobilefacenet_x2(input_shape=INPUT_SHAPE, embedding_size=128, doubled_rows=(3,), padding="same", **training):
    """MobileFaceNet with the expansion factors of the Table I rows `doubled_rows` doubled.

    The default doubles the first bottleneck row (the five 64-channel blocks), the
    reading that matches the paper's 1.1M; `doubled_rows=(3, 4, 5, 6, 7)` doubles
    every bottleneck (1.82M).
    """
    return _build("mobilefacenet_x2", input_shape, embedding_size, padding, table=_doubled(MOBILEFACENET, doubled_rows),
                  **training)


@register("MobileFaceNet, sirius-ai MobileFaceNet_TF layout (pretrained files; tfmfn)", (), MOBILEFACENET_SIRIUS,
          "prelu")
def mobilefacenet_sirius(input_shape=INPUT_SHAPE, embedding_size=192, padding="same", **training):
    """The layout of sirius-ai's pretrained MobileFaceNet_TF (`MOBILEFACENET_SIRIUS`): 1.29M
    parameters, 234M MACs at 112x112."""
    return _build("mobilefacenet_sirius", input_shape, embedding_size, padding, **training)


@register("MobileFaceNet in miniature (tests and smoke runs; tfmfn)", (), MOBILEFACENET_TINY, "prelu")
def mobilefacenet_tiny(input_shape=INPUT_SHAPE, embedding_size=128, padding="same", **training):
    """`MOBILEFACENET_TINY`: every operator of Table I at an eighth of its width. Not a face model:
    it exists so that smoke runs and the tests of training, QAT and export build, trace and convert
    in seconds (a 4-step training of `mobilefacenet` takes several times as long here)."""
    return _build("mobilefacenet_tiny", input_shape, embedding_size, padding, **training)
