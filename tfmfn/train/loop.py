"""The training loop: data, strategy, checkpoints and resumption, evaluation, the best weights, export."""

import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmfn import models, storage
from tfmfn.data import pipeline
from tfmfn.runtime.model_files import locate
from tfmfn.train.export import Evaluator, export_run, read_best, write_best
from tfmfn.train.model import Trainer
from tfmfn.train.run_folder import (
    BEST_FOLDER, BEST_ROC, CHECKPOINT_FOLDER, ResumedProgbar, RunLog, initial_weights, prepare_model_dir,
    refuse_another_run,
)
from tfmfn.train.strategies import is_chief, make_strategy, wait_for_every_worker
from tfmfn.train.teacher import TEACHER_RECORD, Teacher, record_teacher


def _check_data(config):
    if not config.data:
        raise ValueError(
            f"--data is required with --config {config.preset}: "
            + ("a folder of aligned face images" if config.teacher else
               "an insightface folder (train.rec), TFRecords or a folder of identity folders")
        )
    if not storage.exists(config.data) and not tf.io.gfile.glob(config.data + "*"):
        hint = " (render it with: python -m tfmfn.data synth --out runs/synth)" if config.preset == "synthetic" else ""
        raise FileNotFoundError(f"{config.data}: no such training data{hint}")


def train(config, strategy=None, verbose=True):
    """Trains (or continues) the run of `config`; returns the model card of the export.

    `strategy` defaults to `make_strategy(config.strategy, config.tpu)`. Keras's
    global dtype policy is set for `--mixed_precision` and restored on return.
    """
    policy = keras.mixed_precision.global_policy()
    try:
        return _train(config, strategy, verbose)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _train(config, strategy, verbose):
    _check_data(config)
    if config.model_dir is None:
        raise ValueError("--model_dir is required: checkpoints, logs and the exported model go there")
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or make_strategy(config.strategy, config.tpu)
    if config.mixed_precision:
        on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
        keras.mixed_precision.set_global_policy("mixed_bfloat16" if on_tpu else "mixed_float16")
    chief = is_chief(strategy)
    source = pipeline.open_source(config.data, labelled=not config.teacher)
    if config.teacher and source.format != "images":
        raise ValueError(
            f"--teacher distils from a folder of aligned face images, not {source.format} data ({config.data}); "
            "give a folder of its face images, aligned, in any layout"
        )
    pipeline.check_training_source(source, config.batch_size)
    say = print if verbose else (lambda *args, **kwargs: None)
    if config.epochs is not None:
        epochs, config = config.epochs, config.for_data(source.num_images)
        say(f"{epochs:g} epochs of {source.num_images} images at batch {config.batch_size}: {config.schedule_text()}")
    started_from = initial_weights(config) if config.init_from else None
    refuse_another_run(config)  # before its checkpoint is restored into another model
    teacher = targets = None
    if config.teacher:
        teacher = Teacher(config.teacher)
        teacher_record = record_teacher(config.model_dir, teacher)
        say(f"distilling {teacher.path} ({teacher_record['model']}, {teacher.embedding_size}-d); "
            f"its terms: {teacher.licence}")
        teacher.check_student(models.build(config.arch).input_shape[1:3])  # before anything is written
        if config.teacher_cache:
            targets = teacher.cached_embeddings(source, config.model_dir if chief else None, verbose, say,
                                                earlier=[config.init_from] if config.init_from else [])
    restore_from = tf.train.latest_checkpoint(os.path.join(config.model_dir, CHECKPOINT_FOLDER))
    trainer = Trainer(config, strategy, source, restore_from, teacher, targets)
    evaluator = Evaluator(config.eval_bins, config, trainer.input_size) if config.eval_bins else None
    if chief:
        prepare_model_dir(config, started_from)
        if teacher:
            storage.write_text(os.path.join(config.model_dir, TEACHER_RECORD), json.dumps(teacher_record, indent=2))
    write_dir = config.model_dir if chief else tempfile.mkdtemp()
    manager = tf.train.CheckpointManager(
        trainer.checkpoint, os.path.join(write_dir, CHECKPOINT_FOLDER), config.keep_checkpoints, checkpoint_name="ckpt"
    )
    start = trainer.step
    log = RunLog(config.model_dir, start, enabled=chief)
    best = read_best(config.model_dir)
    what = (f"{source.num_images} unlabelled images" if teacher else
            f"{source.num_images} images of {source.num_classes} identities ({source.format})")
    say(
        f"{config.arch} + {'the teacher' if teacher else config.head} on {what}; "
        f"{strategy.num_replicas_in_sync} replica(s) under {type(strategy).__name__}; "
        + (f"resuming at step {start}" if start else "starting at step 0")
        + f" of {config.steps}, learning rate {trainer.learning_rate():g}"
    )
    if config.init_from:
        say(
            ("QAT fine-tuning" if config.qat else "starting from") + f" {locate(config.init_from).path}; "
            + (f"{'projection' if teacher else 'head'} from its export" if trainer.head_from_init else
               "projection onto the teacher from random weights (not distilled from this teacher)" if teacher else
               "head from random weights (no saved head for these identities)")
        )

    best_dir = os.path.join(config.model_dir, BEST_FOLDER)
    if chief:
        storage.makedirs(best_dir)
    roc_path = os.path.join(tempfile.mkdtemp(prefix="tfmfn-"), BEST_ROC)

    def evaluate_now(step):
        nonlocal best
        if not chief:  # the chief evaluates; the others take part in reading the weights
            evaluator.copy_weights(trainer.embedder)
            return
        results = evaluator(trainer.embedder, roc_path)
        log.eval_rows(step, results)
        score = float(np.mean([metrics["accuracy"] for metrics in results.values()]))
        say(f"\nstep {step}: " + ", ".join(f"{name} {metrics['accuracy']:.2%}" for name, metrics in results.items()))
        if best is None or score > best["score"]:
            best = {"step": step, "score": score, "results": results}
            write_best(best_dir, evaluator, trainer.head, best)
            storage.copy(roc_path, os.path.join(best_dir, BEST_ROC))

    if start < config.steps:
        if config.qat and start == 0:
            trainer.calibrate_quantizers()
        if evaluator and start == 0:
            evaluate_now(0)
        iterator = iter(trainer.dataset(start))
        agreement = "teacher_cosine" if teacher else "accuracy"
        shown = "cos" if teacher else "acc"
        bar = ResumedProgbar(config.steps, start, stateful_metrics=["loss", shown, "lr"], verbose=1 if verbose else 0)
        step, tick, images = start, time.perf_counter(), 0
        while step < config.steps:
            count = min(
                config.steps_per_loop,
                config.steps - step,
                *(every - step % every for every in (config.log_every, config.checkpoint_every, config.eval_every)),
            )
            loss, penalty, accuracy = trainer.run_steps(iterator, count)
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at step {step + count}; lower --learning_rate or restart "
                    f"from the last checkpoint in {config.model_dir}"
                )
            step, images = step + count, images + count * config.batch_size
            bar.update(step, [("loss", loss), (shown, accuracy), ("lr", trainer.learning_rate(step - 1))])
            if step % config.log_every == 0 or step == config.steps:
                now = time.perf_counter()
                log.train_row({
                    "step": step, "loss": loss, "weight_decay": penalty, agreement: accuracy,
                    "learning_rate": trainer.learning_rate(step - 1), "images_per_second": images / (now - tick),
                })
                tick, images = now, 0
            if step % config.checkpoint_every == 0 or step == config.steps:
                manager.save(checkpoint_number=step)
            if evaluator and (step % config.eval_every == 0 or step == config.steps):
                evaluate_now(step)
    elif evaluator and best is None:
        evaluate_now(start)
    card = export_run(config, trainer, source, strategy, best, chief, evaluator.model if evaluator else None)
    wait_for_every_worker(strategy)
    return card


