"""Which `tf.distribute` strategy a run uses, and which replica writes the run folder."""

import glob
import os

import tensorflow as tf


def make_strategy(name="auto", tpu=""):
    """The `tf.distribute` strategy for `--strategy` (`tfmfn.train` says which `auto` picks)."""
    if name == "tpu" or (name == "auto" and _tpu_present(tpu)):
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "mirrored" or (name == "auto" and len(tf.config.list_logical_devices("GPU")) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _tpu_present(tpu):
    return bool(tpu or os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME") or glob.glob("/dev/accel*"))


def is_chief(strategy):
    """Whether this worker writes checkpoints, logs and exports (always, on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and not has_chief)


def wait_for_every_worker(strategy):
    """Returns when every worker of `strategy` has called it: the other workers wait for the chief's export,
    so that none leaves while the others still need it (under MultiWorkerMirroredStrategy, the chief runs
    the coordination service)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        tf.function(lambda: strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.ones, ([],)), axis=None))()
