"""tfmfn: MobileFaceNets in tf_keras, from the paper's Table I to an int8 TFLite model.

tfmfn runs on Keras 2 (the ``tf_keras`` package) throughout, because
tensorflow-model-optimization quantizes only Keras 2 models. Importing tfmfn
puts ``TF_USE_LEGACY_KERAS=1`` in force so that ``tf.keras`` means ``tf_keras``
for whoever imports TensorFlow next; if TensorFlow already resolved
``tf.keras`` to Keras 3, the import fails with an explanation instead of
producing models that tfmot cannot quantize later.

Example:

    >>> import tfmfn
    >>> from tfmfn import models
    >>> net = models.build("mobilefacenet")
    >>> net.output_shape
    (None, 128)
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if "tensorflow" in sys.modules:
    _keras_module = sys.modules["tensorflow"].keras.__name__
    if not _keras_module.startswith("tf_keras"):
        raise ImportError(
            f"tf.keras is already Keras 3 ({_keras_module}); tfmfn needs Keras 2: "
            "import tfmfn before tensorflow, or set TF_USE_LEGACY_KERAS=1 in the environment."
        )

__version__ = "0.1.0"
