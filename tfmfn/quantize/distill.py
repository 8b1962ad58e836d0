"""Quantization-aware training without labels: the int8 model learns to embed as the float model does.

A pretrained model comes without its training data and without its margin head,
so QAT cannot fine-tune it on the training loss. Distillation needs neither: the
QAT model (the deploy form of `tfmfn.quantize.qat`, its ranges calibrated on the faces)
is trained to give, for unlabelled aligned faces, the embeddings of the float
model it came from (loss: 1 - cosine of the two embeddings, both models on the same
flipped and lightly recoloured faces). It starts from the float weights as they
are, not equalized (`tfmfn.quantize.deploy.equalize`): Adam moves every weight by about the same
step, which the tiny weights of rescaled channels did not survive (measured: the
loss jumped from 0.009 to 0.8 in one step).

    python -m tfmfn.convert --model runs/sirius --int8 --qat --representative aligned/ --qat_steps 200

`distill` writes a model folder as `tfmfn.train --qat` does (`export/qat_embedder.weights.h5`
and a card naming the float model), with `distill_log.csv` and `distill_loss.png`.

Example (an untrained model, SYNTHETIC inputs, two steps):

    >>> import tempfile, numpy as np
    >>> from tfmfn import models
    >>> from tfmfn.quantize import distill
    >>> from tfmfn.models.table import Row, build_from_table
    >>> net = build_from_table((Row("conv3x3", c=8, s=2), Row("gdconv", c=8), Row("linear1x1", c=4)),
    ...                        (16, 16, 3), "prelu", "tiny")
    >>> faces = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3)).astype(np.uint8)
    >>> student, losses = distill.distill_model(net, faces, steps=2, batch_size=4, progress=False)
    >>> len(losses), student.output_shape
    (2, (None, 4))
"""

import csv
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmfn import preprocess
from tfmfn.data import pipeline
from tfmfn.quantize import qat
from tfmfn.runtime import inference, model_card, model_files

LOG_FILE = "distill_log.csv"
PLOT_FILE = "distill_loss.png"
CALIBRATION_IMAGES = 256


def augment(faces, rng):
    """Random horizontal flips and small brightness and contrast changes of uint8 faces (float32 out)."""
    faces = faces.astype(np.float32)
    flipped = rng.random(len(faces)) < 0.5
    faces[flipped] = faces[flipped, :, ::-1]
    gain = rng.uniform(0.85, 1.15, (len(faces), 1, 1, 1))
    offset = rng.uniform(-15, 15, (len(faces), 1, 1, 1))
    mean = faces.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip((faces - mean) * gain + mean + offset, 0, 255).astype(np.float32)


def distill_model(model, faces, steps=200, batch_size=32, learning_rate=1e-5, normalization=None, seed=0,
                  progress=True):
    """(QAT model, losses per step): the calibrated QAT form of float `model` trained for
    `steps` to match `model`'s embeddings on uint8 `faces` (N, H, W, 3)."""
    mean, scale = normalization or (preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE)
    inputs = preprocess.normalize(faces, (mean, scale))
    calibration = inputs[:CALIBRATION_IMAGES]
    student = qat.freeze_batch_norm(qat.quantize_model(model))
    qat.calibrate(student, model, calibration, input_range=preprocess.input_range((mean, scale)))
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(batch):
        target = tf.math.l2_normalize(model(batch, training=False), axis=1)
        with tf.GradientTape() as tape:
            embedding = tf.math.l2_normalize(student(batch, training=True), axis=1)
            loss = tf.reduce_mean(1.0 - tf.reduce_sum(embedding * target, axis=1))
        optimizer.apply_gradients(zip(tape.gradient(loss, student.trainable_variables), student.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    bar = keras.utils.Progbar(steps, verbose=1 if progress else 0)
    losses = []
    for number in range(steps):
        chosen = faces[rng.choice(len(faces), min(batch_size, len(faces)), replace=False)]
        batch = preprocess.normalize(augment(chosen, rng), (mean, scale))
        losses.append(float(step(tf.constant(batch, tf.float32))))
        bar.update(number + 1, [("1 - cos", losses[-1])])
    return student, losses


def distill(source, faces_path, out_dir, steps=200, batch_size=32, learning_rate=1e-5, max_images=5000,
            say=print):
    """Distills the float model `source` (a model folder or file, or its `ModelFiles`) into a QAT model
    folder `out_dir` from the aligned faces at `faces_path`; returns the QAT weights' path."""

    source = model_files.locate(source)
    model_path, card = source.path, source.card or {}
    model = inference.load_keras_model(source)
    normalization = source.normalization
    input_size = tuple(model.input_shape[1:3])
    faces = pipeline.sample_faces(pipeline.open_source(faces_path, labelled=False), max_images, input_size)
    say(f"distilling {model_path} into its int8 QAT form on {len(faces)} faces of {faces_path}, {steps} steps")
    student, losses = distill_model(model, faces, steps, batch_size, learning_rate, normalization)
    export_dir = os.path.join(out_dir, model_files.EXPORT_FOLDER)
    os.makedirs(export_dir, exist_ok=True)
    path = os.path.join(export_dir, model_files.EXPORT_QAT_WEIGHTS)
    student.save_weights(path)
    training = {
        "method": "distillation from the float model (1 - cosine of the embeddings), no labels",
        "initial_weights": os.path.abspath(model_path),
        "data": {"path": os.path.abspath(faces_path), "num_images": len(faces), "labels": "none"},
        "steps_trained": steps, "batch_size": batch_size, "learning_rate": learning_rate,
        "final_loss": float(np.mean(losses[-10:])) if losses else None,
    }
    distilled = model_card.make_card(model, card.get("model", model.name), training, qat=True,
                                     normalization=normalization)
    for key in ("architecture", "imported"):
        if key in card:
            distilled[key] = card[key]
    model_card.write_card(distilled, export_dir)
    _write_log(out_dir, losses)
    return path


def _write_log(out_dir, losses):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.join(out_dir, LOG_FILE), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["step", "loss"])
        writer.writerows((number, loss) for number, loss in enumerate(losses, start=1))
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(range(1, len(losses) + 1), losses)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("1 - cosine to the float model")
    axis.set_title("QAT by distillation")
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(os.path.join(out_dir, PLOT_FILE), dpi=100)
    plt.close(figure)
