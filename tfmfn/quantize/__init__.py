"""Int8 from a float model: the deploy form and its PTQ aids (`deploy`: PReLU rewrites, equalisation,
bias correction; no tfmot), quantization-aware training with tfmot (`qat`), and QAT without labels,
distilled from the float model (`distill`). `tfmfn.convert` writes the int8 `.tflite`.

Example:

    >>> from tfmfn import models
    >>> from tfmfn.quantize import deploy
    >>> deploy.deploy_form(models.build("mobilefacenet")).output_shape
    (None, 128)
"""
