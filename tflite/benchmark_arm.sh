#!/usr/bin/env bash
# Benchmarks .tflite models on an ARM device with TFLite's benchmark_model, over adb.
#
#   tflite/benchmark_arm.sh BENCHMARK_MODEL_BINARY MODEL.tflite [MODEL.tflite ...]
#
# Environment: THREADS (default "1 2 4"), RUNS (default 100), WARMUP (default 10),
# ROUNDS (default 3), ANDROID_SERIAL (adb's own variable, to pick a device).
# Prints benchmark_model's raw output per run; `python -m tfmfn.benchmark --adb` runs the same
# and parses it into a table. See tflite/README.md for where to get the binary.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
binary=$1
shift
[[ -f $binary ]] || { echo "error: $binary: no such benchmark_model binary (see tflite/README.md)" >&2; exit 1; }
command -v adb >/dev/null || { echo "error: adb is not on PATH; install Android platform-tools" >&2; exit 1; }

remote=/data/local/tmp/tfmfn
adb shell mkdir -p "$remote"
adb push "$binary" "$remote/benchmark_model" >/dev/null
adb shell chmod 755 "$remote/benchmark_model"
for model in "$@"; do
  [[ -f $model ]] || { echo "error: $model: no such .tflite file" >&2; exit 1; }
  adb push "$model" "$remote/$(basename "$model")" >/dev/null
done

for threads in ${THREADS:-1 2 4}; do
  for round in $(seq "${ROUNDS:-3}"); do
    for model in "$@"; do
      echo "=== $(basename "$model") threads=$threads round=$round"
      adb shell "$remote/benchmark_model" --graph="$remote/$(basename "$model")" --num_threads="$threads" \
        --num_runs="${RUNS:-100}" --warmup_runs="${WARMUP:-10}" --use_xnnpack=true
    done
  done
done
