"""Training configs: the presets carry the paper's recipe, flags override them, resuming guards the model_dir."""

import json
import subprocess
import sys

import pytest

from tfmfn import config


def test_paper_casia_is_the_papers_recipe():
    recipe = config.make_config("paper_casia")
    assert (recipe.optimizer, recipe.momentum, recipe.batch_size, recipe.learning_rate) == ("sgd", 0.9, 512, 0.1)
    assert recipe.lr_boundaries == (36000, 52000, 58000) and recipe.steps == 60000
    assert recipe.learning_rates() == pytest.approx([0.1, 0.01, 0.001, 0.0001])
    assert (recipe.weight_decay, recipe.weight_decay_after_global) == (4e-5, 4e-4)
    assert (recipe.head, recipe.scale, recipe.margin, recipe.arch) == ("arcface", 64.0, 0.5, "mobilefacenet")


def test_presets_differ_only_where_they_say():
    casia, ms1m, synthetic = (config.make_config(name) for name in ("paper_casia", "paper_ms1m", "synthetic"))
    assert ms1m.weight_decay == casia.weight_decay and ms1m.batch_size == 512
    assert ms1m.steps == 180000 and ms1m.lr_boundaries[-1] < ms1m.steps
    assert synthetic.data == "runs/synth/train" and synthetic.eval_bins == ("runs/synth/val.bin",)
    assert synthetic.batch_size == 32 and synthetic.optimizer == "adam"


def test_two_stage_presets_are_insightfaces_mobilefacenet_recipe():
    """deepinsight/insightface issue 214: softmax at 0.1 for 120K steps, then paper_ms1m's ArcFace from it."""
    softmax, arcface, one_stage = (config.make_config(name) for name in ("ms1m_softmax", "ms1m_arcface", "paper_ms1m"))
    assert (softmax.head, softmax.learning_rate, softmax.lr_boundaries, softmax.steps) == ("softmax", 0.1, (), 120000)
    assert (softmax.batch_size, softmax.weight_decay_after_global) == (512, 4e-4)
    assert arcface.init_from == softmax.model_dir
    apart_from_where = {"preset": None, "init_from": None, "model_dir": None}
    assert {**vars(arcface), **apart_from_where} == {**vars(one_stage), **apart_from_where}
    first, second = config.make_config("synthetic_softmax"), config.make_config("synthetic_arcface")
    assert (first.head, second.head, second.init_from) == ("softmax", "arcface", first.model_dir)
    assert first.steps + second.steps == config.make_config("synthetic").steps


def test_overrides_and_their_errors():
    tuned = config.make_config("paper_casia", batch_size=256, data="x", steps=None)
    assert tuned.batch_size == 256 and tuned.data == "x" and tuned.steps == 60000  # None keeps the preset
    with pytest.raises(ValueError, match="unknown config 'casia'"):
        config.make_config("casia")
    with pytest.raises(ValueError, match="unknown config fields: batch"):
        config.make_config("synthetic", batch=3)
    with pytest.raises(ValueError, match="--head=sphereface is not one of"):
        config.make_config("synthetic", head="sphereface")
    with pytest.raises(ValueError, match="--lr_boundaries must increase"):
        config.make_config("synthetic", lr_boundaries=(5, 3))
    with pytest.raises(ValueError, match="--steps must be at least 1"):
        config.make_config("synthetic", steps=0)


def test_a_schedule_must_decay_inside_the_run():
    with pytest.raises(ValueError, match=r"decays at step 36000, 52000, 58000, not inside --steps 20000.*"
                                         r"--lr_boundaries 0\.6,0\.867,0\.967"):
        config.make_config("paper_casia", steps=20000)
    with pytest.raises(ValueError, match="decays at step 280, not inside --steps 250"):
        config.make_config("synthetic", steps=250)
    short = config.make_config("paper_casia", steps=20000, lr_boundaries=(0.6, 0.867, 0.967))
    assert short.boundary_steps() == (12000, 17340, 19340)
    assert short.schedule_text() == "learning rate 0.1 to step 12000, 0.01 to step 17340, 0.001 to step 19340, 0.0001 to step 20000"
    assert config.make_config("paper_casia").boundary_steps() == (36000, 52000, 58000)
    assert config.make_config("synthetic", steps=4, lr_boundaries=()).schedule_text() == "learning rate 0.002 to step 4"
    with pytest.raises(ValueError, match="all as steps or all as fractions"):
        config.make_config("paper_casia", lr_boundaries=(0.5, 50000))
    with pytest.raises(ValueError, match="steps are whole numbers"):
        config.make_config("paper_casia", lr_boundaries=(1.5, 50000))


def test_a_schedule_in_epochs_becomes_steps_once_the_data_is_known():
    recipe = config.make_config("paper_casia", epochs=20, lr_boundaries=(10, 16, 18))
    assert recipe.schedule_text() == "learning rate 0.1 to epoch 10, 0.01 to epoch 16, 0.001 to epoch 18, 0.0001 to epoch 20"
    casia = recipe.for_data(490623)  # CASIA-WebFace's images, 958.25 steps an epoch at batch 512
    assert (casia.steps, casia.boundary_steps(), casia.epochs) == (19165, (9582, 15332, 17248), None)
    fractions = config.make_config("paper_casia", epochs=20, lr_boundaries=(0.5, 0.8)).for_data(490623)
    assert fractions.boundary_steps() == (9582, 15332)
    assert config.make_config("paper_casia").for_data(10) == config.make_config("paper_casia")
    with pytest.raises(ValueError, match=r"^--lr_boundaries 10,16,24 put decays at epoch 24, not inside --epochs 20: "):
        config.make_config("paper_casia", epochs=20, lr_boundaries=(10, 16, 24))
    with pytest.raises(ValueError, match="--epochs must be positive"):
        config.make_config("paper_casia", epochs=0)


def test_print_config_refuses_a_schedule_beyond_the_run_in_one_line():
    def run(*flags):
        return subprocess.run([sys.executable, "-m", "tfmfn.train", "--config", "paper_casia", *flags, "--print_config"],
                              capture_output=True, text=True, timeout=300)

    refused = run("--steps", "20000")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().splitlines()[-1].startswith("error: --lr_boundaries 36000,52000,58000 put decays")
    scaled = run("--steps", "20000", "--lr_boundaries", "0.6,0.867,0.967")
    assert scaled.returncode == 0, scaled.stderr[-2000:]
    assert json.loads(scaled.stdout)["lr_boundaries"] == [0.6, 0.867, 0.967]
    assert scaled.stderr.strip().splitlines()[-1].endswith("0.001 to step 19340, 0.0001 to step 20000")


def test_json_round_trip_and_what_may_change_on_resume():
    original = config.make_config("synthetic", eval_bins=("a.bin", "b.bin"))
    assert config.TrainConfig.from_json(original.to_json()) == original
    longer = config.make_config("synthetic", eval_bins=("a.bin", "b.bin"), steps=900, mixed_precision=True)
    assert config.incompatibilities(original, longer) == []
    other = config.make_config("synthetic", eval_bins=("a.bin", "b.bin"), arch="mobilefacenet_relu", margin=0.5)
    problems = config.incompatibilities(original, other)
    assert len(problems) == 2 and problems[0].startswith("arch: 'mobilefacenet' in the model_dir")


def test_head_arguments():
    assert config.make_config("synthetic").head_arguments() == {"s": 32.0, "m": 0.3}
    assert config.make_config("synthetic_softmax").head_arguments() == {}
    assert config.make_config("synthetic", head="normface").head_arguments() == {"s": 32.0}
    combined = config.make_config("paper_casia", head="combined", combined_margins=(1.0, 0.4, 0.1))
    assert combined.head_arguments() == {"s": 64.0, "m1": 1.0, "m2": 0.4, "m3": 0.1}


def test_a_config_saved_when_arch_was_called_model_still_loads():
    """Run folders and model cards written before the flag became --arch say "model"."""
    saved = json.loads(config.make_config("synthetic", arch="mobilefacenet_relu").to_json())
    saved["model"] = saved.pop("arch")
    assert config.TrainConfig.from_json(json.dumps(saved)).arch == "mobilefacenet_relu"
