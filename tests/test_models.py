"""The zoo against the paper: Table I's shapes and counts, Table II's parameter figures."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

from tfmfn import models
from tfmfn.models import blocks, mobilefacenet, profile
from tfmfn.models.table import Row, build_from_table

MOBILEFACENET_VARIANTS = [
    name for name in models.names() if name.startswith("mobilefacenet_") and models.ZOO[name].paper_params
]
BASELINES = [name for name in models.names() if not name.startswith("mobilefacenet")]


@pytest.fixture(scope="module")
def profiles():
    return {name: profile.profile(models.build(name)) for name in models.names()}


def test_mobilefacenet_matches_paper_counts(profiles):
    stats = profiles["mobilefacenet"]
    assert 988_000 <= stats.params <= 998_000
    assert 218_800_000 <= stats.macs <= 223_200_000
    assert (stats.params, stats.trainable_params, stats.macs) == (993_344, 1_003_136, 220_965_376)


@pytest.mark.parametrize("name", MOBILEFACENET_VARIANTS)
def test_mobilefacenet_variants_within_3_percent_of_paper(profiles, name):
    paper = models.ZOO[name].paper_params * 1e6
    assert abs(profiles[name].params / paper - 1) <= 0.03


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_within_8_percent_of_paper(profiles, name):
    paper = models.ZOO[name].paper_params * 1e6
    assert abs(profiles[name].params / paper - 1) <= 0.08


def test_table_one_feature_map_sizes():
    net = models.build("mobilefacenet")
    expected = {
        "conv3x3_1_act": (56, 56, 64),
        "dwconv3x3_2_act": (56, 56, 64),
        "bottleneck_3_5_add": (28, 28, 64),
        "bottleneck_4_1_project_bn": (14, 14, 128),
        "bottleneck_5_6_add": (14, 14, 128),
        "bottleneck_6_1_project_bn": (7, 7, 128),
        "bottleneck_7_2_add": (7, 7, 128),
        "conv1x1_8_act": (7, 7, 512),
        "gdconv_9_bn": (1, 1, 512),
        "linear1x1_10_bn": (1, 1, 128),
    }
    for layer_name, shape in expected.items():
        assert net.get_layer(layer_name).output_shape[1:] == shape, layer_name
    gdconv = net.get_layer("gdconv_9")
    assert gdconv.kernel_size == (7, 7) and gdconv.padding == "valid"


def test_residuals_activations_and_linear_layers():
    net = models.build("mobilefacenet")
    kinds = [type(layer).__name__ for layer in net.layers]
    # Blocks 2-5 of row 3, all 6 of row 5 and both of row 7 keep stride 1 and width.
    assert kinds.count("Add") == 4 + 6 + 2
    prelus = [layer for layer in net.layers if isinstance(layer, keras.layers.PReLU)]
    # conv, dw, 15 bottlenecks x (expand, dw), conv1x1: every non-linear conv.
    assert len(prelus) == 2 + 15 * 2 + 1
    assert all(layer.shared_axes == [1, 2] for layer in prelus)
    np.testing.assert_allclose(prelus[0].get_weights()[0], 0.25)
    for linear in ("bottleneck_3_1_project_bn", "gdconv_9_bn", "linear1x1_10_bn"):
        consumers = [node.outbound_layer for node in net.get_layer(linear).outbound_nodes]
        assert not any(isinstance(layer, keras.layers.PReLU) for layer in consumers), linear


def test_relu_variant_has_no_prelu():
    net = models.build("mobilefacenet_relu")
    assert not any(isinstance(layer, keras.layers.PReLU) for layer in net.layers)
    assert sum(isinstance(layer, keras.layers.ReLU) for layer in net.layers) == 33


def test_variant_structure():
    assert models.build("mobilefacenet_m").output_shape == (None, 512)
    assert models.build("mobilefacenet_m", embedding_size=256).output_shape == (None, 256)
    small = models.build("mobilefacenet_s")
    assert small.output_shape == (None, 128)
    assert small.get_layer("gdconv_8").input_shape == (None, 7, 7, 128)
    assert models.build("mobilefacenet_96x96").get_layer("gdconv_9").kernel_size == (6, 6)
    assert models.build("mobilefacenet_112x96").get_layer("gdconv_9").kernel_size == (7, 6)
    doubled = models.build("mobilefacenet_x2")
    assert doubled.get_layer("bottleneck_3_1_expand").filters == 64 * 4
    assert doubled.get_layer("bottleneck_5_1_expand").filters == 128 * 2
    every_row = mobilefacenet.mobilefacenet_x2(doubled_rows=(3, 4, 5, 6, 7))
    assert every_row.get_layer("bottleneck_5_1_expand").filters == 128 * 4


@pytest.mark.parametrize("name", models.names())
def test_every_model_embeds_a_batch(name):
    net = models.build(name)
    images = np.random.default_rng(0).uniform(-1, 1, (2, *net.input_shape[1:])).astype(np.float32)
    embeddings = net(images, training=False).numpy()
    assert embeddings.shape == (2, net.output_shape[-1])
    assert np.isfinite(embeddings).all()
    # Inference treats each face on its own: no batch statistics leak between images.
    alone = net(images[:1], training=False).numpy()
    np.testing.assert_allclose(alone[0], embeddings[0], rtol=1e-4, atol=1e-5)


def test_input_and_embedding_size_are_parameters():
    net = models.build("mobilefacenet", input_shape=(128, 128, 3), embedding_size=256)
    assert net.input_shape == (None, 128, 128, 3) and net.output_shape == (None, 256)
    assert net.get_layer("gdconv_9").kernel_size == (8, 8)
    assert models.build("mobilenet_v2", embedding_size=64).output_shape == (None, 64)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="unknown model 'mobilefacenet_xl'"):
        models.build("mobilefacenet_xl")
    with pytest.raises(ValueError, match="fixed at 128"):
        models.build("mobilefacenet_s", embedding_size=256)
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        models.build("mobilefacenet", input_shape=(112, 112))
    with pytest.raises(ValueError, match="not a bottleneck row"):
        mobilefacenet.mobilefacenet_x2(doubled_rows=(8,))
    with pytest.raises(ValueError, match="unknown activation"):
        mobilefacenet.mobilefacenet(activation="gelu")
    with pytest.raises(ValueError, match="unknown operator"):
        build_from_table((Row("conv5x5", c=8),), (16, 16, 3), "relu", "bad")


def test_channel_shuffle_interleaves_groups():
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 1, 12)
    shuffled = blocks.ChannelShuffle(groups=3)(x).numpy().ravel()
    assert shuffled.tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]


def test_profile_counts_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)  # folds: +4 biases
    x = keras.layers.Conv2D(6, 1, use_bias=True)(x)
    x = keras.layers.BatchNormalization()(x)  # folds into an existing bias: +0
    x = keras.layers.Add()([x, x])
    x = keras.layers.BatchNormalization()(x)  # follows no conv: keeps scale and shift
    x = keras.layers.DepthwiseConv2D(8, padding="valid", use_bias=False)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5)(x)
    stats = profile.profile(keras.Model(inputs, x))
    assert stats.params == (27 * 4 + 4) + (4 * 6 + 6) + 2 * 6 + 64 * 6 + (6 * 5 + 5)
    assert stats.macs == 64 * 27 * 4 + 64 * 4 * 6 + 64 * 6 + 6 * 5


def test_cli_json_lists_the_zoo():
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.models", "--json", "--arch", "mobilefacenet,shufflenet_g3"],
        capture_output=True, text=True, check=True,
    )
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == ["mobilefacenet", "shufflenet_g3"]
    assert set(rows[0]) == {"name", "input_shape", "params", "trainable_params", "macs", "paper_params"}
    assert rows[0]["params"] == 993_344 and rows[0]["macs"] == 220_965_376
    assert rows[0]["paper_params"] == 990_000 and rows[0]["input_shape"] == [112, 112, 3]


def test_cli_table_and_errors():
    table = subprocess.run(
        [sys.executable, "-m", "tfmfn.models", "--arch", "mobilefacenet_96x96"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "mobilefacenet_96x96" in table and "96x96x3" in table and "162.4M" in table
    bad = subprocess.run(
        [sys.executable, "-m", "tfmfn.models", "--arch", "resnet"], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "unknown model resnet" in bad.stderr


def test_cli_latency_points_to_the_benchmark():
    moved = subprocess.run([sys.executable, "-m", "tfmfn.models", "--latency"], capture_output=True, text=True)
    assert moved.returncode != 0 and "python -m tfmfn.benchmark --paper_table" in moved.stderr