"""Training: weight decay by position and once, resume after a kill, replicas = one device, CLI, export, errors.

Every run here trains on a tiny SYNTHETIC set (8 identities x 4 images) for a few steps.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import models, storage, train
from tfmfn.data import pipeline, synth, tfrecord
from tfmfn.models import heads

from conftest import TINY_ARCH


@pytest.fixture(scope="module")
def tiny(tiny_faces):
    return tiny_faces


def tiny_config(tiny, model_dir, **overrides):
    settings = dict(arch=TINY_ARCH, data=str(tiny / "train"), eval_bins=(), model_dir=str(model_dir), batch_size=8,
                    steps=4, lr_boundaries=(), log_every=1, checkpoint_every=2, eval_every=100)
    return configs.make_config("synthetic", **{**settings, **overrides})


def run_cli(*arguments, timeout=600):
    return subprocess.run([sys.executable, "-m", "tfmfn.train", *arguments], capture_output=True, text=True,
                          timeout=timeout)


def cli_arguments(tiny, model_dir, *extra):
    return ["--arch", TINY_ARCH, "--data", str(tiny / "train"), "--eval_bins", "", "--model_dir", str(model_dir),
            "--batch_size", "8", "--lr_boundaries=", "--log_every", "1", "--checkpoint_every", "2", *extra]


@pytest.mark.parametrize(
    "name, after_global",
    [("mobilefacenet", ["linear1x1_10"]), ("mobilefacenet_m", []), ("mobilenet_v1", ["linear1x1_12"])],
)
def test_weight_decay_follows_the_global_operator(name, after_global):
    """The builder decays every kernel as its table row says, and the penalty sums exactly those."""
    embedder = models.build(name, weight_decay=(4e-5, 4e-4))
    head = heads.ArcFace(10, kernel_regularizer=keras.regularizers.L2(0.5 * 4e-4))
    model = heads.training_model(embedder, head)
    pairs = train.kernel_decays(model)
    decays = {weight.name: decay for weight, decay in pairs}
    assert len(decays) == len(pairs)  # no variable twice
    kernels = [weight.name for weight in embedder.trainable_weights if "kernel" in weight.name]
    assert set(decays) == set(kernels) | {head.kernel.name}  # every kernel, no BN or PReLU parameter
    strong = sorted(weight_name.split("/")[0] for weight_name, decay in decays.items() if decay == 4e-4)
    assert strong == sorted(after_global + [head.kernel.name.split("/")[0]])
    assert all(decay == 4e-5 for weight_name, decay in decays.items() if weight_name.split("/")[0] not in strong)
    expected = sum(0.5 * decay * float(np.sum(np.square(weight.numpy()))) for weight, decay in pairs)
    assert float(train.weight_decay_penalty(model)) == pytest.approx(expected, rel=1e-5)
    assert train.kernel_decays(models.build(name)) == []  # built for inference: nothing decayed


def test_weight_decay_is_applied_once(tiny, tmp_path):
    recipe = tiny_config(tiny, tmp_path, optimizer="sgd", momentum=0.0, learning_rate=0.5, lr_boundaries=())
    keras.utils.set_random_seed(0)
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data))
    assert trainer.optimizer.weight_decay is None  # decayed through the kernels' losses, nowhere else
    assert len(trainer.model.losses) == len(train.kernel_decays(trainer.model)) > 0
    images, labels = next(iter(pipeline.make_dataset(trainer.source, 8, seed=3)))
    kernel = trainer.head.kernel
    before = kernel.numpy()
    moving_mean = [weight for weight in trainer.embedder.weights if "moving_mean" in weight.name][0]
    statistics = moving_mean.numpy()
    with tf.GradientTape() as tape:
        loss, _, _, _ = trainer.losses(images, labels)
    cross_entropy_gradient = tape.gradient(loss, kernel).numpy()
    moving_mean.assign(statistics)
    trainer.run_steps(iter(tf.data.Dataset.from_tensors((images, labels))), 1)
    expected = before - 0.5 * (cross_entropy_gradient + 4e-4 * before)
    np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-4, atol=1e-7)
    doubled = before - 0.5 * (cross_entropy_gradient + 8e-4 * before)
    assert not np.allclose(kernel.numpy(), doubled, rtol=1e-4, atol=1e-7)


def test_learning_rate_schedule_by_step(tiny, tmp_path):
    recipe = tiny_config(tiny, tmp_path, steps=8, learning_rate=0.1, lr_boundaries=(2, 5), lr_decay=0.1)
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data))
    assert [trainer.learning_rate(step) for step in (0, 2, 3, 5, 6)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    fractions = tiny_config(tiny, tmp_path, steps=8, learning_rate=0.1, lr_boundaries=(0.25, 0.625), lr_decay=0.1)
    trainer = train.Trainer(fractions, tf.distribute.get_strategy(), pipeline.open_source(fractions.data))
    assert [trainer.learning_rate(step) for step in (0, 2, 3, 5, 6)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_auto_strategy_without_accelerators_is_the_single_device():
    strategy = train.make_strategy("auto")
    assert strategy.num_replicas_in_sync == 1 and strategy is tf.distribute.get_strategy()
    assert train.is_chief(strategy)
    mirrored = train.make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy) and train.is_chief(mirrored)


def test_a_killed_run_resumes_to_the_uninterrupted_weights(tiny, tmp_path):
    arguments = ["--steps", "10", "--deterministic"]
    whole = run_cli(*cli_arguments(tiny, tmp_path / "whole", *arguments))
    assert whole.returncode == 0, whole.stderr[-3000:]
    process = subprocess.Popen(
        [sys.executable, "-m", "tfmfn.train", *cli_arguments(tiny, tmp_path / "killed", *arguments)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    state = tmp_path / "killed" / "checkpoints" / "checkpoint"
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline:
        if state.exists() and '"ckpt-4"' in state.read_text():
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "export").exists()  # it died before the end
    resumed = run_cli(*cli_arguments(tiny, tmp_path / "killed", *arguments))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resumed_at = int(resumed.stdout.split("resuming at step ")[1].split()[0])
    assert 4 <= resumed_at < 10
    first = keras.models.load_model(tmp_path / "whole" / "export" / "embedder.keras", compile=False)
    second = keras.models.load_model(tmp_path / "killed" / "export" / "embedder.keras", compile=False)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    logged = [line.split(",")[0] for line in (tmp_path / "killed" / "train_log.csv").read_text().splitlines()[1:]]
    assert logged == [str(step) for step in range(1, 11)]  # rows after the checkpoint were replaced, not repeated
    whole_log = (tmp_path / "whole" / "train_log.csv").read_text().splitlines()
    resumed_log = (tmp_path / "killed" / "train_log.csv").read_text().splitlines()
    column = whole_log[0].split(",").index("learning_rate")
    assert [row.split(",")[column] for row in whole_log[1:]] == [row.split(",")[column] for row in resumed_log[1:]]


def test_a_run_in_epochs_trains_the_steps_they_make(tiny, tmp_path):
    recipe = tiny_config(tiny, tmp_path, epochs=1.5, lr_boundaries=(1,), learning_rate=0.01)
    card = train.train(recipe, verbose=False)  # 32 images at batch 8: 6 steps, the boundary at step 4
    assert card["training"]["steps_trained"] == 6
    rows = list(csv.DictReader((tmp_path / "train_log.csv").open()))
    rates = [float(row["learning_rate"]) for row in rows]
    assert rates == pytest.approx([0.01] * 5 + [0.001])  # as with steps: the rate drops after the boundary step


def test_warm_up_rises_linearly_into_the_schedule(tiny, tmp_path):
    recipe = tiny_config(tiny, tmp_path, steps=8, learning_rate=0.1, lr_boundaries=(6,), warmup_steps=4)
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data))
    assert [trainer.learning_rate(step) for step in range(8)] == pytest.approx(
        [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.1, 0.01])
    assert recipe.schedule_text() == "learning rate rising linearly over 4 steps to 0.1 to step 6, 0.01 to step 8"
    with pytest.raises(ValueError, match="--warmup_steps must lie in 0 .. --steps - 1"):
        tiny_config(tiny, tmp_path, warmup_steps=4)


ONE_STEP = """
import json, sys, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfmfn import config, train
from tfmfn.data import pipeline
ONE, MIRRORED = tf.distribute.OneDeviceStrategy("/cpu:0"), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
def step_change(strategy, data, model_dir, after_global=False, **overrides):
    # every trainable weight's change in one SGD step (no momentum, rate 0.5) of batch 16, as one vector;
    # with after_global, only the kernels after the global operator (the linear 1x1 and the head)
    recipe = config.make_config("synthetic", arch=ARCH, data=data, eval_bins=(), batch_size=16, steps=2,
                                lr_boundaries=(), optimizer="sgd", momentum=0.0, learning_rate=0.5, model_dir=model_dir,
                                **overrides)
    tf.keras.utils.set_random_seed(0)
    trainer = train.Trainer(recipe, strategy, pipeline.open_source(data))
    weights = trainer.model.trainable_weights
    if after_global:
        weights = [weight for weight, decay in train.kernel_decays(trainer.model)
                   if decay == recipe.weight_decay_after_global]
    before = [weight.numpy() for weight in weights]
    trainer.run_steps(iter(trainer.dataset(0)), 1)
    return np.concatenate([(weight.numpy() - old).ravel() for weight, old in zip(weights, before)])
"""


def run_one_step_script(code):
    result = subprocess.run([sys.executable, "-c", f"ARCH = {TINY_ARCH!r}" + ONE_STEP + textwrap.dedent(code)],
                            capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_gradient_clipping_bounds_the_whole_steps_norm_on_one_device_and_two_replicas(tiny, tmp_path):
    norms = run_one_step_script(
        f"""
        data, root = {str(tiny / "train")!r}, {str(tmp_path)!r}
        print(json.dumps({{name: float(np.linalg.norm(step_change(strategy, data, root + "/" + name, clip_norm=clip)))
                          for name, strategy, clip in (("free", ONE, 0.0), ("one", ONE, 1e-3),
                                                       ("mirrored", MIRRORED, 1e-3))}}))
        """
    )
    assert norms["free"] > 0.5 * 1e-2  # the unclipped step is far larger than the clipped one
    # SGD without momentum: the step is the learning rate times the clipped gradient. Each replica clipping its
    # own half would give up to twice that under two replicas.
    assert norms["one"] == pytest.approx(0.5 * 1e-3, rel=1e-3)
    assert norms["mirrored"] == pytest.approx(0.5 * 1e-3, rel=1e-3)


def test_weight_decay_under_two_replicas_moves_the_weights_as_on_one_device(tiny, tmp_path):
    """The kernels after the global operator, decayed strongly (1.0) so that a penalty counted per replica
    would show; the kernels before BatchNorm layers agree only to about 0.5% (round-off through the batch
    statistics of 16 images), those after the global operator to round-off."""
    distances = run_one_step_script(
        f"""
        data, root = {str(tiny / "train")!r}, {str(tmp_path)!r}
        decay = dict(sync_batch_norm=True, weight_decay_after_global=1.0, after_global=True)
        doubled = dict(sync_batch_norm=True, weight_decay_after_global=2.0, after_global=True)
        one = step_change(ONE, data, root + "/one", **decay)
        mirrored = step_change(MIRRORED, data, root + "/mirrored", **decay)
        twice = step_change(ONE, data, root + "/doubled", **doubled)
        print(json.dumps({{"mirrored": float(np.linalg.norm(mirrored - one)),
                          "doubled": float(np.linalg.norm(twice - one)), "step": float(np.linalg.norm(one))}}))
        """
    )
    assert distances["doubled"] > 0.05 * distances["step"]  # the decay is a large part of the step
    assert distances["mirrored"] < 1e-3 * distances["doubled"]


def test_mirrored_replicas_follow_the_single_device_loss(tiny, tmp_path):
    code = textwrap.dedent(
        f"""
        import json, tfmfn, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfmfn import config, train
        losses = {{}}
        for name, strategy in (("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
                               ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
            recipe = config.make_config("synthetic", arch={TINY_ARCH!r}, data={str(tiny / "train")!r}, eval_bins=(),
                                        batch_size=16,
                                        steps=3, log_every=1, checkpoint_every=3, sync_batch_norm=True,
                                        optimizer="sgd", learning_rate=1e-3, lr_boundaries=(),
                                        model_dir={str(tmp_path)!r} + "/" + name)
            card = train.train(recipe, strategy, verbose=False)
            rows = open(recipe.model_dir + "/train_log.csv").read().splitlines()[1:]
            losses[name] = [float(row.split(",")[1]) for row in rows]
            losses[name + "_replicas"] = card["training"]["replicas"]
        print(json.dumps(losses))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    assert (losses["one_replicas"], losses["mirrored_replicas"]) == (1, 2)
    assert len(losses["one"]) == 3 and losses["one"][0] - losses["one"][-1] > 1.0  # it trains
    # Equal to float32 round-off; after a few steps round-off grows (one device with the
    # synchronised BN's formula drifts from plain BN as much), hence three steps at a low rate. How fast it
    # grows depends on the CPU's kernels: on an Intel Xeon, 1.5e-7 and 1e-5 apart at steps 1 and 2, 0.2% at
    # step 3 (`mobilefacenet_tiny` at rate 1e-3; `mobilefacenet` at 1e-4 drifted as much).
    np.testing.assert_allclose(losses["mirrored"][:2], losses["one"][:2], rtol=1e-4)
    np.testing.assert_allclose(losses["mirrored"][2], losses["one"][2], rtol=1e-2)


def test_mixed_precision_computes_float32s_loss_and_exports_float32(tiny, tmp_path):
    losses = {}
    for name, mixed in (("float32", False), ("mixed", True)):
        recipe = tiny_config(tiny, tmp_path / name, steps=2, mixed_precision=mixed)
        card = train.train(recipe, tf.distribute.get_strategy(), verbose=False)
        assert card["training"]["steps_trained"] == 2
        rows = (tmp_path / name / "train_log.csv").read_text().splitlines()[1:]
        losses[name] = [float(row.split(",")[1]) for row in rows]
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    exported = keras.models.load_model(tmp_path / "mixed" / "export" / "embedder.keras", compile=False)
    assert {layer.dtype_policy.name for layer in exported.layers} == {"float32"}
    # float16 activations give float32's loss to float16's precision. Later steps are not compared: the dynamic
    # loss scale starts at 2**15 and skips the first updates while it overflows (a few steps of a long run).
    assert losses["mixed"][0] == pytest.approx(losses["float32"][0], rel=1e-3)
    assert all(np.isfinite(losses["mixed"]))


@pytest.mark.parametrize("first, then", [(False, True), (True, False)], ids=["float32_then_mixed", "mixed_then_float32"])
def test_a_run_resumes_with_mixed_precision_switched(tiny, tmp_path, first, then):
    """A TPU run (bfloat16, no loss scale) continued on a GPU (float16, loss scale), and back: the checkpoint
    holds the same variables either way."""
    card = train.train(tiny_config(tiny, tmp_path, steps=1, mixed_precision=first), verbose=False)
    trained = keras.models.load_model(tmp_path / "export" / "embedder.keras", compile=False).get_weights()
    reopened = train.train(tiny_config(tiny, tmp_path, steps=1, mixed_precision=then), verbose=False)
    assert reopened["training"]["steps_trained"] == card["training"]["steps_trained"] == 1
    for restored, saved in zip(
            keras.models.load_model(tmp_path / "export" / "embedder.keras", compile=False).get_weights(), trained):
        np.testing.assert_array_equal(restored, saved)
    continued = train.train(tiny_config(tiny, tmp_path, steps=3, mixed_precision=then), verbose=False)
    assert continued["training"]["steps_trained"] == 3
    logged = [row.split(",")[0] for row in (tmp_path / "train_log.csv").read_text().splitlines()[1:]]
    assert logged == ["1", "2", "3"]
    if then:  # and float16 continued as float16 keeps its loss scale
        checkpoint = tf.train.latest_checkpoint(tmp_path / "checkpoints")
        saved = tf.train.load_variable(checkpoint, "loss_scale/current_loss_scale/.ATTRIBUTES/VARIABLE_VALUE")
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            recipe = tiny_config(tiny, tmp_path, steps=3, mixed_precision=True)
            trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data), checkpoint)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        assert float(trainer.optimizer.loss_scale) == saved < 2.0**15 and trainer.step == 3


def test_two_stages_softmax_then_arcface_from_the_cli(tiny, tmp_path):
    """insightface's MobileFaceNet recipe: a softmax head first, then ArcFace from its weights and class centres."""
    stage_one, stage_two = tmp_path / "softmax", tmp_path / "arcface"
    softmax = run_cli("--config", "synthetic_softmax", *cli_arguments(tiny, stage_one, "--steps", "2"))
    assert softmax.returncode == 0, softmax.stderr[-3000:]
    with np.load(stage_one / "export" / train.HEAD_WEIGHTS) as saved:
        assert sorted(saved.files) == ["bias", "kernel"]
        centres = saved["kernel"]
    arcface = run_cli("--config", "synthetic_arcface", "--init_from", str(stage_one),
                      *cli_arguments(tiny, stage_two, "--steps", "2"))
    assert arcface.returncode == 0, arcface.stderr[-3000:]
    assert "head from its export" in arcface.stdout
    card = json.loads((stage_two / "export" / "model_card.json").read_text())
    assert card["training"]["config"]["head"] == "arcface" and card["training"]["head_from_initial_weights"]
    assert card["training"]["initial_weights"] == str(stage_one / "export" / "embedder.keras")

    recipe = tiny_config(tiny, tmp_path / "fresh", init_from=str(stage_one))
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data))
    assert isinstance(trainer.head, heads.ArcFace)
    np.testing.assert_array_equal(trainer.head.kernel.numpy(), centres)
    first = keras.models.load_model(stage_one / "export" / "embedder.keras", compile=False)
    for started, trained in zip(trainer.embedder.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(started, trained)


def test_the_softmax_heads_bias_is_not_decayed(tiny, tmp_path):
    recipe = tiny_config(tiny, tmp_path, head="softmax")
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data))
    decayed = {weight.name: decay for weight, decay in train.kernel_decays(trainer.model)}
    assert decayed[trainer.head.kernel.name] == recipe.weight_decay_after_global
    assert trainer.head.bias.name not in decayed


def test_a_run_folder_and_its_data_live_on_tensorflows_file_systems(tiny, tmp_path, monkeypatch):
    """gs:// cannot be reached here: TensorFlow's in-memory ram:// goes through the same tf.io.gfile calls."""
    monkeypatch.chdir(tmp_path)
    root = "ram://tfmfn-train-test"
    data = f"{root}/tfrecords/tiny"
    tfrecord.write_tfrecords(pipeline.open_source(str(tiny / "train")).samples(seed=0), data, num_shards=2)
    model_dir = f"{root}/runs/tiny"
    settings = dict(data=data, eval_bins=(str(tiny / "val.bin"),), eval_every=2)
    train.train(tiny_config(tiny, model_dir, steps=2, **settings), verbose=False)
    card = train.train(tiny_config(tiny, model_dir, steps=3, **settings), verbose=False)
    assert card["training"]["steps_trained"] == 3 and card["training"]["data"]["path"] == data
    assert list(tmp_path.iterdir()) == []  # nothing local, no folder named ram:
    assert tf.train.latest_checkpoint(f"{model_dir}/checkpoints").endswith("ckpt-3")
    for name in ("config.json", "train_log.csv", "eval_log.csv", "curves.png", "best/best.json",
                 "best/embedder.weights.h5", "best/roc.png", "export/embedder.keras", "export/head.npz",
                 "export/model_card.json", "export/roc.png"):
        assert storage.exists(f"{model_dir}/{name}"), name
    assert not tf.io.gfile.glob(f"{model_dir}/*/partial.*")
    logged = [row.split(",")[0] for row in storage.read_text(f"{model_dir}/train_log.csv").splitlines()[1:]]
    assert logged == ["1", "2", "3"]
    assert tf.io.gfile.glob(f"{model_dir}/logs/events.out.tfevents.*")
    assert json.loads(storage.read_text(f"{model_dir}/export/model_card.json"))["training"]["steps_trained"] == 3
    with storage.local_copy(f"{model_dir}/export/embedder.keras") as local:
        exported = keras.models.load_model(local, compile=False)
    assert exported.output_shape == (None, 128)


def test_the_card_records_paths_usable_from_another_working_directory(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny)
    card = train.train(tiny_config(tiny, tmp_path / "run", data="train", eval_bins=("val.bin",), steps=1),
                       verbose=False)
    recorded = card["training"]["config"]
    assert (recorded["data"], list(recorded["eval_bins"])) == (str(tiny / "train"), [str(tiny / "val.bin")])
    assert card["training"]["data"]["path"] == str(tiny / "train")


def test_cli_trains_evaluates_exports_and_reruns(tiny, tmp_path):
    model_dir = tmp_path / "run"
    arguments = cli_arguments(tiny, model_dir, "--steps", "4", "--eval_every", "2")
    arguments[arguments.index("--eval_bins") + 1] = str(tiny / "val.bin")
    result = run_cli(*arguments)
    assert result.returncode == 0, result.stderr[-3000:]
    export = model_dir / "export"
    card = json.loads((export / "model_card.json").read_text())
    assert card["model"] == TINY_ARCH and card["input_size"] == [112, 112] and card["embedding_size"] == 128
    assert card["normalization"] == {"mean": 127.5, "scale": 128.0, "formula": "(pixel - mean) / scale"}
    assert card["training"]["config"]["batch_size"] == 8 and card["training"]["steps_trained"] == 4
    assert card["training"]["data"]["num_classes"] == 8 and card["training"]["data"]["num_images"] == 32
    assert card["training"]["weights_from_step"] in (0, 2, 4)
    assert set(card["evaluation"]) == {"val"} and card["evaluation"]["val"]["num_pairs"] == 40
    assert (export / "roc.png").stat().st_size > 10000 and (model_dir / "curves.png").stat().st_size > 10000
    eval_rows = (model_dir / "eval_log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in eval_rows[1:]] == ["0", "2", "4"]  # the untrained model first
    best = json.loads((model_dir / "best" / "best.json").read_text())
    assert best["step"] == card["training"]["weights_from_step"]
    assert best["results"]["val"]["accuracy"] == pytest.approx(card["evaluation"]["val"]["accuracy"], abs=1e-9)
    scalars = tensorboard_scalars(model_dir / "logs")
    assert {"train/loss", "train/learning_rate", "eval/val/accuracy"} <= set(scalars)
    assert [step for step, _ in scalars["train/loss"]] == [1, 2, 3, 4]

    evaluated = subprocess.run([sys.executable, "-m", "tfmfn.evaluate", "--model", str(model_dir), "--eval_bins",
                                str(tiny / "val.bin"), "--json"], capture_output=True, text=True)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["val"]["accuracy"] == pytest.approx(card["evaluation"]["val"]["accuracy"])

    again = run_cli(*arguments)
    assert again.returncode == 0 and "resuming at step 4 of 4" in again.stdout
    other = run_cli(*arguments, "--arch", "mobilefacenet_relu")
    assert other.returncode != 0
    assert f"holds a run of another config (arch: '{TINY_ARCH}' in the model_dir" in other.stderr.splitlines()[-1]


def tensorboard_scalars(folder):
    from tensorboard.backend.event_processing import event_accumulator

    scalars = {}
    for name in os.listdir(folder):
        events = event_accumulator.EventAccumulator(str(folder / name), size_guidance={"tensors": 0})
        events.Reload()
        for tag in events.Tags()["tensors"]:
            scalars.setdefault(tag, []).extend(
                (event.step, float(tf.make_ndarray(event.tensor_proto))) for event in events.Tensors(tag)
            )
    return {tag: sorted(values) for tag, values in scalars.items()}


def test_errors_are_one_line_and_say_what_to_do(tiny, tmp_path):
    single = tmp_path / "single" / "only"
    single.mkdir(parents=True)
    a_face = sorted((tiny / "train").glob("*/*"))[0]
    (single / a_face.name).write_bytes(a_face.read_bytes())
    train_data = str(tiny / "train")
    cases = [
        (["--data", str(tmp_path / "none")], "no such training data"),
        (["--config", "paper_casia"], "--data is required with --config paper_casia"),
        (["--data", train_data, "--batch_size", "64"], "batch size 64 is larger than the 32 images"),
        (["--data", train_data, "--arch", "mobilefacenet_112x96", "--eval_bins", str(tiny / "val.bin")],
         "images are 112x112 but mobilefacenet_112x96 takes 112x96"),
        (["--data", str(tiny / "val.bin")], "is a verification set (pairs), not training data"),
        (["--data", str(tmp_path / "single"), "--batch_size", "1"], "training needs at least 2"),
    ]
    for arguments, message in cases:
        result = run_cli(*arguments, "--steps", "1", "--lr_boundaries=", "--model_dir", str(tmp_path / "run"))
        assert result.returncode == 1, (arguments, result.stderr[-2000:])
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last, (arguments, last)
    assert not (tmp_path / "run").exists()  # nothing written for a run that cannot start



@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """40 identities of 2 images: enough classes for a partial FC head to leave most of them out."""
    root = tmp_path_factory.mktemp("many")
    synth.generate(str(root), identities=40, images_per_identity=2, pairs=20, seed=2, progress=False)
    return root


def test_partial_fc_moves_only_the_sampled_centres_on_one_device_and_two_replicas(many, tmp_path):
    changed = run_one_step_script(
        f"""
        def changed_centres(strategy, name):
            recipe = config.make_config("synthetic", arch=ARCH, data={str(many / "train")!r}, eval_bins=(),
                                        batch_size=16, steps=2, lr_boundaries=(), optimizer="sgd", momentum=0.0,
                                        learning_rate=0.5, weight_decay_after_global=0.0, partial_fc=0.2,
                                        model_dir={str(tmp_path)!r} + "/" + name)
            tf.keras.utils.set_random_seed(0)
            trainer = train.Trainer(recipe, strategy, pipeline.open_source(recipe.data))
            before = trainer.head.kernel.numpy()
            loss = trainer.run_steps(iter(trainer.dataset(0)), 1)[0]
            moved = np.abs(trainer.head.kernel.numpy() - before).sum(axis=0) > 0
            return {{"sampled": trainer.sampled_classes, "moved": int(moved.sum()), "loss": loss}}
        print(json.dumps({{"one": changed_centres(ONE, "one"), "mirrored": changed_centres(MIRRORED, "mirrored")}}))
        """
    )
    # 20% of 40 classes is 8, below a replica's batch: a replica samples as many centres as it has images
    assert (changed["one"]["sampled"], changed["mirrored"]["sampled"]) == (16, 8)
    assert 0 < changed["one"]["moved"] <= 16 and 0 < changed["mirrored"]["moved"] <= 2 * 8
    assert all(np.isfinite(run["loss"]) for run in changed.values())


def test_partial_fc_is_refused_without_a_margin_head(tiny, tmp_path):
    with pytest.raises(ValueError, match="--partial_fc samples the class centres of a margin head"):
        tiny_config(tiny, tmp_path, head="softmax", partial_fc=0.5)
    with pytest.raises(ValueError, match=r"--partial_fc is the share of classes sampled each step, in \(0, 1\]"):
        tiny_config(tiny, tmp_path, partial_fc=0.0)
