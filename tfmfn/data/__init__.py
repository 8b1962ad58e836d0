"""Face data for tfmfn: training sources as tf.data pipelines, verification sets, synthetic faces.

Example:

    >>> from tfmfn import data
    >>> source = data.open_source("runs/synth/train")         # doctest: +SKIP
    >>> batches = data.make_dataset(source, batch_size=64)    # doctest: +SKIP
    >>> pairs = data.load_bin("runs/synth/val.bin")           # doctest: +SKIP

CLI: `python -m tfmfn.data {synth,inspect,bench,convert,make_bin} --help`.
"""

from tfmfn.data.bins import BinFormatError, VerificationSet, load_bin, write_bin
from tfmfn.data.pipeline import FaceSource, make_dataset, open_source
from tfmfn.data.recordio import InsightFaceRec, RecordIOError

__all__ = [
    "BinFormatError",
    "FaceSource",
    "InsightFaceRec",
    "RecordIOError",
    "VerificationSet",
    "load_bin",
    "make_dataset",
    "open_source",
    "write_bin",
]
