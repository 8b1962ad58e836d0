"""tfmfn: MobileFaceNets in tf_keras, from the paper's Table I to an int8 TFLite model.

tfmfn runs on Keras 2 (the ``tf_keras`` package) throughout, because
tensorflow-model-optimization quantizes only Keras 2 models. Importing tfmfn
puts ``TF_USE_LEGACY_KERAS=1`` in force so that ``tf.keras`` means ``tf_keras``
for whoever imports TensorFlow next; if TensorFlow already resolved
``tf.keras`` to Keras 3, the import fails with an explanation instead of
producing models that tfmot cannot quantize later. It also drops the lines
TensorFlow's C++ code prints while it starts (``TF_CPP_MIN_LOG_LEVEL=0`` keeps them).

Example:

    >>> import tfmfn
    >>> from tfmfn import models
    >>> net = models.build("mobilefacenet")
    >>> net.output_shape
    (None, 128)
"""

import contextlib
import importlib.util
import os
import re
import sys
import tempfile

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow's C++ start-up lines, which TF_CPP_MIN_LOG_LEVEL no longer stops (they come before absl's
# logging is set up): info and warning lines, and the failed CUDA start on a machine without a GPU.
_START_UP_NOISE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] "
    rb"|E\d{4} [\d:.]+ +\d+ cuda_[\w.]+:\d+\] failed call to cuInit"
)


@contextlib.contextmanager
def _start_up_noise_dropped():
    """Runs the block with file descriptor 2 (where C++ code writes) caught, then writes back every
    line of it but TensorFlow's start-up noise."""
    if sys.stderr:
        sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            if sys.stderr:
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            os.write(2, b"".join(line for line in caught.read().splitlines(keepends=True)
                                 if not _START_UP_NOISE.match(line)))


class _QuietTensorFlowImport:
    """Imports TensorFlow, and starts its devices, with `_start_up_noise_dropped`; in force while
    TF_CPP_MIN_LOG_LEVEL is 2 or more (tfmfn's default: TF_CPP_MIN_LOG_LEVEL=0 brings the lines back)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader:
    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _start_up_noise_dropped():
            self.loader.exec_module(module)
            module.config.list_physical_devices("GPU")
        module.__loader__ = module.__spec__.loader = self.loader


if "tensorflow" not in sys.modules and os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() in ("2", "3"):
    sys.meta_path.insert(0, _QuietTensorFlowImport())

if "tensorflow" in sys.modules:
    _keras_module = sys.modules["tensorflow"].keras.__name__
    if not _keras_module.startswith("tf_keras"):
        raise ImportError(
            f"tf.keras is already Keras 3 ({_keras_module}); tfmfn needs Keras 2: "
            "import tfmfn before tensorflow, or set TF_USE_LEGACY_KERAS=1 in the environment."
        )

__version__ = "0.1.0"
