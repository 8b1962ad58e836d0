"""Training configurations: one base config and small presets, like insightface's arcface_torch.

`TrainConfig` holds every setting of a run with the paper's recipe as defaults
(CASIA-WebFace, Section 4.1); a preset overrides a few fields, and flags (or
keyword arguments) override the preset.

| preset              | data          | head             | batch | optimiser         | lr schedule                       | steps |
|---------------------|---------------|------------------|-------|-------------------|-----------------------------------|-------|
| `paper_casia`       | CASIA-WebFace | ArcFace 64, 0.5  | 512   | SGD, momentum 0.9 | 0.1, /10 at 36K, 52K, 58K         | 60K   |
| `paper_ms1m`        | refined MS1M  | ArcFace 64, 0.5  | 512   | SGD, momentum 0.9 | 0.1, /10 at 100K, 140K, 160K      | 180K  |
| `ms1m_softmax`      | refined MS1M  | softmax          | 512   | SGD, momentum 0.9 | 0.1                               | 120K  |
| `ms1m_arcface`      | refined MS1M  | ArcFace 64, 0.5  | 512   | SGD, momentum 0.9 | 0.1, /10 at 100K, 140K, 160K, from `runs/ms1m_softmax` | 180K |
| `synthetic`         | `runs/synth`  | ArcFace 32, 0.3  | 32    | Adam              | 2e-3, /10 at 240, 280             | 300   |
| `synthetic_softmax` | `runs/synth`  | softmax          | 32    | Adam              | 2e-3                              | 150   |
| `synthetic_arcface` | `runs/synth`  | ArcFace 32, 0.3  | 32    | Adam              | 2e-3, /10 at 120, 140, from `runs/synthetic_softmax` | 150 |
| `synthetic_qat`     | `runs/synth`  | ArcFace 32, 0.3  | 32    | Adam              | 2e-5 (QAT from `runs/synthetic`)  | 100   |
| `distill_quick`     | aligned faces | none: the teacher `runs/sirius` | 32 | Adam   | 2e-3, /10 at 70%, 90%             | 1,500 |
| `distill_lfw`       | aligned faces | none: the teacher `runs/sirius` | 32 | Adam   | 1e-3, /10 at 60%, 85%, from `runs/distill_quick` | 2,000 |

`lr_boundaries` are steps, or fractions of `steps` when all lie below 1, and
every decay must fall inside the run (`make_config("paper_casia", steps=20000)`
is refused and names the fractions that keep the paper's proportions). With
`epochs` (arcface_torch's unit) the run's length follows from the data's size,
`lr_boundaries` count epochs (or are fractions), and `for_data(num_images)`
gives the config in steps.

All decay weights by 4e-5, and by 4e-4 in the layers after the global
operator (the linear 1x1 after the GDConv, and the margin head), as the paper
does. The paper gives no MS1M schedule: `paper_ms1m` keeps its optimiser,
batch and weight decay with the ArcFace schedule that insightface's authors
published for MobileFaceNet on MS1M (deepinsight/insightface issue 214), in one
stage. Their recipe has two: a plain softmax head at 0.1 for 120K steps
(`ms1m_softmax`), then ArcFace from its weights and class centres
(`ms1m_arcface`, which is `paper_ms1m` started `--init_from runs/ms1m_softmax`);
MobileFaceNet trained with ArcFace from scratch is reported to stall there.
`synthetic_softmax` and `synthetic_arcface` are the same two stages on the
embedded synthetic data, 150 steps each. `synthetic` is sized to train the
embedded synthetic data on 2 CPU cores in about 5 minutes; `synthetic_qat`
fine-tunes its result (`runs/synthetic`) under quantization-aware training
(`--qat --init_from`), BatchNorm statistics frozen, as `tfmfn.convert --int8`
does for any trained model. The `distill_*` presets train without labels, on
a folder of aligned faces, to give a teacher's embeddings (`tfmfn.train.teacher`):
`distill_quick` is sized to take about 30 minutes on 2 CPU cores for LFW View 1's
9,525 training faces (`python -m tfmfn.data lfw --view dev_train --faces DIR`);
`distill_lfw` trains its result further (its projection included), from a
learning rate raised again, as a second stage; the README gives what each scored.

Example:

    >>> config = make_config("synthetic", batch_size=64)
    >>> config.batch_size, config.steps, config.optimizer, config.lr_boundaries
    (64, 300, 'adam', (240, 280))
    >>> make_config("paper_casia").lr_boundaries
    (36000, 52000, 58000)
    >>> make_config("paper_casia", steps=20000, lr_boundaries=(0.6, 0.867, 0.967)).boundary_steps()
    (12000, 17340, 19340)
"""

import dataclasses
import json

HEAD_CHOICES = ("arcface", "cosface", "combined", "normface", "softmax", "none")
OPTIMIZER_CHOICES = ("sgd", "adam")
STRATEGY_CHOICES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def _setting(default, help_text):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; the defaults are the paper's CASIA-WebFace recipe."""

    preset: str = _setting("paper_casia", "The preset this config started from.")
    # What is trained.
    arch: str = _setting("mobilefacenet", "Zoo architecture (`python -m tfmfn.models` lists them).")
    embedding_size: int = _setting(None, "Embedding width (default: the model's own, 128 for most).")
    head: str = _setting("arcface", "Classification head: arcface, cosface, combined (margins), normface (no margin) or softmax (plain, for a first stage); none with --teacher.")
    scale: float = _setting(64.0, "The head's scale s (not used by softmax).")
    margin: float = _setting(0.5, "ArcFace's additive angular margin, or CosFace's cosine margin.")
    combined_margins: tuple = _setting((1.0, 0.3, 0.2), "m1,m2,m3 of the combined head: cos(m1*theta + m2) - m3.")
    init_from: str = _setting(None, "Start from a trained model: a model_dir, its export/ folder or an embedder .keras file (the head's weights come along when the identities match).")
    qat: bool = _setting(False, "Quantization-aware fine-tuning of --init_from in its int8 deploy form (tfmfn.quantize.qat), BatchNorm frozen.")
    teacher: str = _setting(None, "Distil from this trained embedder (model_dir, .keras, .tflite, ...): the student learns its normalised embeddings of --data's images, a folder of aligned faces whose labels are never read (tfmfn.train.teacher).")
    teacher_cache: bool = _setting(True, "With --teacher: embed every image and its mirror image with the teacher once, before training, instead of in every step (the flip is then the only augmentation).")
    similarity_weight: float = _setting(1.0, "With --teacher: weight of the loss term that holds the student's cosines within a batch to the teacher's.")
    partial_fc: float = _setting(1.0, "Partial FC (insightface): each step's loss over the batch's classes and this share of the others, drawn at random (1: every class).")
    # On what.
    data: str = _setting(None, "Training data: insightface folder or .rec, TFRecords, or identity folders.")
    eval_bins: tuple = _setting((), "Verification .bin sets evaluated every --eval_every steps, comma separated.")
    flip: bool = _setting(True, "Random horizontal flips.")
    light_augment: bool = _setting(False, "Small random brightness, contrast and saturation changes.")
    seed: int = _setting(0, "Seed of the initial weights, the data order and the augmentation.")
    # How.
    batch_size: int = _setting(512, "Global batch, split across replicas.")
    steps: int = _setting(60000, "Training steps (a finished run trained further with a larger value continues).")
    epochs: float = _setting(None, "Train for this many passes over --data instead of --steps (the steps follow from the data's size and --batch_size); --lr_boundaries then count epochs, or fractions.")
    optimizer: str = _setting("sgd", "sgd (with --momentum) or adam.")
    learning_rate: float = _setting(0.1, "Initial learning rate.")
    momentum: float = _setting(0.9, "SGD momentum.")
    lr_boundaries: tuple = _setting((36000, 52000, 58000), "Where the learning rate is multiplied by --lr_decay: steps, or fractions of --steps when all are below 1 (0.6,0.87,0.97); all inside the run.")
    lr_decay: float = _setting(0.1, "Factor applied at each boundary.")
    warmup_steps: int = _setting(0, "Linear warm-up: the rate grows from 1/N of the schedule's to all of it over the first N steps (0: none).")
    clip_norm: float = _setting(0.0, "Clip the gradients, summed over replicas, to this global norm (0: no clipping; insightface's arcface_torch uses 5).")
    weight_decay: float = _setting(4e-5, "Weight decay of the kernels up to the global operator (GDConv / pooling).")
    weight_decay_after_global: float = _setting(4e-4, "Weight decay of the kernels after it, the head included.")
    mixed_precision: bool = _setting(False, "mixed_float16 on GPUs, mixed_bfloat16 on TPUs; weights stay float32.")
    sync_batch_norm: bool = _setting(False, "Batch statistics over the global batch instead of each replica's share.")
    deterministic: bool = _setting(False, "Deterministic TensorFlow ops (bit-reproducible runs, slower).")
    # Where and how often.
    model_dir: str = _setting(None, "Checkpoints, logs and export/ go here; the same model_dir resumes the run.")
    strategy: str = _setting("auto", "auto (TPU, else several GPUs mirrored, else one device), default, mirrored, multi_worker or tpu.")
    tpu: str = _setting("", "TPU name or address for --strategy tpu/auto ('local' on a TPU VM).")
    steps_per_loop: int = _setting(1, "Steps per host round trip (raise it on TPUs).")
    log_every: int = _setting(100, "Steps between log rows (CSV, TensorBoard).")
    checkpoint_every: int = _setting(1000, "Steps between checkpoints.")
    eval_every: int = _setting(2000, "Steps between evaluations of --eval_bins.")
    keep_checkpoints: int = _setting(3, "Checkpoints kept.")

    def __post_init__(self):
        self._check_choice("head", HEAD_CHOICES)
        self._check_choice("optimizer", OPTIMIZER_CHOICES)
        self._check_choice("strategy", STRATEGY_CHOICES)
        for name in ("batch_size", "steps", "steps_per_loop", "log_every", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, not {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"--epochs must be positive, not {self.epochs:g}")
        if self.epochs is None and not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"--warmup_steps must lie in 0 .. --steps - 1 ({self.steps - 1}), not {self.warmup_steps}")
        if self.clip_norm < 0:
            raise ValueError(f"--clip_norm must be positive, or 0 for no clipping, not {self.clip_norm}")
        self._check_schedule()
        if self.qat and not self.init_from:
            raise ValueError("--qat fine-tunes a trained model: give --init_from (a model_dir or embedder .keras)")
        self._check_distillation()
        if not 0 < self.partial_fc <= 1:
            raise ValueError(f"--partial_fc is the share of classes sampled each step, in (0, 1], not {self.partial_fc:g}")
        if self.partial_fc < 1 and self.head in ("softmax", "none"):
            raise ValueError(f"--partial_fc samples the class centres of a margin head, not of --head {self.head}")
        if len(self.combined_margins) != 3:
            raise ValueError(f"--combined_margins takes three values m1,m2,m3, not {self.combined_margins}")

    def _check_distillation(self):
        if self.teacher and self.head != "none":
            raise ValueError(f"--teacher trains without a margin head: give --head none, not --head {self.head}")
        if self.head == "none" and not self.teacher:
            raise ValueError("--head none trains only by distillation: give --teacher, or a margin head")
        if self.teacher and self.qat:
            raise ValueError("--teacher trains a float student; quantise it afterwards with python -m tfmfn.convert --int8")
        if self.teacher and self.teacher_cache and self.light_augment:
            raise ValueError(
                "--light_augment changes what the teacher sees, which its cached embeddings cannot follow: "
                "give --noteacher_cache with it"
            )
        if self.similarity_weight < 0:
            raise ValueError(f"--similarity_weight must be 0 or more, not {self.similarity_weight}")

    def _check_choice(self, name, choices):
        if getattr(self, name) not in choices:
            raise ValueError(f"--{name}={getattr(self, name)} is not one of {', '.join(choices)}")

    def _check_schedule(self):
        given = ",".join(f"{boundary:g}" for boundary in self.lr_boundaries)
        fractions = [0 < boundary < 1 for boundary in self.lr_boundaries]
        if any(fractions) and not self._boundaries_are_fractions():
            raise ValueError(f"--lr_boundaries {given}: give all as steps or all as fractions of --steps (below 1)")
        if list(self.lr_boundaries) != sorted(self.lr_boundaries):
            raise ValueError(f"--lr_boundaries must increase: {given}")
        if self.epochs is not None:
            late = [epoch for epoch in self.lr_boundaries if not any(fractions) and epoch >= self.epochs]
            if late:
                raise ValueError(
                    f"--lr_boundaries {given} put decays at epoch {', '.join(f'{epoch:g}' for epoch in late)}, not "
                    f"inside --epochs {self.epochs:g}: give epochs below it, or fractions of the run"
                )
            return
        if not any(fractions) and any(boundary != int(boundary) or boundary < 1 for boundary in self.lr_boundaries):
            raise ValueError(f"--lr_boundaries {given}: steps are whole numbers from 1, fractions lie between 0 and 1")
        late = [step for step in self.boundary_steps() if step >= self.steps]
        if late:
            preset_steps = PRESETS.get(self.preset, {}).get("steps", TrainConfig.steps)
            proportional = ",".join(f"{boundary / preset_steps:.3g}" for boundary in self.lr_boundaries)
            example = "" if any(fractions) else f" (the preset's proportions: --lr_boundaries {proportional})"
            raise ValueError(
                f"--lr_boundaries {given} put decays at step {', '.join(map(str, late))}, not inside --steps "
                f"{self.steps}: give boundaries below --steps or as fractions of it{example}, or --lr_boundaries= "
                "for a constant rate"
            )

    def _boundaries_are_fractions(self):
        return bool(self.lr_boundaries) and all(0 < boundary < 1 for boundary in self.lr_boundaries)

    def for_data(self, num_images):
        """With --epochs, the config in steps for data of `num_images` images (itself otherwise).

        Example:

            >>> recipe = make_config("paper_casia", epochs=20, lr_boundaries=(10, 16, 18)).for_data(490623)
            >>> recipe.steps, recipe.lr_boundaries
            (19165, (9582, 15332, 17248))
        """
        if self.epochs is None:
            return self
        steps_per_epoch = num_images / self.batch_size
        boundaries = self.lr_boundaries
        if not self._boundaries_are_fractions():
            boundaries = tuple(max(1, round(epoch * steps_per_epoch)) for epoch in boundaries)
        return dataclasses.replace(
            self, epochs=None, steps=max(1, round(self.epochs * steps_per_epoch)), lr_boundaries=boundaries
        )

    def boundary_steps(self):
        """--lr_boundaries in steps: fractions of --steps become the step they fall on (at least 1)."""
        if self.epochs is not None:
            raise ValueError("with --epochs the steps follow from the data: use config.for_data(num_images)")
        if self._boundaries_are_fractions():
            return tuple(max(1, round(boundary * self.steps)) for boundary in self.lr_boundaries)
        return tuple(int(boundary) for boundary in self.lr_boundaries)

    def schedule_text(self):
        """The learning rate over the run, in words."""
        if self.epochs is None:
            unit, ends = "step", [*self.boundary_steps(), self.steps]
        elif self._boundaries_are_fractions():
            unit, ends = "epoch", [f"{boundary * self.epochs:g}" for boundary in self.lr_boundaries] + [f"{self.epochs:g}"]
        else:
            unit, ends = "epoch", [f"{epoch:g}" for epoch in (*self.lr_boundaries, self.epochs)]
        warmup = f"rising linearly over {self.warmup_steps} steps to " if self.warmup_steps else ""
        return f"learning rate {warmup}" + ", ".join(f"{rate:g} to {unit} {end}" for rate, end in zip(self.learning_rates(), ends))

    def learning_rates(self):
        """The learning rate before the first boundary, between each pair, after the last."""
        return [self.learning_rate * self.lr_decay**index for index in range(len(self.lr_boundaries) + 1)]

    def head_arguments(self):
        """Keyword arguments of the head besides the number of classes."""
        if self.head == "softmax":
            return {}
        if self.head == "normface":
            return {"s": self.scale}
        if self.head == "combined":
            m1, m2, m3 = self.combined_margins
            return {"s": self.scale, "m1": m1, "m2": m2, "m3": m3}
        return {"s": self.scale, "m": self.margin}

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text):
        """The config of a `to_json` text, also of releases that named `arch` "model"."""
        values = json.loads(text)
        if "model" in values:
            values["arch"] = values.pop("model")
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


PRESETS = {
    "paper_casia": {},
    "paper_ms1m": {"steps": 180000, "lr_boundaries": (100000, 140000, 160000)},
    "synthetic": {
        "data": "runs/synth/train",
        "eval_bins": ("runs/synth/val.bin",),
        "model_dir": "runs/synthetic",
        "scale": 32.0,
        "margin": 0.3,
        "batch_size": 32,
        "steps": 300,
        "optimizer": "adam",
        "learning_rate": 2e-3,
        "lr_boundaries": (240, 280),
        "log_every": 10,
        "checkpoint_every": 50,
        "eval_every": 100,
    },
}
PRESETS["distill_quick"] = {
    "head": "none",
    "teacher": "runs/sirius",
    "model_dir": "runs/distill_quick",
    "batch_size": 32,
    "steps": 1500,
    "optimizer": "adam",
    "learning_rate": 2e-3,
    "lr_boundaries": (0.7, 0.9),
    "log_every": 20,
    "checkpoint_every": 250,
    "eval_every": 300,
}
PRESETS["distill_lfw"] = {
    **PRESETS["distill_quick"], "init_from": "runs/distill_quick", "model_dir": "runs/distill_lfw", "steps": 2000,
    "learning_rate": 1e-3, "lr_boundaries": (0.6, 0.85),
}
PRESETS["ms1m_softmax"] = {"head": "softmax", "steps": 120000, "lr_boundaries": (), "model_dir": "runs/ms1m_softmax"}
PRESETS["ms1m_arcface"] = {**PRESETS["paper_ms1m"], "init_from": "runs/ms1m_softmax", "model_dir": "runs/ms1m_arcface"}
PRESETS["synthetic_softmax"] = {
    **PRESETS["synthetic"], "head": "softmax", "steps": 150, "lr_boundaries": (), "model_dir": "runs/synthetic_softmax",
}
PRESETS["synthetic_arcface"] = {
    **PRESETS["synthetic"], "init_from": "runs/synthetic_softmax", "model_dir": "runs/synthetic_arcface",
    "steps": 150, "lr_boundaries": (120, 140),
}
PRESETS["synthetic_qat"] = {
    **PRESETS["synthetic"],
    "init_from": "runs/synthetic",
    "qat": True,
    "model_dir": "runs/synthetic_qat",
    "steps": 100,
    "learning_rate": 2e-5,
    "lr_boundaries": (),
    "checkpoint_every": 50,
    "eval_every": 50,
}

RESUMABLE_FIELDS = frozenset(
    {"data", "eval_bins", "steps", "model_dir", "strategy", "tpu", "steps_per_loop", "log_every",
     "checkpoint_every", "eval_every", "keep_checkpoints", "mixed_precision", "sync_batch_norm", "deterministic"}
)
"""Fields that may change when a run continues from its checkpoints (the rest define what is trained)."""


def make_config(preset, **overrides):
    """The preset's config with `overrides` (field name -> value; None leaves the field as it is)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown config {preset!r}; presets: {', '.join(PRESETS)}")
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown config fields: {', '.join(unknown)}")
    values = {**PRESETS[preset], **{key: value for key, value in overrides.items() if value is not None}}
    return TrainConfig(preset=preset, **values)


def incompatibilities(saved, requested):
    """Fields that differ between a model_dir's saved config and a new request, when they must not."""
    return [
        f"{field.name}: {getattr(saved, field.name)!r} in the model_dir, {getattr(requested, field.name)!r} now"
        for field in dataclasses.fields(TrainConfig)
        if field.name not in RESUMABLE_FIELDS and getattr(saved, field.name) != getattr(requested, field.name)
    ]
