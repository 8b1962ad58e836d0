"""tfmfn's data tools.

    python -m tfmfn.data synth --out runs/synth [--identities 300] [--images_per_identity 16]
                               [--pairs 2000] [--seed 0] [--difficulty 0.5]
        Renders the SYNTHETIC default dataset: DIR/train/<identity>/*.jpg and DIR/val.bin
        (pairs of identities that are not in train/).
    python -m tfmfn.data inspect PATH [--json]
        Format, images, identities, corrupt images and image shape of a .rec (or its
        folder), .bin, TFRecord set or image folder; pairs for a .bin.
    python -m tfmfn.data bench PATH [--batch_size 256] [--steps 50] [--noflip]
        Images per second through the training input pipeline.
    python -m tfmfn.data convert --data PATH --out PREFIX [--shards 8] [--seed 0]
        Writes any training source as TFRecords (the format TPUs read best), in a random
        order drawn from --seed so that the reader's shuffle buffer mixes identities;
        PREFIX may be local or gs://bucket/name.
    python -m tfmfn.data make_bin --data FOLDER --out X.bin [--pairs 2000] [--seed 0]
        Draws a verification .bin from a folder of identity sub-folders.
    python -m tfmfn.data lfw --root LFW_DIR --out lfw.bin [--view test|dev_train|dev_test]
                             [--faces DIR] [--max_pairs N] [--nolandmarks]
        Aligns LFW's photos (BlazeFace + ONet's five landmarks) and writes the view's official
        pairs in list order as an insightface .bin (View 2's 6,000 in its 10 folds, or View 1's
        2,200 / 1,000), with a summary beside it (X.bin.json: faces not found and how they were
        filled). --faces DIR also writes every photo of the view's people, aligned, into
        identity folders (View 1's training people for calibration or distillation).
"""

import json

from absl import app, flags

from tfmfn import cli
from tfmfn.data import bins, lfw, pipeline, survey, synth, tfrecord

COMMANDS = ("synth", "inspect", "bench", "convert", "make_bin", "lfw")

FLAGS = flags.FLAGS


def _define_flags():
    flags.DEFINE_string("out", None, "synth: output folder; convert: TFRecord prefix; make_bin: .bin path.")
    flags.DEFINE_string("data", None, "convert / make_bin: the input (training source or identity folders).")
    flags.DEFINE_integer("identities", 300, "synth: training identities.")
    flags.DEFINE_integer("images_per_identity", 16, "synth: images per training identity.")
    flags.DEFINE_integer("val_identities", None, "synth: held-out identities for val.bin (default a third).")
    flags.DEFINE_integer("pairs", 2000, "synth / make_bin: verification pairs (half positive).")
    flags.DEFINE_integer("seed", 0, "synth / make_bin / convert: random seed; the same seed writes the same data.")
    flags.DEFINE_float("difficulty", 0.5, "synth: 0 (clean) to 1 (hard): scales pose, light, blur, occlusion.")
    flags.DEFINE_bool("json", False, "inspect / bench: print JSON.")
    flags.DEFINE_integer("batch_size", 256, "bench: batch size.")
    flags.DEFINE_integer("steps", 50, "bench: batches to time (after 5 warm-up batches).")
    flags.DEFINE_bool("flip", True, "bench: random horizontal flip, as in training.")
    flags.DEFINE_integer("shards", 8, "convert: number of TFRecord files.")
    flags.DEFINE_string("root", None, "lfw: LFW's folder (pairs.txt, people lists and images/<name>/).")
    flags.DEFINE_enum("view", "test", list(lfw.VIEWS), "lfw: test = View 2's 6,000 pairs (10 folds); dev_train / "
                      "dev_test = View 1's 2,200 / 1,000 pairs (disjoint people).")
    flags.DEFINE_string("faces", None, "lfw: also write every photo of the view's people, aligned, into this "
                        "folder (identity sub-folders).")
    flags.DEFINE_integer("max_pairs", None, "lfw: only the list's first N pairs (a quick look; the folds need all).")
    flags.DEFINE_bool("landmarks", True, "lfw: align by ONet's five landmarks; --nolandmarks: by BlazeFace's four "
                      "keypoints.")


def _require(*names):
    missing = [f"--{name}" for name in names if getattr(FLAGS, name) is None]
    if missing:
        raise app.UsageError(f"missing {' and '.join(missing)}")


def _print(result, text):
    print(json.dumps(result, indent=2) if FLAGS.json else text)


def _lfw():
    from tfmfn import align

    _require("root")
    if FLAGS.out is None and FLAGS.faces is None:
        raise app.UsageError("lfw: give --out X.bin, --faces DIR, or both")
    detector = align.FaceDetector(landmarks=FLAGS.landmarks)
    if FLAGS.out:
        summary = lfw.write_bin(FLAGS.root, FLAGS.out, FLAGS.view, detector, max_pairs=FLAGS.max_pairs)
        print(
            f"{summary['pairs']} pairs ({summary['same_person']} same person) of {summary['photos']} photos -> "
            f"{FLAGS.out}; faces found in {summary['faces_found']}, {len(summary['no_face'])} filled from the "
            f"central box (listed in {FLAGS.out}.json); {summary['seconds_per_photo'] * 1000:.1f} ms a photo"
        )
    if FLAGS.faces:
        written = lfw.write_faces(FLAGS.root, FLAGS.faces, FLAGS.view, detector)
        print(f"{written['photos']} photos of {written['people']} people aligned into {FLAGS.faces}; "
              f"{len(written['no_face'])} without a detected face, filled from the central box")


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"give a command: {', '.join(COMMANDS)} (see --help)")
    command, arguments = argv[1], argv[2:]
    if command in ("inspect", "bench") and len(arguments) != 1:
        raise app.UsageError(f"usage: python -m tfmfn.data {command} PATH")
    if command not in ("inspect", "bench") and arguments:
        raise app.UsageError(f"unexpected arguments: {' '.join(arguments)}")
    try:
        if command == "synth":
            _require("out")
            summary = synth.generate(
                FLAGS.out, FLAGS.identities, FLAGS.images_per_identity, FLAGS.pairs, FLAGS.seed,
                FLAGS.difficulty, FLAGS.val_identities,
            )
            print(f"SYNTHETIC data written to {FLAGS.out}: {json.dumps(summary)}")
        elif command == "inspect":
            result = survey.inspect_path(arguments[0])
            _print(result, "\n".join(f"{key:>13}: {value}" for key, value in result.items()))
        elif command == "bench":
            result = survey.bench(arguments[0], FLAGS.batch_size, FLAGS.steps, flip=FLAGS.flip)
            _print(
                result,
                f"{result['images_per_second']:.0f} images/s ({result['format']}, batch {FLAGS.batch_size}, "
                f"flip {'on' if FLAGS.flip else 'off'}, {result['images']} images in {result['seconds']:.2f} s)",
            )
        elif command == "convert":
            _require("data", "out")
            source = pipeline.open_source(FLAGS.data)
            summary = tfrecord.write_tfrecords(source.samples(seed=FLAGS.seed), FLAGS.out, FLAGS.shards, progress=True)
            print(f"{summary['num_images']} images of {summary['num_classes']} identities -> {FLAGS.out}-*.tfrecord")
        elif command == "lfw":
            _lfw()
        else:
            _require("data", "out")
            bins.write_bin_from_folder(FLAGS.data, FLAGS.out, FLAGS.pairs, FLAGS.seed)
            print(f"{FLAGS.pairs} pairs -> {FLAGS.out}")
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: {error}")


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
