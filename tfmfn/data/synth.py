"""Synthetic identities: procedurally drawn faces, tfmfn's embedded default dataset.

SYNTHETIC DATA. No identity-labelled face dataset can be shipped or downloaded
with tfmfn, so the default data is drawn: each identity is a set of face traits
(head shape, skin, eyes, brows, nose, mouth, ears, hair, beard, moles), and each
image of it is drawn under a fresh nuisance (pose, scale, lighting and colour
cast, expression, background, occlusion, blur, noise). Identity lives in the face
and not in the pixels' overall statistics, so raw-pixel or colour-histogram
matching does poorly on the verification pairs while a CNN learns the faces.

Faces are drawn already aligned: the eyes, nose and mouth sit near the 112x112
template of `tfmfn.preprocess` (before pose jitter), as aligned crops would.

`difficulty` (0 to 1, default 0.5) scales every nuisance.

Example:

    >>> identity = Identity.sample(np.random.default_rng(0))
    >>> render(identity, np.random.default_rng(1)).shape
    (112, 112, 3)

CLI: `python -m tfmfn.data synth --out DIR [--identities N] [--images_per_identity K]
[--pairs P] [--seed S] [--difficulty D]` writes `DIR/train/<identity>/*.jpg` and
`DIR/val.bin`, whose pairs come from identities not in `train/`.
"""

import dataclasses
import json
import os

import cv2
import numpy as np

from tfmfn import preprocess
from tfmfn.data import bins

SIZE = preprocess.INPUT_SIZE[0]
_SUPERSAMPLE = 2


@dataclasses.dataclass(frozen=True)
class Identity:
    """The traits that make a synthetic person recognisable."""

    face_width: float
    face_height: float
    jaw: float
    skin: tuple
    eye_spacing: float
    eye_height: float
    eye_size: float
    eye_aspect: float
    iris: tuple
    brow_thickness: float
    brow_tilt: float
    brow_arch: float
    brow_gap: float
    nose_length: float
    nose_width: float
    mouth_width: float
    mouth_height: float
    lip_thickness: float
    lip: tuple
    ear_size: float
    hair: tuple
    hair_style: int
    hair_line: float
    beard: float
    moles: tuple

    @staticmethod
    def sample(rng):
        """A random identity."""
        skin_tone = rng.uniform(0.25, 1.0)
        skin = tuple(float(c) for c in np.array([210, 150, 105]) * skin_tone + rng.uniform(-18, 18, 3) + 30)
        hair = tuple(float(c) for c in rng.uniform(10, 200) * np.array([0.8, 0.65, 0.5]) + rng.uniform(-20, 20, 3))
        moles = tuple(
            (float(rng.uniform(-0.7, 0.7)), float(rng.uniform(-0.5, 0.8)), float(rng.uniform(0.8, 2.2)))
            for _ in range(rng.integers(0, 4))
        )
        return Identity(
            face_width=rng.uniform(36, 48),
            face_height=rng.uniform(50, 62),
            jaw=rng.uniform(0.55, 1.0),
            skin=skin,
            eye_spacing=rng.uniform(30, 40),
            eye_height=rng.uniform(-3, 3),
            eye_size=rng.uniform(4.5, 7.5),
            eye_aspect=rng.uniform(0.35, 0.75),
            iris=tuple(float(c) for c in rng.uniform(20, 160, 3)),
            brow_thickness=rng.uniform(1.5, 4.5),
            brow_tilt=rng.uniform(-0.25, 0.25),
            brow_arch=rng.uniform(0.0, 4.0),
            brow_gap=rng.uniform(7, 13),
            nose_length=rng.uniform(12, 24),
            nose_width=rng.uniform(6, 14),
            mouth_width=rng.uniform(20, 34),
            mouth_height=rng.uniform(-4, 4),
            lip_thickness=rng.uniform(1.5, 5.0),
            lip=tuple(float(c) for c in np.array(skin) * rng.uniform(0.55, 0.85) + [25, 0, 0]),
            ear_size=rng.uniform(6, 12),
            hair=hair,
            hair_style=int(rng.integers(0, 4)),
            hair_line=rng.uniform(0.25, 0.7),
            beard=float(rng.uniform(0, 1) if rng.uniform() < 0.3 else 0.0),
            moles=moles,
        )


def _ellipse(canvas, centre, axes, angle, colour, thickness=-1, start=0, end=360):
    scale = _SUPERSAMPLE
    cv2.ellipse(
        canvas,
        (int(round(centre[0] * scale * 16)), int(round(centre[1] * scale * 16))),
        (max(int(round(axes[0] * scale * 16)), 1), max(int(round(axes[1] * scale * 16)), 1)),
        angle, start, end, colour, thickness if thickness < 0 else max(int(round(thickness * scale)), 1),
        cv2.LINE_AA, 4,
    )  # fmt: skip


def _polyline(canvas, points, colour, thickness, closed=False):
    scaled = np.round(np.asarray(points) * _SUPERSAMPLE * 16).astype(np.int32)
    if thickness < 0:
        cv2.fillPoly(canvas, [scaled], colour, cv2.LINE_AA, 4)
    else:
        cv2.polylines(canvas, [scaled], closed, colour, max(int(round(thickness * _SUPERSAMPLE)), 1), cv2.LINE_AA, 4)


def _background(rng, difficulty):
    size = SIZE * _SUPERSAMPLE
    first, second = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ramp = np.linspace(0, 1, size)[:, None, None]
    if rng.uniform() < 0.5:
        ramp = ramp.transpose(1, 0, 2)
    canvas = first * (1 - ramp) + second * ramp
    blobs = rng.normal(0, 40 * difficulty + 10, (8, 8, 3)).astype(np.float32)
    canvas = canvas + cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(canvas, 0, 255).astype(np.uint8).copy()


def _draw_face(canvas, identity, pose, expression):
    """Draws the face in a frame centred at the template's face centre (56, 60)."""
    cx, cy = 56.0 + pose["yaw"] * 10, 62.0 + pose["pitch"] * 6
    yaw = pose["yaw"]
    skin = identity.skin
    shade = tuple(c * 0.8 for c in skin)
    ear_offset = identity.face_width * (1 - abs(yaw) * 0.3)
    for side in (-1, 1):
        visible = 1 - max(0.0, side * yaw) * 1.5
        if visible > 0.2:
            _ellipse(canvas, (cx + side * ear_offset, cy - 2), (identity.ear_size * 0.55 * visible, identity.ear_size), 0, shade)
    # Head: an upper ellipse and a jaw ellipse narrowed by `jaw`.
    width = identity.face_width * (1 - abs(yaw) * 0.15)
    _ellipse(canvas, (cx, cy - 6), (width, identity.face_height * 0.75), 0, skin)
    _ellipse(canvas, (cx, cy + 4), (width * identity.jaw, identity.face_height * 0.72), 0, skin, start=0, end=180)
    if identity.beard > 0:
        beard_colour = tuple(c * 0.6 + s * 0.4 for c, s in zip(identity.hair, skin))
        _ellipse(canvas, (cx, cy + 10), (width * identity.jaw * 0.95, identity.face_height * 0.62 * identity.beard + 8), 0, beard_colour, start=10, end=170)
    hair_top = cy - identity.face_height * 0.75
    if identity.hair_style != 3:
        _ellipse(canvas, (cx, hair_top + identity.face_height * identity.hair_line * 0.5), (width * 1.05, identity.face_height * identity.hair_line), 0, identity.hair, start=180, end=360)
    if identity.hair_style == 1:
        for side in (-1, 1):
            _ellipse(canvas, (cx + side * width * 0.95, cy - 12), (5, 18), 0, identity.hair)
    if identity.hair_style == 2:
        _ellipse(canvas, (cx - width * 0.3, hair_top + identity.face_height * identity.hair_line * 0.7), (width * 0.6, 7), -15, identity.hair)
    # Features move with yaw (towards the turned side) and pitch.
    shift = yaw * 9
    eye_y = 51.6 + identity.eye_height + pose["pitch"] * 6
    openness = expression["eyes"]
    for side in (-1, 1):
        squash = 1 - max(0.0, side * yaw) * 0.6
        eye_x = cx + shift + side * identity.eye_spacing / 2 * (1 - abs(yaw) * 0.25)
        _ellipse(canvas, (eye_x, eye_y), (identity.eye_size * squash, identity.eye_size * identity.eye_aspect * openness + 0.4), 0, (245, 245, 240))
        if openness > 0.25:
            _ellipse(canvas, (eye_x + yaw * 2, eye_y), (identity.eye_size * 0.45 * squash, identity.eye_size * 0.45 * min(1.0, identity.eye_aspect * openness * 2)), 0, identity.iris)
            _ellipse(canvas, (eye_x + yaw * 2, eye_y), (identity.eye_size * 0.18, identity.eye_size * 0.18), 0, (15, 15, 15))
        _ellipse(canvas, (eye_x, eye_y), (identity.eye_size * squash, identity.eye_size * identity.eye_aspect * openness + 0.4), 0, tuple(c * 0.5 for c in skin), thickness=0.8)
        brow_y = eye_y - identity.brow_gap - expression["brows"]
        half = identity.eye_size * 1.3 * squash
        points = [
            (eye_x - half, brow_y + side * identity.brow_tilt * half),
            (eye_x, brow_y - identity.brow_arch),
            (eye_x + half, brow_y - side * identity.brow_tilt * half),
        ]
        _polyline(canvas, points, tuple(c * 0.7 for c in identity.hair), identity.brow_thickness)
    nose_top = eye_y + 3
    nose_tip = (cx + shift * 1.3, eye_y + identity.nose_length)
    _polyline(canvas, [(cx + shift, nose_top), nose_tip, (nose_tip[0] - identity.nose_width / 2, nose_tip[1] - 1)], tuple(c * 0.7 for c in skin), 1.4)
    _ellipse(canvas, (nose_tip[0], nose_tip[1] - 1), (identity.nose_width / 2, 3), 0, tuple(c * 0.85 for c in skin))
    for side in (-1, 1):
        _ellipse(canvas, (nose_tip[0] + side * identity.nose_width * 0.3, nose_tip[1]), (1.5, 1.0), 0, tuple(c * 0.45 for c in skin))
    mouth_y = 92.3 + identity.mouth_height + pose["pitch"] * 6
    mouth_x = cx + shift
    half_width = identity.mouth_width / 2 * (1 - abs(yaw) * 0.3)
    smile = expression["smile"]
    if expression["open"] > 0.1:
        _ellipse(canvas, (mouth_x, mouth_y + 1), (half_width * 0.8, 2 + expression["open"] * 6), 0, (60, 30, 40))
    upper = [(mouth_x - half_width, mouth_y - smile), (mouth_x, mouth_y + smile * 0.3), (mouth_x + half_width, mouth_y - smile)]
    _polyline(canvas, upper, identity.lip, identity.lip_thickness)
    _ellipse(canvas, (mouth_x, mouth_y + identity.lip_thickness * 0.6 + expression["open"] * 5), (half_width * 0.6, identity.lip_thickness * 0.6), 0, identity.lip)
    for mole_x, mole_y, radius in identity.moles:
        _ellipse(canvas, (cx + shift * 0.8 + mole_x * width * 0.8, cy + mole_y * identity.face_height * 0.5), (radius, radius), 0, tuple(c * 0.35 for c in skin))


def _occlude(image, rng):
    kind = rng.integers(0, 3)
    colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
    if kind == 0:  # sunglasses or glasses
        for side in (-1, 1):
            cv2.circle(image, (int(56 + side * 17), 52), int(rng.uniform(8, 12)), colour, -1 if rng.uniform() < 0.5 else 2, cv2.LINE_AA)
        cv2.line(image, (47, 52), (65, 52), colour, 2, cv2.LINE_AA)
    elif kind == 1:  # a mask over mouth and nose
        top = int(rng.uniform(70, 84))
        cv2.rectangle(image, (int(rng.uniform(18, 30)), top), (int(rng.uniform(82, 94)), 112), colour, -1)
    else:  # a hand or object at a random place
        centre = (int(rng.uniform(10, 102)), int(rng.uniform(10, 102)))
        cv2.ellipse(image, centre, (int(rng.uniform(10, 24)), int(rng.uniform(8, 18))), rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA)
    return image


def render(identity, rng, difficulty=0.5):
    """One RGB uint8 112x112 image of `identity` under a random nuisance."""
    d = float(np.clip(difficulty, 0.0, 1.0))
    pose = {"yaw": rng.uniform(-0.6, 0.6) * d, "pitch": rng.uniform(-0.5, 0.5) * d}
    expression = {
        "eyes": 1.0 if rng.uniform() > 0.1 * d else rng.uniform(0.1, 0.5),
        "brows": rng.uniform(-1.5, 3.0) * d,
        "smile": rng.uniform(-1.0, 4.0) * d,
        "open": rng.uniform(0, 1) * d if rng.uniform() < 0.4 else 0.0,
    }
    canvas = _background(rng, d)
    _draw_face(canvas, identity, pose, expression)
    image = cv2.resize(canvas, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    # Geometry: rotation, scale and shift around the template's centre.
    angle = rng.uniform(-20, 20) * d
    scale = 1 + rng.uniform(-0.15, 0.15) * d
    matrix = cv2.getRotationMatrix2D((56, 62), angle, scale)
    matrix[:, 2] += rng.uniform(-6, 6, 2) * d
    image = cv2.warpAffine(image, matrix, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT)
    # Lighting: a directional gradient, exposure, contrast and a colour cast.
    direction = rng.uniform(0, 2 * np.pi)
    grid_y, grid_x = np.mgrid[0:SIZE, 0:SIZE] / SIZE - 0.5
    light = 1 + rng.uniform(0, 0.9) * d * (np.cos(direction) * grid_x + np.sin(direction) * grid_y)
    image = image * light[:, :, None]
    image = (image - 128) * (1 + rng.uniform(-0.4, 0.3) * d) + 128 + rng.uniform(-60, 60) * d
    image = image * (1 + rng.uniform(-0.3, 0.3, 3) * d)
    if rng.uniform() < 0.35 * d:
        image = _occlude(np.clip(image, 0, 255), rng)
    sigma = rng.uniform(0, 1.6) * d
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.normal(0, rng.uniform(0, 12) * d, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def encode_jpeg(image, quality=95):
    """RGB uint8 -> JPEG bytes."""
    return cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def generate(out, identities=300, images_per_identity=16, pairs=2000, seed=0, difficulty=0.5, val_identities=None, progress=True):
    """Writes `out/train/<identity>/<k>.jpg` and `out/val.bin` (pairs from held-out identities).

    Returns a summary dict, also written as `out/synth.json`. Deterministic for a seed.
    """
    from tqdm import tqdm

    if identities < 2:
        raise ValueError("synthetic data needs at least 2 training identities")
    if images_per_identity < 2:
        raise ValueError("synthetic data needs at least 2 images per identity")
    val_identities = val_identities or max(20, identities // 3)
    rng = np.random.default_rng(seed)
    people = [Identity.sample(rng) for _ in range(identities + val_identities)]
    image_seeds = rng.integers(0, 2**63, size=identities + val_identities)
    train_dir = os.path.join(out, "train")
    for number in tqdm(range(identities), desc="rendering train", unit="identity", disable=not progress):
        folder = os.path.join(train_dir, f"id{number:05d}")
        os.makedirs(folder, exist_ok=True)
        person_rng = np.random.default_rng(image_seeds[number])
        for k in range(images_per_identity):
            with open(os.path.join(folder, f"{k:03d}.jpg"), "wb") as stream:
                stream.write(encode_jpeg(render(people[number], person_rng, difficulty)))
    held_out = people[identities:]
    pair_rng = np.random.default_rng(image_seeds[identities])
    pair_list, issame = [], []
    for index in tqdm(range(pairs), desc="rendering val.bin", unit="pair", disable=not progress):
        same = index % 2 == 0
        first = int(pair_rng.integers(len(held_out)))
        second = first
        while not same and second == first:
            second = int(pair_rng.integers(len(held_out)))
        pair_list.append(
            tuple(encode_jpeg(render(held_out[person], pair_rng, difficulty)) for person in (first, second))
        )
        issame.append(same)
    bins.write_bin(os.path.join(out, "val.bin"), pair_list, issame)
    summary = {
        "synthetic": True,
        "identities": identities,
        "images_per_identity": images_per_identity,
        "val_identities": val_identities,
        "pairs": pairs,
        "seed": seed,
        "difficulty": difficulty,
    }
    with open(os.path.join(out, "synth.json"), "w") as stream:
        json.dump(summary, stream, indent=2)
    return summary
