"""Prints the model zoo as a table like the paper's Table II.

    python -m tfmfn.models                 # every model, as a table
    python -m tfmfn.models --json          # a JSON list, one object per model
    python -m tfmfn.models --arch mobilefacenet,mobilenet_v2 --input_size 112,96

The columns are explained in `tfmfn.models.paper_table`. The float32 `.tflite`
latency of each model on this machine is a benchmark's work:
`python -m tfmfn.benchmark --paper_table [--threads 1,2] [--runs 100]` prints
the same table with it.
"""

import json

from absl import app, flags

from tfmfn import cli, models
from tfmfn.models import paper_table

FLAGS = flags.FLAGS


def _define_flags():
    flags.DEFINE_bool("json", False, "Print a JSON list of objects instead of a table.")
    flags.DEFINE_list("arch", None, f"Zoo architectures to include (default: all). One of: {', '.join(models.names())}.")
    flags.DEFINE_list("input_size", None, "HEIGHT,WIDTH to build every model at (default: each model's own).")
    flags.DEFINE_bool("latency", False, "Moved: python -m tfmfn.benchmark --paper_table measures the latency.")
    cli.rename("models", "arch")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.latency:
        raise app.UsageError("--latency moved: python -m tfmfn.benchmark --paper_table [--threads 1,2] "
                             "[--arch NAMES] prints this table with each model's float32 latency here")
    names = paper_table.check_names(FLAGS.arch)
    input_size = None
    if FLAGS.input_size:
        try:
            input_size = tuple(int(side) for side in FLAGS.input_size)
        except ValueError:
            input_size = ()
        if len(input_size) != 2:
            raise app.UsageError(f"--input_size takes HEIGHT,WIDTH, got {','.join(FLAGS.input_size)}")
    rows = paper_table.zoo_rows(names, input_size)
    print(json.dumps(rows, indent=2) if FLAGS.json else paper_table.format_table(rows))


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
