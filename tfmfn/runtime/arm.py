"""`.tflite` models on ARM's own kernels, emulated: outputs against x86 and instructions per inference.

    make arm      # once: QEMU, an aarch64 Python and LiteRT's aarch64 wheel in .arm/ (Debian and PyPI packages)
    python -m tfmfn.benchmark --arm cortex-a53,cortex-a76,i8mm --model float32.tflite --model int8.tflite [--json] [--plot F.png]

LiteRT's aarch64 build runs under QEMU user mode (an aarch64 Python from Debian's arm64 packages), so
XNNPACK picks the kernels it would pick on each emulated core: plain NEON on a Cortex-A53, SDOT/UDOT on a
Cortex-A76, SMMLA on an i8mm core. `measure` runs every model and, cut as `tfmfn.op_profile` cuts it,
each op type of it, once untimed and then `invocations` times between two markers, with the counting
plugin (`tflite/arm/insn_classes.c`) loaded: instructions per inference in total and by class (SIMD and
FP data processing, SIMD loads and stores, SVE/SME, SDOT/UDOT, SMMLA/UMMLA). The same models run in
this machine's x86 LiteRT on the same inputs: int8 outputs must agree within one quantisation step
(XNNPACK's ARM and x86 requantisation may round a tie differently; measured here they are identical),
float ones within 1e-4 of their range (the kernels sum in another order).

Instruction counts are not milliseconds: QEMU models no caches, no pipeline and no memory latency, so
they rank work done by the core's kernels, not time. They are exact and repeatable on any host.

Example:

    >>> cpuinfo(CORES["cortex-a53"], hwcap=0x8FB, hwcap2=0).splitlines()[2].split(": ")[1]  # QEMU's A53 bits
    'fp asimd aes pmull sha1 sha2 crc32 cpuid'
"""

import contextlib
import dataclasses
import json
import os
import struct
import subprocess
import tempfile

import numpy as np

from tfmfn import op_profile, storage
from tfmfn.runtime import litert

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOME = os.environ.get("TFMFN_ARM_HOME", os.path.join(ROOT, ".arm"))
MARKER_SYSCALL = 4242
CLASSES = ("total", "simd_fp", "simd_load_store", "sve_sme", "dot", "mmla")


@dataclasses.dataclass(frozen=True)
class Core:
    """An emulated core: QEMU's -cpu value and the MIDR its /proc/cpuinfo must show (XNNPACK's
    cpuinfo library trusts the part number: a Cortex-A76 MIDR on a core without dot product
    would make it pick SDOT kernels that die with an illegal instruction). QEMU's own MIDR for
    its max core, and a Cortex-A710's, make LiteRT 2.3 crash (segmentation fault) under QEMU 7.2;
    a Neoverse-N2's or -V1's work."""

    qemu_cpu: str
    midr: int
    about: str


CORES = {
    "cortex-a53": Core("cortex-a53", 0x410FD034, "Armv8.0-A, NEON only: the little cores of most phones to 2020"),
    "cortex-a76": Core("cortex-a76", 0x414FD0B1, "Armv8.2-A with SDOT/UDOT: big cores of phones from 2019"),
    "i8mm": Core("max,sme=off", 0x410FD490, "QEMU's max core without SME (7.2 computes int8 wrong with it), shown to "
                 "LiteRT as a Neoverse-N2: Armv9.0-A with SMMLA int8 matrix multiply and SVE2, as phones' Cortex-A710 "
                 "and later"),
}

# Linux's names of the AT_HWCAP and AT_HWCAP2 bits on arm64, bit 0 first (Documentation/arch/arm64/elf_hwcaps).
HWCAP_NAMES = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc "
               "dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg").split()
HWCAP2_NAMES = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm "
                "svebf16 i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme smei16i64 smef64f64 smei8i32 "
                "smef16f32 smeb16f32 smef32f32 smefa64 wfxt").split()


class ArmEnvironmentMissing(FileNotFoundError):
    """The emulated ARM environment has not been built."""


@dataclasses.dataclass(frozen=True)
class Environment:
    home: str

    @property
    def qemu(self):
        return os.path.join(self.home, "qemu", "usr", "bin", "qemu-aarch64")

    @property
    def sysroot(self):
        return os.path.join(self.home, "sysroot")

    @property
    def site(self):
        return os.path.join(self.home, "site")

    @property
    def plugin(self):
        return os.path.join(self.home, "insn_classes.so")


def environment(home=None):
    """The built environment in `home` (default .arm, or $TFMFN_ARM_HOME); ArmEnvironmentMissing if absent."""
    env = Environment(home or HOME)
    if not os.path.exists(os.path.join(env.home, ".complete")):
        raise ArmEnvironmentMissing(f"{env.home}: no emulated ARM environment; run `make arm` "
                                    "(tflite/arm/setup.sh: QEMU, an aarch64 Python and LiteRT from Debian and PyPI)")
    return env


def cpuinfo(core, hwcap, hwcap2):
    """The /proc/cpuinfo text of one `core` with the given hardware capability bits."""
    names = [name for bit, name in enumerate(HWCAP_NAMES) if hwcap >> bit & 1]
    names += [name for bit, name in enumerate(HWCAP2_NAMES) if hwcap2 >> bit & 1]
    midr = core.midr
    return (f"processor\t: 0\nBogoMIPS\t: 2000.00\nFeatures\t: {' '.join(names)}\n"
            f"CPU implementer\t: {midr >> 24:#04x}\nCPU architecture: 8\nCPU variant\t: {midr >> 20 & 0xF:#x}\n"
            f"CPU part\t: {midr >> 4 & 0xFFF:#05x}\nCPU revision\t: {midr & 0xF}\n\n")


def _qemu(env, core, root, *arguments, plugin_output=None):
    command = [env.qemu, "-cpu", core.qemu_cpu, "-L", root]
    if plugin_output:
        command += ["-plugin", f"{env.plugin},out={plugin_output}"]
    return command + ["-E", f"PYTHONPATH={env.site}", "-E", "OPENBLAS_NUM_THREADS=1",
                      os.path.join(root, "usr", "bin", "python3.11"), *arguments]


def _qemu_environ(env):
    return {**os.environ, "LD_LIBRARY_PATH": os.path.join(env.home, "qemu", "usr", "lib", "x86_64-linux-gnu")}


def core_root(env, name):
    """QEMU's -L folder for core `name`: the sysroot's folders linked in, and a /proc/cpuinfo that
    describes the emulated core (its MIDR, and the capabilities QEMU gives it, read from its auxv)."""
    core = CORES[name]
    root = os.path.join(env.home, "cores", f"{name}.{core.midr:08x}")
    info = os.path.join(root, "proc", "cpuinfo")
    os.makedirs(os.path.dirname(info), exist_ok=True)
    for entry in os.listdir(env.sysroot):
        link = os.path.join(root, entry)
        if os.path.exists(link):
            continue
        with contextlib.suppress(FileNotFoundError):  # a link made before the environment was moved
            os.unlink(link)
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            os.symlink(os.path.relpath(os.path.join(env.sysroot, entry), root), link)  # relative: movable
    if os.path.exists(info):
        return root
    probe = "import sys; sys.stdout.buffer.write(open('/proc/self/auxv', 'rb').read())"
    auxv = subprocess.run(_qemu(env, core, root, "-c", probe), capture_output=True, env=_qemu_environ(env),
                          check=True).stdout
    vector = dict(struct.iter_unpack("<QQ", auxv))
    storage.write_text(info, cpuinfo(core, vector.get(16, 0), vector.get(26, 0)))  # AT_HWCAP, AT_HWCAP2
    return root


_GUEST = r"""
import ctypes, json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

libc = ctypes.CDLL(None, use_errno=True)
jobs = json.load(open(sys.argv[1]))
for number, job in enumerate(jobs["models"]):
    interpreter = Interpreter(model_path=job["model"], num_threads=1)
    interpreter.allocate_tensors()
    inputs = np.load(job["inputs"])
    for position, detail in enumerate(interpreter.get_input_details()):
        interpreter.set_tensor(detail["index"], inputs[str(position)])
    interpreter.invoke()
    libc.syscall(jobs["marker"], 2 * number + 1)
    for _ in range(jobs["invocations"]):
        interpreter.invoke()
    libc.syscall(jobs["marker"], 2 * number + 2)
    np.savez(job["outputs"], **{str(position): interpreter.get_tensor(detail["index"])
                                for position, detail in enumerate(interpreter.get_output_details())})
    print(number, flush=True)
"""


def run_here(tflite, inputs):
    """The output tensors of this machine's LiteRT (1 thread) for one set of `inputs`."""
    interpreter = litert.interpreter_for(content=tflite)
    interpreter.allocate_tensors()
    for detail, tensor in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], tensor)
    interpreter.invoke()
    return [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]


def run_on_core(models, core_name, count=True, invocations=2, env=None, progress=None):
    """Runs every model of `models` ({key: (tflite bytes, inputs)}) in one emulated process on core
    `core_name`; {key: (outputs, {class: instructions per inference} or None)}."""
    if core_name not in CORES:
        raise ValueError(f"unknown ARM core {core_name!r}; choose from {', '.join(CORES)}")
    env = env or environment()
    root = core_root(env, core_name)
    keys = list(models)
    with tempfile.TemporaryDirectory() as scratch:
        jobs = []
        for number, key in enumerate(keys):
            tflite, inputs = models[key]
            job = {name: os.path.join(scratch, f"{number}.{name}") for name in ("model", "inputs", "outputs")}
            job["outputs"] += ".npz"
            with open(job["model"], "wb") as stream:
                stream.write(tflite)
            with open(job["inputs"], "wb") as stream:
                np.savez(stream, **{str(position): tensor for position, tensor in enumerate(inputs)})
            jobs.append(job)
        job_file, guest, counts_file = (os.path.join(scratch, name) for name in ("jobs.json", "guest.py", "counts.tsv"))
        with open(job_file, "w") as stream:
            json.dump({"models": jobs, "marker": MARKER_SYSCALL, "invocations": invocations}, stream)
        with open(guest, "w") as stream:
            stream.write(_GUEST)
        command = _qemu(env, CORES[core_name], root, guest, job_file, plugin_output=counts_file if count else None)
        with open(os.path.join(scratch, "stderr"), "w+") as errors:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=_qemu_environ(env))
            for line in process.stdout:
                if progress:
                    progress(keys[int(line)])
            if process.wait() != 0:
                errors.seek(0)
                reason = f"signal {-process.returncode}" if process.returncode < 0 else f"exit {process.returncode}"
                raise RuntimeError(f"the emulated {core_name} run failed ({reason}): {errors.read().strip()[-400:]}")
        marks = _read_counts(counts_file) if count else None
        results = {}
        for number, key in enumerate(keys):
            saved = np.load(jobs[number]["outputs"])
            outputs = [saved[str(position)] for position in range(len(saved.files))]
            per_inference = None
            if marks is not None:
                start, end = marks[2 * number + 1], marks[2 * number + 2]
                per_inference = {name: (end[name] - start[name]) / invocations for name in CLASSES}
            results[key] = (outputs, per_inference)
        return results


def _read_counts(path):
    """{marker label: {class: running count}} of the plugin's output."""
    with open(path) as stream:
        header = stream.readline().split()
        if tuple(header[1:]) != CLASSES:
            raise RuntimeError(f"{path}: the counting plugin writes {header[1:]}, expected {list(CLASSES)}; "
                               "rebuild it with make arm")
        return {int(fields[0]): dict(zip(CLASSES, map(int, fields[1:])))
                for fields in (line.split() for line in stream)}


@dataclasses.dataclass
class Result:
    """One model on one emulated core."""

    model: str
    core: str
    output_dtype: str
    max_difference: float
    allowed: float
    batch: int = 1
    """Images per inference (the input's first dimension): sirius-ai's file embeds two."""
    op_differences: dict = None
    """{op type: largest output difference}, each op type cut apart and run alone: measured when an int8
    model's output differs by more than `allowed`, since one op's one-step difference grows on its way
    through the ops after it."""
    instructions: dict = None
    """{class: instructions per inference} of the whole model."""
    by_op_type: dict = None
    """{op type: {"count": ops, class: instructions per inference}}, the op types cut apart."""

    @property
    def identical(self):
        return self.max_difference == 0

    @property
    def same(self):
        """The outputs agree, or every op type, run alone, agrees within `allowed`."""
        if self.max_difference <= self.allowed:
            return True
        return bool(self.op_differences) and max(self.op_differences.values()) <= self.allowed


def measure(paths, cores=tuple(CORES), op_types=True, count=True, invocations=2, env=None, progress=None):
    """`Result`s of every model file in `paths` on every core: parity with x86 LiteRT and, with
    `count`, instructions per inference (by op type too with `op_types`)."""
    unknown = [name for name in cores if name not in CORES]
    if unknown:
        raise ValueError(f"unknown ARM core {', '.join(unknown)}; choose from {', '.join(CORES)}")
    if count and invocations < 1:
        raise ValueError(f"counting needs at least one counted invocation, got {invocations}")
    env = env or environment()
    models, op_counts = {}, {}
    for path in paths:
        with open(path, "rb") as stream:
            whole = stream.read()
        try:
            models[path, op_profile.WHOLE] = _with_inputs(whole, seed=0)
            parts = op_profile.op_type_models(whole) if count and op_types else {}
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        for op_type, part in parts.items():
            models[path, op_type] = _with_inputs(part.tflite, seed=1)
            op_counts[path, op_type] = part.count
    expected = {path: run_here(*models[path, op_profile.WHOLE]) for path in paths}
    results = []
    for core_name in cores:
        ran = run_on_core(models, core_name, count, invocations if count else 0, env,
                          progress=(lambda key, core_name=core_name: progress(core_name, key)) if progress else None)
        for path in paths:
            outputs, instructions = ran[path, op_profile.WHOLE]
            difference, allowed = litert.output_difference(expected[path], outputs)
            by_op_type = None
            if count and op_types:
                by_op_type = {op_type: {"count": number, **ran[path, op_type][1]}
                              for (model, op_type), number in op_counts.items() if model == path}
            batch = int(models[path, op_profile.WHOLE][1][0].shape[0])
            op_differences = None
            if difference > allowed and np.issubdtype(expected[path][0].dtype, np.integer):
                op_differences = op_type_differences(models[path, op_profile.WHOLE][0], core_name, env)
            results.append(Result(path, core_name, expected[path][0].dtype.name, difference, allowed, batch,
                                  op_differences, instructions, by_op_type))
    return results


def _with_inputs(tflite, seed):
    """(tflite, one random tensor per input of it): a model as `run_on_core` and `run_here` take it."""
    interpreter = litert.interpreter_for(content=tflite)
    interpreter.allocate_tensors()
    return tflite, litert.random_inputs(interpreter, np.random.default_rng(seed))


def op_type_differences(tflite, core_name, env=None):
    """{op type: largest difference between x86 LiteRT and the emulated core} of each op type of `tflite`
    cut apart (`tfmfn.op_profile`) and run alone on the same random inputs."""
    parts = {op_type: _with_inputs(part.tflite, seed=2) for op_type, part in op_profile.op_type_models(tflite).items()}
    ran = run_on_core(parts, core_name, count=False, invocations=0, env=env)
    return {op_type: litert.output_difference(run_here(*parts[op_type]), ran[op_type][0])[0] for op_type in parts}
