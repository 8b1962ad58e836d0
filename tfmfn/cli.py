"""The flags that several tools share, spelled one way, and the old spellings kept for one release.

| flag           | means                                                                    | old spellings          |
|----------------|--------------------------------------------------------------------------|------------------------|
| `--model`      | a model file or folder (.tflite, .keras, run folder, imported model);    | (train, demo: a zoo    |
|                | repeatable where a tool compares several                                 | name, now `--arch`)    |
| `--arch`       | zoo architecture name(s) (`python -m tfmfn.models` lists them)           | `--model` (train,      |
|                |                                                                          | demo), `--models`,     |
|                |                                                                          | `--zoo` (benchmark)    |
| `--out`        | where a tool writes what it makes (a file or a folder)                   | `--output` (align)     |
| `--input_size` | image height,width in pixels                                             | `--size` (align)       |
| `--flip`       | also embed mirrored faces (`--noflip`: do not)                           | `--no_flip` (evaluate) |
| `--eval_bins`  | verification .bin sets, comma separated                                  | `--bins` (evaluate)    |
| `--threads`    | thread counts to measure, comma separated                                |                        |
| `--num_threads`| the one thread count a run uses                                          | `--threads` (evaluate) |
| `--json`       | print JSON instead of a table                                            |                        |
| `--plot`       | also draw the results into this PNG                                      |                        |

Every tool defines its flags in a `_define_flags()` called only when it runs
as a program (importing a tool defines nothing), declares its old spellings
with `rename`, and starts with `run(main)`: an old spelling still works, says
once what replaced it, and clashes with the new one if both are given.
tests/test_cli.py reads every tool's `--helpshort` and holds them to this table.

Example:

    >>> from absl import flags
    >>> values = flags.FlagValues()
    >>> _ = flags.DEFINE_string("out", None, "Output folder.", flag_values=values)
    >>> rename("output", "out", flag_values=values)
    >>> _ = values(["tool", "--output", "runs/a"])
    >>> apply_renamed(values), values.out
    (['--output is now --out'], 'runs/a')
"""

import os
import sys

from absl import app, flags

RENAMED_NOTE = "old spelling of --{new}, kept until the next release"
_renamed = {}


def rename(old, new, invert=False, flag_values=flags.FLAGS):
    """Keeps `--old` as an old spelling of the already defined `--new` (`invert`: a boolean that
    means the opposite, as --no_flip of --flip)."""
    target = flag_values[new]
    note = (RENAMED_NOTE.format(new=new) + (f", the opposite: --{old} is --no{new}" if invert else "")).capitalize() + "."
    module = flag_values.find_module_defining_flag(new)  # listed in --helpshort beside the flag that replaced it
    if isinstance(target, flags.BooleanFlag):
        flags.DEFINE_bool(old, None, note, flag_values=flag_values, module_name=module)
    elif isinstance(target, flags.MultiFlag):
        flags.DEFINE_flag(flags.MultiFlag(target.parser, target.serializer, old, None, note), flag_values=flag_values,
                          module_name=module)
    else:
        flags.DEFINE(target.parser, old, None, note, flag_values=flag_values, serializer=target.serializer,
                     module_name=module)
    _renamed[id(flag_values), old] = (new, invert)


def apply_renamed(flag_values=flags.FLAGS):
    """Moves the values given under old spellings to their new flags; returns the notices to print."""
    notices = []
    for (values_id, old), (new, invert) in _renamed.items():
        if values_id != id(flag_values) or old not in flag_values or not flag_values[old].present:
            continue
        if flag_values[new].present:
            raise app.UsageError(f"--{old} and --{new} are one flag ({old} is its old spelling); give --{new} only")
        value = flag_values[old].value
        flag_values[new].value = (not value) if invert else value
        flag_values[new].present = 1
        spelled = f"--no{new}" if flag_values[new].value is False else f"--{new}"
        notices.append(f"--{old} is now {spelled}")
    return notices


def run(main, required=()):
    """absl's app.run(main) after the old spellings are applied and the `required` flags checked
    (after, so that a required flag may come under its old spelling)."""

    def main_with_renamed(argv):
        for notice in apply_renamed():
            print(f"note: {notice}; the old spelling goes in the next release", file=sys.stderr)
        missing = [name for name in required if flags.FLAGS[name].value in (None, [], ())]
        if missing:
            raise app.UsageError(", ".join(f"--{name}" for name in missing) + " required")
        return main(argv)

    app.run(main_with_renamed)


def models_and_threads(options):
    """The thread counts of the --threads flag, once every --model is known to be a file."""
    for path in options.model:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such .tflite file")
    return [int(value) for value in options.threads]
