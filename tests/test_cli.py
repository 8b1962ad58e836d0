"""Every CLI spells the shared flags one way (`tfmfn.cli`'s table), read from its own `--helpshort`; the old
spellings still work, say what replaced them and clash with the new ones."""

import concurrent.futures
import os
import re
import subprocess
import sys

import pytest
from absl import app, flags

from tfmfn import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RETIRED = {"output": "out", "size": "input_size", "no_flip": "flip", "bins": "eval_bins", "models": "arch",
           "zoo": "arch", "zoo_dir": "export_dir", "source": "model"}
"""Spellings no tool uses any more for its own flags (each may remain as an old spelling of its replacement)."""
LISTS = ("threads", "input_size", "eval_bins")


def tools():
    """Every module that runs as a CLI (`cli.run(main)`), as `python -m` takes it."""
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "tfmfn")):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and "cli.run(" in open(path).read() and name != "cli.py":
                module = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
                found.append(module.removesuffix(".__main__"))
    return sorted(found)


def parse_help(text):
    """{flag: (help text, is boolean)} of a --helpshort output."""
    parsed, current = {}, None
    for line in text.splitlines():
        match = re.match(r"^  --(\[no\])?(\w+): ?(.*)$", line)
        if match:
            current = match.group(2)
            parsed[current] = [match.group(3), bool(match.group(1))]
        elif current and line.startswith("    "):
            parsed[current][0] += " " + line.strip()
        else:
            current = None
    return {name: (" ".join(help_text.split()), boolean) for name, (help_text, boolean) in parsed.items()}


@pytest.fixture(scope="module")
def helps():
    def read(tool):
        result = subprocess.run([sys.executable, "-m", tool, "--helpshort"], capture_output=True, text=True, cwd=ROOT)
        return tool, parse_help(result.stdout)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return dict(pool.map(read, tools()))


def test_every_tool_is_found_and_lists_flags(helps):
    assert {"tfmfn.align", "tfmfn.convert", "tfmfn.evaluate", "tfmfn.train", "tfmfn.data", "tfmfn.models",
            "tfmfn.benchmark", "tfmfn.demo"} <= set(helps)
    empty = [tool for tool, parsed in helps.items() if not parsed]
    assert not empty, f"no flags read from --helpshort of {empty}"


def test_shared_flags_are_spelled_one_way(helps):
    problems = []
    for tool, parsed in helps.items():
        for name, (help_text, boolean) in parsed.items():
            old = help_text.startswith("Old spelling of --")
            if old:
                replacement = re.match(r"Old spelling of --(\w+)", help_text).group(1)
                if replacement not in parsed or parsed[replacement][0].startswith("Old spelling"):
                    problems.append(f"{tool}: --{name} names --{replacement}, which it does not have")
                continue
            if name in RETIRED:
                problems.append(f"{tool}: --{name} is spelled --{RETIRED[name]} now")
            if name == "model" and "zoo" in help_text.lower():
                problems.append(f"{tool}: --model is a model file or folder; a zoo name is --arch")
            if name == "arch" and "zoo" not in help_text.lower():
                problems.append(f"{tool}: --arch names zoo architectures")
            if name in LISTS and "comma separated list" not in help_text:
                problems.append(f"{tool}: --{name} is a comma separated list in every tool")
            if name == "num_threads" and "(an integer)" not in help_text:
                problems.append(f"{tool}: --num_threads is one number")
            if name == "flip" and not boolean:
                problems.append(f"{tool}: --flip is a boolean (--noflip)")
    assert not problems, "\n".join(problems)


def test_importing_a_tool_defines_no_flags():
    """Flags come from `_define_flags()` when a tool runs, so that tools import each other (demo runs
    train, convert, evaluate, ...) without defining the same flag twice."""
    main_modules = [tool + ".__main__" if tool in ("tfmfn.data", "tfmfn.models", "tfmfn.train") else tool
                    for tool in tools()]
    code = (f"import importlib; from absl import flags\nfor module in {main_modules!r}: importlib.import_module(module)\n"
            "print(sorted(name for name in flags.FLAGS.flags_by_module_dict() if 'tfmfn' in name))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_old_spellings_move_to_the_new_flag_and_clash_with_it():
    values = flags.FlagValues()
    flags.DEFINE_list("eval_bins", None, "Sets.", flag_values=values)
    flags.DEFINE_bool("flip", True, "Flip.", flag_values=values)
    cli.rename("bins", "eval_bins", flag_values=values)
    cli.rename("no_flip", "flip", invert=True, flag_values=values)
    values(["tool", "--bins", "a.bin,b.bin", "--no_flip"])
    assert cli.apply_renamed(values) == ["--bins is now --eval_bins", "--no_flip is now --noflip"]
    assert values.eval_bins == ["a.bin", "b.bin"] and values.flip is False

    both = flags.FlagValues()
    flags.DEFINE_string("out", None, "Out.", flag_values=both)
    cli.rename("output", "out", flag_values=both)
    both(["tool", "--output", "a", "--out", "b"])
    with pytest.raises(app.UsageError, match="give --out only"):
        cli.apply_renamed(both)


REQUIRED = {"tfmfn.align": "--input, --out required", "tfmfn.app_litert": "--model required",
            "tfmfn.convert": "--model required", "tfmfn.evaluate": "--model required",
            "tfmfn.op_profile": "--model required", "tfmfn.port": "--model, --out required"}


def test_required_flags_are_checked_one_way():
    """`cli.run(main, required=...)` checks them all (after old spellings apply), with one message."""
    for tool in tools():
        source = open(os.path.join(ROOT, *tool.split(".")) + ".py").read() if tool not in ("tfmfn.data", "tfmfn.models",
                                                                                          "tfmfn.train") else ""
        assert "mark_flag_as_required" not in source and "is required\")" not in source, tool

    def refused(tool):
        return tool, subprocess.run([sys.executable, "-m", tool], capture_output=True, text=True, cwd=ROOT)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        for tool, result in pool.map(refused, REQUIRED):
            assert result.returncode != 0 and REQUIRED[tool] in result.stderr, (tool, result.stderr[-300:])


def test_an_old_spelling_runs_the_tool(tmp_path):
    """`align --output --size`: the photos are aligned into --output at --size, with a note on stderr."""
    photos = tmp_path / "photos"
    photos.mkdir()
    source = os.path.join(ROOT, "tests", "data", "obama.jpg")
    (photos / "obama.jpg").write_bytes(open(source, "rb").read())
    result = subprocess.run([sys.executable, "-m", "tfmfn.align", "--input", str(photos), "--output",
                             str(tmp_path / "aligned"), "--size", "96,96", "--json"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--output is now --out" in result.stderr and "--size is now --input_size" in result.stderr
    import cv2

    assert cv2.imread(str(tmp_path / "aligned" / "obama.png")).shape == (96, 96, 3)


@pytest.mark.parametrize("log_level", ["", "0"])
def test_a_refused_command_prints_only_its_error(log_level):
    """TensorFlow's C++ start-up lines are dropped unless TF_CPP_MIN_LOG_LEVEL asks for them."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    if log_level:
        environment["TF_CPP_MIN_LOG_LEVEL"] = log_level
    result = subprocess.run([sys.executable, "-m", "tfmfn.train", "--config", "paper_casia", "--steps", "20000",
                             "--print_config"], capture_output=True, text=True, cwd=ROOT, env=environment)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and lines[-1].startswith("error: --lr_boundaries 36000,52000,58000")
    if log_level:
        assert any("oneDNN" in line for line in lines)
    else:
        assert lines == lines[-1:], lines
