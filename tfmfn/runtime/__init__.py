"""Model files and what runs them: LiteRT interpreters and metadata (`litert`, no TensorFlow), the card
beside an export (`model_card`), a model folder or file resolved once (`model_files`), a pretrained
`.tflite`/`.onnx` read as layers (`source_model`), Keras and `.tflite` embedders behind one API
(`inference`), and `.tflite` files on emulated ARM cores (`arm`, `arm_report`).

Example:

    >>> from tfmfn.runtime import inference
    >>> embedder = inference.load_embedder("runs/synthetic/export")   # doctest: +SKIP
    >>> embedder.embed(faces).shape                                    # doctest: +SKIP
    (2, 128)
"""
