"""Memory and time of one training step of an ArcFace head, full or partial FC, for 100K to 2M identities.

    .venv/bin/python benchmarks/partial_fc.py                       # 100K, 1M, 2M; full, 0.3, 0.1; batch 512
    .venv/bin/python benchmarks/partial_fc.py --classes 100000 --rates 1,0.1 --batch_size 128

The head alone (the backbone's share does not depend on the number of identities): a batch of
random 128-d embeddings (SYNTHETIC), ArcFace logits over every class or over `tfmfn.train`'s partial
FC sample, the cross-entropy, its gradient and an SGD-with-momentum update of the kernel, as
`tfmfn.train` runs them. Each setting runs in its own process; its peak resident memory (ru_maxrss)
is printed beside what the step holds: the kernel and its momentum, the logits and their gradient.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

EMBEDDING_SIZE = 128


def one_setting(classes, rate, batch_size, steps):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from tfmfn.models import heads

    head = heads.ArcFace(classes, s=64.0, m=0.5)
    embeddings = tf.constant(np.random.default_rng(0).normal(size=(batch_size, EMBEDDING_SIZE)).astype(np.float32))
    labels = tf.constant(np.random.default_rng(1).integers(0, classes, batch_size), tf.int32)
    head([embeddings[:1], labels[:1]])
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(head.trainable_variables)
    sampled = heads.sample_size(classes, rate, batch_size)
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @tf.function
    def step(seed):
        with tf.GradientTape() as tape:
            if rate < 1:
                logits, columns = head.partial_logits(embeddings, labels, sampled, tf.stack([0, seed]))
            else:
                logits, columns = head([embeddings, labels]), labels
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(columns, logits, from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, head.trainable_variables), head.trainable_variables))
        return loss

    try:
        step(tf.constant(0, tf.int64))
    except tf.errors.ResourceExhaustedError as error:
        needed = next((line for line in str(error).splitlines() if "OOM" in line or "allocat" in line), "")
        return {"classes": classes, "rate": rate, "sampled": sampled, "out_of_memory": needed.strip()[:120]}
    times = []
    for seed in range(1, steps + 1):
        started = time.perf_counter()
        step(tf.constant(seed, tf.int64)).numpy()
        times.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"classes": classes, "rate": rate, "sampled": sampled, "step_s": float(np.median(times)),
            "peak_gib": peak / 2**20, "step_gib": (peak - idle) / 2**20,
            "kernel_gib": 2 * classes * EMBEDDING_SIZE * 4 / 2**30,
            "logits_gib": 2 * batch_size * sampled * 4 / 2**30}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="100000,1000000,2000000", help="identities, comma separated")
    parser.add_argument("--rates", default="1,0.3,0.1", help="partial FC shares (1: the full head)")
    parser.add_argument("--batch_size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the first (traced) one")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        classes, rate = json.loads(options.one)
        print(json.dumps(one_setting(classes, rate, options.batch_size, options.steps)))
        return
    print(f"ArcFace head, batch {options.batch_size}, {EMBEDDING_SIZE}-d; kernel = kernel + momentum, "
          "logits = logits + their gradient (float32)")
    print(f"{'identities':>10} {'head':>8} {'centres/step':>12} {'kernel GiB':>10} {'logits GiB':>10} "
          f"{'step GiB':>9} {'peak GiB':>9} {'step s':>7}")
    for classes in (int(value) for value in options.classes.split(",")):
        for rate in (float(value) for value in options.rates.split(",")):
            result = subprocess.run(
                [sys.executable, __file__, "--one", json.dumps([classes, rate]), "--batch_size",
                 str(options.batch_size), "--steps", str(options.steps)], capture_output=True, text=True)
            name = "full" if rate == 1 else f"PFC {rate:g}"
            if result.returncode != 0:
                reason = "killed (out of memory?)" if result.returncode < 0 else result.stderr.strip().splitlines()[-1]
                print(f"{classes:>10} {name:>8} {reason}")
                continue
            row = json.loads(result.stdout.strip().splitlines()[-1])
            if "out_of_memory" in row:
                total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
                print(f"{classes:>10} {name:>8} {row['sampled']:>12}  out of memory ({total:.0f} GiB here)", flush=True)
                continue
            print(f"{classes:>10} {name:>8} {row['sampled']:>12} {row['kernel_gib']:>10.2f} {row['logits_gib']:>10.2f} "
                  f"{row['step_gib']:>9.2f} {row['peak_gib']:>9.2f} {row['step_s']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
