"""Architecture tables: one `Row` per line of a table like the paper's Table I.

A table is a tuple of rows, read top to bottom; `build_from_table` turns it into
a tf_keras functional model whose output is the flattened embedding. Layers are
named after their row (`bottleneck_3_2` is the second block of row 3), so a table
and the model summary can be read side by side.

Operators:

| operator   | meaning                                                           |
|------------|-------------------------------------------------------------------|
| conv3x3    | 3x3 conv, BN, activation                                          |
| dwconv3x3  | 3x3 depthwise conv, BN, activation                                |
| separable  | MobileNetV1 block: 3x3 depthwise + 1x1 pointwise, each BN + act   |
| bottleneck | MobileNetV2 inverted residual with expansion t                    |
| maxpool3x3 | 3x3 max pooling                                                   |
| shuffle    | ShuffleNet unit with g groups                                     |
| conv1x1    | 1x1 conv, BN, activation                                          |
| gdconv     | global depthwise conv: kernel = whole feature map, BN, linear     |
| gap        | global average pooling                                            |
| linear1x1  | 1x1 conv, BN, no activation                                       |

`n` repeats a row; only the first repeat uses stride `s`. Strided convolutions pad
as TensorFlow does (`padding="same"`: the extra row and column at the bottom and
right) or, with `padding="symmetric"`, as PyTorch models do (one on every side of a
3x3 kernel); stride-1 convolutions pad the same either way.

Example:

    >>> from tfmfn.models.table import Row, build_from_table
    >>> tiny = (Row("conv3x3", c=8, s=2), Row("gdconv", c=8), Row("linear1x1", c=4))
    >>> build_from_table(tiny, (16, 16, 3), "relu", "tiny").output_shape
    (None, 4)
"""

import dataclasses

import tf_keras as keras
from tf_keras import layers

from tfmfn.models import blocks

GLOBAL_OPERATORS = ("gdconv", "gap")


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of an architecture table (t: expansion, c: channels, n: repeats,
    s: stride of the first repeat, g: groups)."""

    op: str
    t: int = 1
    c: int = 0
    n: int = 1
    s: int = 1
    g: int = 1


def with_embedding_size(table, embedding_size):
    """The table with its embedding width set to `embedding_size`.

    The embedding is the output of the last row. When that row is a linear 1x1
    conv, its width is set. When it is a GDConv, the embedding is as wide as the
    GDConv's input, so the 1x1 conv that feeds it is widened instead; a table
    with no such conv has a fixed embedding size.
    """
    rows = list(table)
    last = rows[-1]
    if last.op == "linear1x1":
        rows[-1] = dataclasses.replace(last, c=embedding_size)
        return tuple(rows)
    if last.op == "gdconv" and rows[-2].op == "conv1x1":
        rows[-2] = dataclasses.replace(rows[-2], c=embedding_size)
        rows[-1] = dataclasses.replace(last, c=embedding_size)
        return tuple(rows)
    if last.c == embedding_size:
        return table
    raise ValueError(
        f"this architecture's embedding size is fixed at {last.c}; "
        f"it cannot produce {embedding_size}-d embeddings"
    )


def check_input_shape(input_shape):
    """Raises a ValueError unless `input_shape` is (height, width, 3) with sides >= 16."""
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3 or min(shape[:2]) < 16:
        raise ValueError(
            f"input_shape must be (height, width, 3) with height and width >= 16, got {shape}"
        )
    return shape


def expand(table):
    """The table as one row per block (`n` = 1): two tables that build the same network expand
    to the same rows, however their repeats are grouped.

        >>> expand((Row("bottleneck", t=2, c=64, n=3, s=2),))[1:]
        (Row(op='bottleneck', t=2, c=64, n=1, s=1, g=1), Row(op='bottleneck', t=2, c=64, n=1, s=1, g=1))
    """
    return tuple(
        dataclasses.replace(row, n=1, s=row.s if repeat == 0 else 1) for row in table for repeat in range(row.n)
    )


def build_from_table(table, input_shape, activation, name, padding="same", weight_decay=(0.0, 0.0),
                     synchronized_batch_norm=False):
    """Builds the functional model that `table` describes, returning embeddings; `padding` is
    how its strided convolutions pad (`blocks.PADDINGS`). For training, `weight_decay` is
    (decay of the kernels up to the global operator, decay of the rows after it), as the paper
    decays them (4e-5, 4e-4), and `synchronized_batch_norm` reduces BatchNorm across replicas."""
    if padding not in blocks.PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(blocks.PADDINGS)}")
    pooled = sorted({row.op for row in table if row.op in ("maxpool3x3", "shuffle")})
    if padding != "same" and pooled:
        raise ValueError(f"{', '.join(pooled)} rows pool with TensorFlow's padding only; use padding='same'")
    inputs = keras.Input(check_input_shape(input_shape), name="image")
    global_rows = [index for index, row in enumerate(table, start=1) if row.op in GLOBAL_OPERATORS]
    last_before = global_rows[0] if global_rows else len(table)
    x = inputs
    for index, row in enumerate(table, start=1):
        decay = weight_decay[1] if index > last_before else weight_decay[0]
        options = blocks.TrainOptions(decay, synchronized_batch_norm)
        x = _apply_row(x, row, activation, f"{row.op}_{index}", padding, options)
    outputs = layers.Flatten(name="embedding")(x)
    return keras.Model(inputs, outputs, name=name)


def _apply_row(x, row, activation, name, padding, options):
    if row.op == "conv3x3":
        return blocks.conv(x, row.c, 3, row.s, activation, name, padding=padding, options=options)
    if row.op == "conv1x1":
        return blocks.conv(x, row.c, 1, row.s, activation, name, options=options)
    if row.op == "linear1x1":
        return blocks.conv(x, row.c, 1, row.s, None, name, options=options)
    if row.op == "maxpool3x3":
        return layers.MaxPooling2D(3, row.s, padding="same", name=name)(x)
    if row.op == "gap":
        return layers.GlobalAveragePooling2D(keepdims=True, name=name)(x)
    if row.op in ("dwconv3x3", "gdconv"):
        _check_width(x, row, name)
        if row.op == "dwconv3x3":
            return blocks.depthwise(x, 3, row.s, activation, name, padding=padding, options=options)
        return blocks.depthwise(x, tuple(x.shape[1:3]), 1, None, name, padding="valid", options=options)
    repeated = {
        "bottleneck": lambda y, s, unit: blocks.bottleneck(y, row.t, row.c, s, activation, unit, padding, options),
        "separable": lambda y, s, unit: blocks.separable(y, row.c, s, activation, unit, padding, options),
        "shuffle": lambda y, s, unit: blocks.shuffle_unit(
            y, row.c, s, row.g, activation, unit, first_groups=_first_shuffle_groups(y, row), options=options
        ),
    }
    if row.op not in repeated:
        raise ValueError(f"unknown operator {row.op!r} in architecture table")
    for repeat in range(row.n):
        x = repeated[row.op](x, row.s if repeat == 0 else 1, f"{name}_{repeat + 1}")
    return x


def _check_width(x, row, name):
    if x.shape[-1] != row.c:
        raise ValueError(f"{name}: a depthwise row keeps {x.shape[-1]} channels, table says {row.c}")


def _first_shuffle_groups(x, row):
    """ShuffleNet groups its first 1x1 conv only when the input is wide enough (> 24)."""
    return row.g if x.shape[-1] > 24 else 1
