"""The baselines of the paper's Table II, set up for 112x112 faces as the paper did.

Each baseline keeps its ImageNet body but uses stride 1 in its first conv (the
paper: stride 2 there was very poor at 112x112), which leaves a 7x7 final map,
and ends in a 128-d embedding: global average pooling (GDConv for
MobileNetV2-GDConv), then a linear 1x1 conv and BN.

The paper does not spell out these networks beyond their names and parameter
counts. Where a faithful body cannot reach its figure, we chose the smallest
change that does, and each builder takes an argument that restores the original:

- MobileNetV2 ends in a 512-wide 1x1 conv, as MobileFaceNet does, instead of
  1280: with 1280 and a 128-d embedding layer the network has 2.37M (GAP) and
  2.43M (GDConv) parameters, 13% and 16% above the paper's 2.1M for both rows;
  with 512 it has 2.03M and 2.05M. `last_channels=1280` gives the original.
- ShuffleNet 1x (g=3) keeps 3 units in its last stage instead of 4: the paper's
  0.83M is below the faithful body alone (0.89M before any embedding layer,
  1.02M with it); with 3 units it has 0.86M. `stage_repeats=(4, 8, 4)` gives
  the original.

Example:

    >>> from tfmfn.models import baselines
    >>> baselines.mobilenet_v2_gdconv().output_shape
    (None, 128)
"""

from tfmfn.models.mobilefacenet import INPUT_SHAPE
from tfmfn.models.registry import register
from tfmfn.models.table import Row, build_from_table, with_embedding_size

MOBILENET_V1 = (
    #   operator     t     c    n  s
    Row("conv3x3",   1,   32,   1, 1),
    Row("separable", 1,   64,   1, 1),
    Row("separable", 1,  128,   1, 2),
    Row("separable", 1,  128,   1, 1),
    Row("separable", 1,  256,   1, 2),
    Row("separable", 1,  256,   1, 1),
    Row("separable", 1,  512,   1, 2),
    Row("separable", 1,  512,   5, 1),
    Row("separable", 1, 1024,   1, 2),
    Row("separable", 1, 1024,   1, 1),
    Row("gap"),
    Row("linear1x1", 1,  128,   1, 1),
)  # fmt: skip


def mobilenet_v2_table(last_channels=512, global_operator="gap"):
    """MobileNetV2 1.0 (ReLU6) with a stride-1 stem and the given tail."""
    return (
        #   operator              t      c    n  s
        Row("conv3x3",            1,    32,   1, 1),
        Row("bottleneck",         1,    16,   1, 1),
        Row("bottleneck",         6,    24,   2, 2),
        Row("bottleneck",         6,    32,   3, 2),
        Row("bottleneck",         6,    64,   4, 2),
        Row("bottleneck",         6,    96,   3, 1),
        Row("bottleneck",         6,   160,   3, 2),
        Row("bottleneck",         6,   320,   1, 1),
        Row("conv1x1",            1, last_channels, 1, 1),
        Row(global_operator,      1, last_channels, 1, 1),
        Row("linear1x1",          1,   128,   1, 1),
    )  # fmt: skip


def shufflenet_g3_table(stage_repeats=(4, 8, 3)):
    """ShuffleNet 1x, g=3 (ReLU) with a stride-1 stem; `stage_repeats` per stage."""
    stage2, stage3, stage4 = stage_repeats
    return (
        #   operator      t    c       n  s  g
        Row("conv3x3",    1,   24,     1, 1),
        Row("maxpool3x3", 1,   24,     1, 2),
        Row("shuffle",    1,  240, stage2, 2, 3),
        Row("shuffle",    1,  480, stage3, 2, 3),
        Row("shuffle",    1,  960, stage4, 2, 3),
        Row("gap"),
        Row("linear1x1",  1,  128,     1, 1),
    )  # fmt: skip


@register("MobileNetV1", (3.2, 98.63, 88.95, 60), MOBILENET_V1, "relu")
def mobilenet_v1(input_shape=INPUT_SHAPE, embedding_size=128, **training):
    """MobileNetV1 1.0 with a stride-1 first conv, GAP and a 128-d linear embedding."""
    table = with_embedding_size(MOBILENET_V1, embedding_size)
    return build_from_table(table, input_shape, "relu", "mobilenet_v1", **training)


@register("ShuffleNet (1x, g=3)", (0.83, 98.70, 89.27, 27), shufflenet_g3_table(), "relu")
def shufflenet_g3(input_shape=INPUT_SHAPE, embedding_size=128, stage_repeats=(4, 8, 3), **training):
    """ShuffleNet 1x (g=3) with a stride-1 first conv, GAP and a 128-d linear embedding."""
    table = with_embedding_size(shufflenet_g3_table(stage_repeats), embedding_size)
    return build_from_table(table, input_shape, "relu", "shufflenet_g3", **training)


@register("MobileNetV2", (2.1, 98.58, 88.81, 49), mobilenet_v2_table(), "relu6")
def mobilenet_v2(input_shape=INPUT_SHAPE, embedding_size=128, last_channels=512, **training):
    """MobileNetV2 1.0 with a stride-1 first conv, GAP and a 128-d linear embedding."""
    table = with_embedding_size(mobilenet_v2_table(last_channels), embedding_size)
    return build_from_table(table, input_shape, "relu6", "mobilenet_v2", **training)


@register("MobileNetV2-GDConv", (2.1, 98.88, 90.67, 50), mobilenet_v2_table(global_operator="gdconv"), "relu6")
def mobilenet_v2_gdconv(input_shape=INPUT_SHAPE, embedding_size=128, last_channels=512, **training):
    """MobileNetV2 with GDConv in place of global average pooling."""
    table = with_embedding_size(mobilenet_v2_table(last_channels, "gdconv"), embedding_size)
    return build_from_table(table, input_shape, "relu6", "mobilenet_v2_gdconv", **training)
