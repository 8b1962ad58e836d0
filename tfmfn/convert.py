"""Exports a trained embedder to TFLite: int8 (QAT or PTQ), float32, float16 or dynamic range.

    python -m tfmfn.convert --model runs/synthetic_qat --int8 --out mfn_int8.tflite --report int8.json
    python -m tfmfn.convert --model runs/synthetic --int8 --eval_bins runs/synth/val.bin   # QAT fine-tune first
    python -m tfmfn.convert --model runs/synthetic --int8 --ptq --representative runs/synth/train
    python -m tfmfn.convert --model runs/synthetic --float32 --out mfn_float32.tflite

| mode        | what it writes                                                            |
|-------------|---------------------------------------------------------------------------|
| `--int8`    | all-int8 graph of the deploy form (`tfmfn.quantize.qat`), input and output    |
|             | int8 unless `--io` (`uint8`: the input codes are the pixels themselves,   |
|             | as MediaPipe feeds them); `--qat` (default) converts a QAT model,         |
|             | fine-tuning a float one first (`--qat_steps`, into `--qat_dir`); `--ptq`  |
|             | calibrates the float model on `--num_representative` training images      |
| `--float32` | the float model as trained                                                |
| `--float16` | float16 weights, float32 compute                                          |
| `--dynamic` | int8 weights, float activations (dynamic range)                           |

An int8 export that still holds float ops is refused unless `--allow_float_ops`.
Every file carries tfmfn's metadata (`tfmfn.runtime.litert.read_metadata`): input size,
normalisation, embedding size, alignment template and the thresholds at
FAR 1e-3 (1:1) and 1e-4 (1:N) with their impostor counts, measured on the
converted model itself when `--eval_bins` are given (`tfmfn.runtime.model_card`), so the
app needs nothing beside the file. The report
(`--report FILE.json`, also printed) gives the size, ops, float ops, input and
output quantisation, XNNPACK delegation, parity of the converted embeddings
against the float model on held-out images (cosine mean and minimum), and with
`--eval_bins` the 10-fold accuracy of both.

Example:

    >>> from tfmfn import convert, models
    >>> from tfmfn.runtime import litert
    >>> tflite = convert.convert_keras(models.build("mobilefacenet"), "float32")
    >>> litert.analyse(tflite)["ops"]["CONV_2D"]
    33
"""

import dataclasses
import json
import os

import numpy as np

from tfmfn import config as configs
from tfmfn import cli, evaluate, preprocess, storage, train
from tfmfn.data import bins, pipeline
from tfmfn.data.bins import BinFormatError
from tfmfn.evaluate import l2_normalize
from tfmfn.quantize import deploy, distill, qat
from tfmfn.runtime import inference, litert, model_card, model_files
from tfmfn.runtime.model_files import NotAnEmbedderError

MODES = ("int8", "float32", "float16", "dynamic")
IO_TYPES = ("int8", "uint8", "float")


class ConversionError(ValueError):
    """A conversion that cannot give what was asked (float ops left in an int8 model, a wrong model)."""


def convert_keras(model, mode, io="int8", representative=None, prelu_form="add"):
    """The .tflite bytes of Keras `model` in `mode` (one of MODES).

    For int8, a QAT model (tfmfn.quantize.qat) converts from its fake-quant ranges;
    a float model needs `representative` (normalised float32 images, N x H x W x 3)
    and is converted in its deploy form (post-training quantization), equalized and
    bias-corrected on those images first (`deploy.equalize`, `deploy.correct_bias`),
    its per-channel PReLUs in `prelu_form` (`deploy.PRELU_FORMS`; a QAT model has its own).
    """
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode != "int8" and qat.is_quantized(model):
        raise ConversionError("this is a QAT model: export it with --int8 (or convert the float model it came from)")
    if prelu_form != "add" and (mode != "int8" or qat.is_quantized(model)):
        raise ConversionError(f"the {prelu_form} form of PReLU is for int8 by post-training quantization (--ptq); "
                              "QAT trains and exports the add form")
    if mode == "int8" and not qat.is_quantized(model):
        if representative is None:
            raise ConversionError("post-training int8 quantization of a float model needs representative images")
        samples = np.asarray(representative, np.float32)
        model = deploy.correct_bias(deploy.equalize(model, samples), samples)
        model = deploy.deploy_form(model, prelu_form=prelu_form)
    elif mode != "int8":
        model = deploy.deploy_form(model, per_channel=False)
    # The traced function, not the Keras model (which the converter writes as a SavedModel first: 15 s for
    # mobilefacenet here against 1 s, 45 s against 3 s for its QAT form, for the same ops and outputs; README)
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name=model.input_names[0])
    traced = tf.function(lambda images: model(images, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([traced])
    if mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.inference_input_type = converter.inference_output_type = {
            "int8": tf.int8, "uint8": tf.uint8, "float": tf.float32
        }[io]
        if representative is not None:
            samples = np.asarray(representative, np.float32)
            converter.representative_dataset = lambda: ([sample[None]] for sample in samples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return litert.with_signature(converter.convert(), model.input_names, model.output_names)


def cosine_parity(reference, converted):
    """Cosine similarity of the rows of two embedding arrays: (mean, minimum)."""
    cosines = np.sum(l2_normalize(reference) * l2_normalize(converted), axis=1)
    return float(cosines.mean()), float(cosines.min())


@dataclasses.dataclass
class Request:
    """What `convert` is asked to do (the CLI's flags)."""

    model: str
    mode: str = "int8"
    out: str = None
    method: str = "qat"
    io: str = "int8"
    representative: str = None
    num_representative: int = 200
    eval_bins: tuple = ()
    parity_images: int = 200
    parity_faces: str = None
    allow_float_ops: bool = False
    qat_steps: int = 100
    qat_learning_rate: float = 2e-5
    qat_dir: str = None
    prelu_form: str = "add"


def convert(request, say=print):
    """Runs a conversion end to end; writes the .tflite and returns the report dict."""
    source = model_files.locate(request.model)
    if source.kind == "tflite":
        raise ConversionError(f"{source.path} is already a .tflite file; give the Keras model it was converted from")
    card = source.card
    if card is None:
        raise ConversionError(
            f"{source.path}: no {model_card.CARD_FILE} beside it; export the model with tfmfn.train "
            "(the card gives the input size, normalisation and training data)"
        )
    sets = [bins.load_bin(path) for path in request.eval_bins]  # before any long work: a bad path fails now
    # the float model once: the reference of the parity check, and what QAT weights are rebuilt from
    float_model = inference.load_keras_model(inference.float_model_path(source)) if source.kind == "qat_weights" else None
    model = inference.load_keras_model(source, float_model)
    is_qat = qat.is_quantized(model)
    if request.prelu_form != "add" and (request.mode != "int8" or request.method != "ptq" or is_qat):
        raise ConversionError(f"--prelu_form {request.prelu_form} is for int8 by post-training quantization: "
                              "add --int8 --ptq")
    if not is_qat:
        float_model = model
    if request.mode == "int8" and request.method == "qat" and not is_qat:
        source = _fine_tune(source, request, say)
        card = source.card
        model = inference.load_keras_model(source, float_model)
        is_qat = True
    if float_model is None:
        float_model = inference.load_keras_model(card["training"]["initial_weights"])
    model_path = source.path
    normalization = (card["normalization"]["mean"], card["normalization"]["scale"])
    reference = inference.KerasEmbedder(float_model, normalization=normalization)
    references = {"float": reference, "qat": inference.KerasEmbedder(model, normalization=normalization) if is_qat else None}
    input_size = tuple(card["input_size"])
    data_path = request.representative or card["training"].get("data", {}).get("path")
    calibrating = request.mode == "int8" and not is_qat
    if data_path is None and calibrating:
        raise ConversionError("the model card names no training data (an imported model?); give --representative "
                              "with a folder of aligned faces to calibrate on")
    representative = None
    if calibrating:
        faces_source = pipeline.open_faces(data_path)
        parity_elsewhere = bool(request.parity_faces or sets)
        held_out = 0 if parity_elsewhere else min(request.parity_images, faces_source.num_images // 5)
        if not (parity_elsewhere or held_out):
            raise ConversionError(f"{data_path}: {faces_source.num_images} images, too few to keep some out of "
                                  "calibration for the parity check; give --parity_faces DIR or --eval_bins")
        count = min(request.num_representative, faces_source.num_images - held_out)
        faces = pipeline.sample_faces(faces_source, count, input_size)
        say(f"calibrating on {len(faces)} images of {data_path}")
        representative = preprocess.normalize(faces, normalization)
    say(f"converting {model_path} to {request.mode}" + (f" ({'QAT' if is_qat else 'PTQ'})" if request.mode == "int8" else ""))
    tflite = convert_keras(model, request.mode, request.io, representative, request.prelu_form)
    pixel_codes = False
    if request.mode == "int8" and request.io == "uint8":
        tflite, pixel_codes = litert.pixel_input(tflite, normalization)
    report = {"file": None, "source_model": os.path.abspath(model_path), **litert.analyse(tflite)}
    if request.mode == "int8" and request.io == "uint8":
        report["input_codes_are_pixels"] = pixel_codes
    if request.prelu_form != "add":
        report["prelu_form"] = request.prelu_form
    report["quantization"] = f"int8 {'qat' if is_qat else 'ptq'}" if request.mode == "int8" else request.mode
    if request.mode == "int8" and not request.allow_float_ops:
        check_all_int8(report)
    out = request.out or os.path.join(os.path.dirname(model_path), f"{card['model']}_{request.mode}.tflite")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with storage.written(out) as partial:
        with open(partial, "wb") as stream:
            stream.write(tflite)
        calibrated = 0 if representative is None else len(representative)
        tflite = _check_and_describe(tflite, partial, report, references=references, sets=sets,
                                     training_data=(data_path, calibrated), request=request, card=card, say=say)
    report["file"], report["bytes"] = os.path.abspath(out), len(tflite)
    return report


def check_all_int8(analysis):
    """Raises ConversionError when an `analyse` result shows float ops."""
    if analysis["float_ops"]:
        raise ConversionError(
            f"the int8 model still runs float ops {analysis['float_ops']}; nothing was written "
            "(--allow_float_ops keeps them)"
        )


def _check_and_describe(tflite, partial, report, *, references, sets, training_data, request, card, say):
    """Parity, accuracy and metadata of the model written to `partial`; returns the bytes with metadata.
    `references` holds the float Keras embedder and, for a QAT conversion, the QAT one; `training_data` is
    (path, number of images of its draw used for calibration)."""
    reference = references["float"]
    converted = inference.TFLiteEmbedder(partial)
    converted.normalization = reference.normalization
    parity = _parity(references, converted, sets, training_data, request, tuple(card["input_size"]))
    report["parity"] = parity["float"]
    if "qat" in parity:
        report["parity_with_qat"] = parity["qat"]
    converted_results = None
    if sets:
        say(f"evaluating the float and the converted model on {', '.join(s.name for s in sets)}")
        float_results = evaluate.evaluate_sets(reference, sets)
        converted_results = evaluate.evaluate_sets(converted, sets)
        report["accuracy"] = {
            name: {"float": float_results[name]["accuracy"], "converted": converted_results[name]["accuracy"],
                   "difference": converted_results[name]["accuracy"] - float_results[name]["accuracy"],
                   "float_auc": float_results[name]["auc"], "converted_auc": converted_results[name]["auc"],
                   "num_pairs": float_results[name]["num_pairs"]}
            for name in float_results
        }
    report["metadata"] = model_card.tflite_metadata(card, report["quantization"], converted_results)
    tflite = litert.add_standard_metadata(litert.add_metadata(tflite, report["metadata"]), report["metadata"])
    with open(partial, "wb") as stream:
        stream.write(tflite)
    return tflite


def _parity(references, converted, sets, training_data, request, input_size):
    """Cosine parity of the converted model with each Keras reference ({"float": ..., "qat": ... or None}) on
    held-out faces: the float model it should stay close to, and the QAT model it should reproduce."""
    if request.parity_faces:
        faces = pipeline.sample_faces(request.parity_faces, request.parity_images, input_size)
        where = f"{request.parity_faces}, {len(faces)} faces"
    elif sets:
        first = sets[0]
        count = min(request.parity_images, len(first.images))
        faces = np.stack([first.decode(index) for index in range(count)])
        where = f"{first.name} (held-out verification set), first {count} images"
    elif training_data[0] is None:
        faces = np.random.default_rng(0).integers(0, 256, (request.parity_images, *input_size, 3), np.uint8)
        where = f"{len(faces)} random images (no --parity_faces, --eval_bins or training data to take faces from)"
    else:
        data_path, skip = training_data
        faces = pipeline.sample_faces(data_path, request.parity_images, input_size, skip=skip)
        where = f"{data_path}, {len(faces)} training images not used for calibration"
    embeddings = converted.embed(faces)
    parity = {}
    for name, reference in references.items():
        if reference is not None:
            mean, minimum = cosine_parity(reference.embed(faces), embeddings)
            parity[name] = {"cosine_mean": mean, "cosine_min": minimum, "n": len(faces), "images": where}
    return parity


def _fine_tune(source, request, say):
    """QAT fine-tuning of a float model (`ModelFiles`) with its own training config, or, for a model
    without one (an imported model), by distillation on the --representative faces; returns the QAT
    model's `ModelFiles`."""

    model_path, card = source.path, source.card
    model_dir = request.qat_dir or os.path.normpath(source.run_folder) + "_qat"
    trained_config = card["training"].get("config")
    if not trained_config or trained_config.get("teacher"):
        faces = request.representative or (trained_config or {}).get("data")
        if faces is None:
            raise ConversionError(f"{model_path} has no training config (an imported model): its QAT distils the "
                                  "float model on unlabelled faces; give them with --representative DIR, or use --ptq")
        distill.distill(source, faces, model_dir, request.qat_steps, learning_rate=request.qat_learning_rate, say=say)
        return model_files.locate(model_dir)
    trained = configs.TrainConfig.from_json(json.dumps(trained_config))
    config = dataclasses.replace(
        trained, init_from=os.path.abspath(model_path), qat=True, model_dir=model_dir, steps=request.qat_steps,
        optimizer="adam", learning_rate=request.qat_learning_rate, lr_boundaries=(),
        eval_every=request.qat_steps, checkpoint_every=request.qat_steps,
        log_every=max(1, min(trained.log_every, request.qat_steps)),
        mixed_precision=False, sync_batch_norm=False,
    )
    say(f"QAT fine-tuning {model_path} for {config.steps} steps into {model_dir}")
    train.train(config)
    return model_files.locate(model_dir)


def format_report(report):
    """A few readable lines of a conversion report."""
    lines = [
        f"{report['file']}: {report['bytes'] / 1e6:.2f} MB, {report['quantization']}, "
        f"{'fully delegated to XNNPACK' if report['fully_delegated'] else 'NOT fully delegated: ' + str(report['ops_outside_xnnpack'])}",
        "ops: " + ", ".join(f"{name} {count}" for name, count in report["ops"].items()),
        f"input {report['input']['dtype']} {report['input']['shape']}, output {report['output']['dtype']} "
        f"{report['output']['shape']}"
        + ({True: "; the input codes are the pixels", False: "; the input codes are not the pixels (calibrated "
            "input range)"}[report["input_codes_are_pixels"]] if "input_codes_are_pixels" in report else "")
        + (f"; float ops: {report['float_ops']}" if report["float_ops"] and report["quantization"].startswith("int8") else ""),
        f"parity with the float model: cosine mean {report['parity']['cosine_mean']:.4f}, "
        f"min {report['parity']['cosine_min']:.4f} over {report['parity']['n']} images ({report['parity']['images']})",
        *([f"parity with the QAT model it was converted from: cosine mean {report['parity_with_qat']['cosine_mean']:.5f}, "
           f"min {report['parity_with_qat']['cosine_min']:.5f}"] if "parity_with_qat" in report else []),
    ]
    for name, accuracy in report.get("accuracy", {}).items():
        lines.append(
            f"{name}: float {accuracy['float']:.2%}, converted {accuracy['converted']:.2%} "
            f"({accuracy['difference'] * 100:+.2f} points); AUC {accuracy['float_auc']:.4f} and "
            f"{accuracy['converted_auc']:.4f} ({accuracy['num_pairs']} pairs)"
        )
    return "\n".join(lines)


def _define_flags():
    from absl import flags

    flags.DEFINE_string("model", None, "Trained model: a model_dir, its export/ folder, or the exported file.")
    for mode in MODES:
        flags.DEFINE_bool(mode, False, {
            "int8": "All-int8 model in the XNNPACK deploy form (QAT unless --ptq).",
            "float32": "Float32 model.", "float16": "Float16 weights.", "dynamic": "Int8 weights, float activations.",
        }[mode])
    flags.DEFINE_bool("qat", False, "Int8 from quantization-aware training (the default): a QAT model converts "
                      "as it is; a float one is fine-tuned first (--qat_steps).")
    flags.DEFINE_bool("ptq", False, "Int8 by post-training quantization, calibrated on --representative images.")
    flags.DEFINE_string("out", None, "Output .tflite (default: MODEL_<mode>.tflite beside the model).")
    flags.DEFINE_enum("io", "int8", list(IO_TYPES), "Input and output type of an int8 model; uint8 takes the pixels "
                      "themselves as input codes (MediaPipe's ImageEmbedder reads such a file, not an int8 input).")
    flags.DEFINE_string("representative", None, "Calibration faces for --ptq (default: the training data of the card); "
                        "for an imported model's --qat, the unlabelled faces it is distilled on.")
    flags.DEFINE_integer("num_representative", 200, "Calibration images for --ptq (at most 4 in 5 of the faces when "
                         "the parity check has neither --parity_faces nor --eval_bins: the rest are its faces).")
    flags.DEFINE_list("eval_bins", [], "Verification .bin sets: accuracy of the float and the converted model.")
    flags.DEFINE_integer("parity_images", 200, "Held-out images for the cosine parity check.")
    flags.DEFINE_string("parity_faces", None, "A folder of aligned faces kept out of calibration for the parity check "
                        "(default: the first images of --eval_bins, else training images not used for calibration, "
                        "else random images).")
    flags.DEFINE_bool("allow_float_ops", False, "Write an int8 model even if some ops stay float.")
    flags.DEFINE_integer("qat_steps", 100, "Steps of QAT fine-tuning when --model is float (raise it on real data).")
    flags.DEFINE_float("qat_learning_rate", 2e-5, "Adam learning rate of that fine-tuning (about the last rate of the float training).")
    flags.DEFINE_string("qat_dir", None, "model_dir of that fine-tuning (default: the model's model_dir + _qat).")
    flags.DEFINE_enum("prelu_form", "add", list(deploy.PRELU_FORMS), "With --int8 --ptq, the int8 form of per-channel "
                      "PReLUs: add, z + relu((a-1)z) as DEPTHWISE_CONV_2D + ADD, all inside XNNPACK; maximum, "
                      "max(z, a*z) as MUL + MAXIMUM, fewer instructions on ARM cores (python -m tfmfn.benchmark "
                      "--arm) but less accurate in int8 (MAXIMUM keeps one scale for z and a*z; check the parity "
                      "this reports) and each MAXIMUM runs outside XNNPACK on one thread.")
    flags.DEFINE_string("report", None, "Write the report as JSON here.")


def main(argv):
    from absl import app, flags, logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    modes = [mode for mode in MODES if options[mode].value]
    if len(modes) != 1:
        raise app.UsageError("give one of --int8, --float32, --float16, --dynamic")
    if options.qat and options.ptq:
        raise app.UsageError("--qat and --ptq exclude each other")
    request = Request(
        model=options.model, mode=modes[0], out=options.out, method="ptq" if options.ptq else "qat",
        io=options.io, representative=options.representative, num_representative=options.num_representative,
        eval_bins=tuple(options.eval_bins), parity_images=options.parity_images, parity_faces=options.parity_faces,
        allow_float_ops=options.allow_float_ops, qat_steps=options.qat_steps,
        qat_learning_rate=options.qat_learning_rate, qat_dir=options.qat_dir, prelu_form=options.prelu_form,
    )

    try:
        report = convert(request)
    except (FileNotFoundError, ValueError, BinFormatError, NotAnEmbedderError) as error:
        raise SystemExit(f"error: {error}")
    print(format_report(report))
    if options.report:
        with open(options.report, "w") as stream:
            json.dump(report, stream, indent=2)
        print(f"report: {options.report}")


if __name__ == "__main__":
    _define_flags()
    cli.run(main, required=("model",))
