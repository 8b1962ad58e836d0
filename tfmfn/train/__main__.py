"""`python -m tfmfn.train`: the flags are the fields of `tfmfn.config.TrainConfig`, over a preset."""

import dataclasses
import os
import sys

from tfmfn import config as configs
from tfmfn import cli, evaluate
from tfmfn.data import bins
from tfmfn.model_files import EXPORT_FOLDER, EXPORT_MODEL, EXPORT_QAT_WEIGHTS
from tfmfn.train.loop import train


def _define_flags():
    from absl import flags

    flags.DEFINE_enum("config", "synthetic", list(configs.PRESETS), "Preset to start from (tfmfn.config).")
    flags.DEFINE_bool("print_config", False, "Print the config that the preset and flags make, as JSON, and exit.")
    choices = {"head": configs.HEAD_CHOICES, "optimizer": configs.OPTIMIZER_CHOICES,
               "strategy": configs.STRATEGY_CHOICES}
    for field in dataclasses.fields(configs.TrainConfig):
        if field.name == "preset":
            continue
        help_text = field.metadata["help"] + " (default: from --config)"
        if field.name in choices:
            flags.DEFINE_enum(field.name, None, list(choices[field.name]), help_text)
        elif field.type is bool:
            flags.DEFINE_bool(field.name, None, help_text)
        elif field.type is tuple:
            flags.DEFINE_list(field.name, None, help_text)
        else:
            definer = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}[field.type]
            definer(field.name, None, help_text)
    cli.rename("model", "arch")


def _number(text):
    """'36000' -> 36000, '0.6' -> 0.6: a list flag of steps or fractions."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def config_from_flags(values):
    """The TrainConfig of parsed flags: the preset, then every flag that was given."""
    overrides = {}
    for field in dataclasses.fields(configs.TrainConfig):
        value = values.get(field.name)
        if value is not None and field.type is tuple:
            element = type(field.default[0]) if field.default else str
            value = tuple(_number(item) if element is int else element(item) for item in value)
        overrides[field.name] = value
    overrides.pop("preset")
    return configs.make_config(values["config"], **overrides)


def main(argv):
    from absl import app, flags, logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    try:
        config = config_from_flags({name: options[name].value for name in options})
        if options.print_config:
            print(config.to_json())
            print(config.schedule_text(), file=sys.stderr)
            return
        card = train(config)
    except (FileNotFoundError, ValueError, FloatingPointError, RuntimeError, bins.BinFormatError) as error:
        raise SystemExit(f"error: {error}")
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted; the same command continues from the last checkpoint in {config.model_dir}")
    if card:
        exported = os.path.join(config.model_dir, EXPORT_FOLDER, EXPORT_QAT_WEIGHTS if config.qat else EXPORT_MODEL)
        print(f"\nexported {exported} (weights of step {card['training']['weights_from_step']})")
        if card["evaluation"]:
            print(evaluate.format_results(card["evaluation"]))


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
