"""Distillation: the teacher a student learns from, its embeddings of the training images, and the loss.

`python -m tfmfn.train --teacher MODEL --data FOLDER` trains a zoo model (the student) to
give, for each face in FOLDER (any layout; folder names are never read), the direction of
the teacher's embedding of the same face as the student sees it (mirrored or not). The
student keeps its own embedding size: a learned linear projection (the run's head, saved
as `head.npz` and left out of the export) maps it onto the teacher's size where they differ,
so Table I's 128-d MobileFaceNet learns from a 192-d teacher. The loss of an image is

    1 - cos(P s, t)  +  similarity_weight * mean_j (cos(s, s_j) - cos(t, t_j))^2

with s the student's embedding, P the projection, t the teacher's, and j the other images
of the replica's batch: the first term carries the teacher's knowledge, the second holds
the student's own cosines, which verification compares, to the teacher's.

With `teacher_cache` the teacher embeds every image and its mirror image once, before
training (the only augmentation the cache can follow is the flip); the embeddings are kept
in the run folder with the teacher's SHA-256 and the image list, so a resumed run reads them
back. Without it the teacher runs in every step on the augmented batch.

Example (SYNTHETIC faces; an untrained zoo model as the teacher):

    >>> import os, tempfile, numpy as np, cv2
    >>> from tfmfn import models
    >>> from tfmfn.data import pipeline
    >>> folder = tempfile.mkdtemp()
    >>> pixels = np.random.default_rng(0).integers(0, 256, (3, 112, 112, 3), np.uint8)
    >>> for number, face in enumerate(pixels):
    ...     _ = cv2.imwrite(os.path.join(folder, f"{number}.png"), face)
    >>> models.build("mobilefacenet", embedding_size=64).save(os.path.join(folder, "teacher.keras"))
    >>> teacher = Teacher(os.path.join(folder, "teacher.keras"))
    >>> teacher.embeddings(pipeline.open_source(folder, labelled=False), progress=False).shape
    (3, 2, 64)
"""

import hashlib
import json
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmfn import preprocess, storage
from tfmfn.data import pipeline
from tfmfn.runtime import inference, model_card
from tfmfn.runtime.model_files import locate

TEACHER_RECORD = "teacher.json"
TEACHER_CACHE = "teacher_embeddings.npz"
CACHE_BATCH = 128
UNKNOWN_LICENCE = "unknown: no model card says where the teacher's weights come from; find out before using the student"


class Teacher:
    """A trained embedder (any model `tfmfn.runtime.inference.load_embedder` reads, .tflite included) as a teacher."""

    def __init__(self, path):
        self.files = locate(path)
        self.path = os.path.abspath(self.files.path)
        weights = os.path.join(self.path, "saved_model.pb") if os.path.isdir(self.path) else self.path
        self.sha256 = model_card.file_sha256(weights)
        self.card = self.files.card or {}
        self.embedder = inference.load_embedder(self.files)
        self.embedding_size = int(self.embedder.embedding_size)
        self.input_size = tuple(self.embedder.input_size)

    @property
    def licence(self):
        """Where the teacher's weights come from and under which terms, as its card says."""
        imported = self.card.get("imported", {})
        if imported.get("provenance"):
            return imported["provenance"]
        data = self.card.get("training", {}).get("data", {})
        if data.get("path"):
            return f"trained with tfmfn on {data['path']}: the terms of those images apply"
        return UNKNOWN_LICENCE

    def record(self):
        """What the model card of a student says about its teacher."""
        record = {
            "file": self.path, "sha256": self.sha256, "model": self.card.get("model", self.files.name),
            "embedding_size": self.embedding_size, "licence": self.licence,
        }
        if self.card.get("imported", {}).get("sha256"):
            record["imported_from_sha256"] = self.card["imported"]["sha256"]
        return record

    def keras_model(self):
        """The teacher as a tf_keras model, for `teacher_cache=False` (which runs it in the training step)."""
        if self.files.kind == "tflite":
            raise ValueError(
                f"--teacher {self.path}: a .tflite teacher embeds through LiteRT, outside the training graph; "
                "keep --teacher_cache, or give the Keras model it came from"
            )
        return self.embedder.model

    def check_student(self, input_size):
        if tuple(input_size) != self.input_size:
            raise ValueError(
                f"--teacher {self.path} takes {self.input_size[0]}x{self.input_size[1]} faces and the student "
                f"{input_size[0]}x{input_size[1]}; give an --arch of the teacher's input size"
            )

    def embeddings(self, source, progress=True):
        """(N, 2, D) L2-normalised float32: the teacher's embedding of each image of `source` (a
        `FaceSource`, in its order) as it is, then mirrored."""
        from tqdm import tqdm

        images = source.encoded().map(
            lambda encoded, label: tf.cast(pipeline.decode_image(encoded, self.input_size), tf.uint8),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        chunks = []
        with tqdm(total=source.num_images, desc="teacher's embeddings", unit="image", disable=not progress) as bar:
            for batch in images.batch(CACHE_BATCH).prefetch(1):
                faces = batch.numpy()
                chunks.append(np.stack([self.embedder.embed(faces), self.embedder.embed(faces[:, :, ::-1])], axis=1))
                bar.update(len(faces))
        embeddings = np.concatenate(chunks)
        return embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)

    def cached_embeddings(self, source, folder, progress=True, say=print, earlier=()):
        """`embeddings(source)`, read from `folder/teacher_embeddings.npz`, or from that of an `earlier`
        run folder (a first stage's), when it holds this teacher's embeddings of these images; else
        computed. Whatever was not read from `folder` is written there (when `folder`)."""
        key = np.array([self.sha256, _image_list_digest(source)])
        path = os.path.join(folder, TEACHER_CACHE) if folder else None
        for candidate in ([path] if path else []) + [os.path.join(run, TEACHER_CACHE) for run in earlier]:
            if storage.exists(candidate):
                with storage.local_copy(candidate) as local, np.load(local) as cached:
                    if np.array_equal(cached["key"], key):
                        say(f"the teacher's embeddings of {source.num_images} images, from {candidate}")
                        embeddings = cached["embeddings"]
                        break
        else:
            say(f"the teacher embeds {source.num_images} images and their mirror images once")
            embeddings, candidate = self.embeddings(source, progress), None
        if path and candidate != path:
            storage.makedirs(folder)
            with storage.written(path) as local, open(local, "wb") as stream:
                np.savez(stream, key=key, embeddings=embeddings)
        return embeddings

    def in_step(self, student_normalization):
        """A function of a batch normalised the student's way -> the teacher's normalised embeddings."""
        model = self.keras_model()
        (student_mean, student_scale), (mean, scale) = student_normalization, self.embedder.normalization

        def embed(images):
            pixels = images * student_scale + student_mean
            embeddings = tf.cast(model(preprocess.normalize(pixels, (mean, scale)), training=False), tf.float32)
            return tf.math.l2_normalize(embeddings, axis=1, epsilon=1e-30)  # as numpy would: any length is a direction

        return embed


def _image_list_digest(source):
    """SHA-256 of the images' paths (relative to the data folder) and sizes: which images, in which order."""
    digest = hashlib.sha256()
    for path in source.files:
        digest.update(f"{os.path.relpath(path, source.path)}\t{os.path.getsize(path)}\n".encode())
    return digest.hexdigest()


def projection(student_size, teacher_size, weight_decay=0.0):
    """The head of a distillation run: a linear map of the student's embedding onto the teacher's
    size, or the identity when they are equal."""
    if student_size == teacher_size:
        return keras.layers.Identity(name="teacher_projection")
    regularizer = keras.regularizers.L2(0.5 * weight_decay) if weight_decay else None
    return keras.layers.Dense(teacher_size, use_bias=False, kernel_regularizer=regularizer, name="teacher_projection")


def distillation_loss(embeddings, projected, targets, similarity_weight):
    """(loss per image, cosine of each projected embedding to its target): `targets` are the teacher's
    L2-normalised embeddings of the batch's images; see the module's docstring.

    Example:

        >>> import numpy as np
        >>> targets = np.eye(3, dtype=np.float32)
        >>> loss, cosine = distillation_loss(targets * 2, targets * 5, targets, 1.0)
        >>> loss.numpy().round(6).tolist(), cosine.numpy().round(6).tolist()
        ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    """
    targets = tf.cast(targets, tf.float32)
    student = tf.math.l2_normalize(tf.cast(embeddings, tf.float32), axis=1)
    projected = tf.math.l2_normalize(tf.cast(projected, tf.float32), axis=1)
    cosine = tf.reduce_sum(projected * targets, axis=1)
    loss = 1.0 - cosine
    if similarity_weight:
        gaps = tf.matmul(student, student, transpose_b=True) - tf.matmul(targets, targets, transpose_b=True)
        loss += similarity_weight * tf.reduce_mean(tf.square(gaps), axis=1)
    return loss, cosine


def record_teacher(model_dir, teacher):
    """Raises ValueError when `model_dir` learned from another teacher (other weights than `teacher`'s
    file holds now); returns the record to write there."""
    record = teacher.record()
    path = os.path.join(model_dir, TEACHER_RECORD)
    if storage.exists(path):
        recorded = json.loads(storage.read_text(path))
        if recorded["sha256"] != record["sha256"]:
            raise ValueError(
                f"{model_dir} learned from other teacher weights than {teacher.path} holds now (sha256 "
                f"{recorded['sha256'][:12]} then, {record['sha256'][:12]} now); delete it or give another --model_dir"
            )
    return record
