#!/usr/bin/env bash
# Builds the emulated ARM environment tfmfn.runtime.arm runs models in, into one folder (default .arm), from
# Debian's and PyPI's packages only; no system change, nothing needs root.
#
#   tflite/arm/setup.sh [DEST]          (make arm runs it; re-running is a no-op once DEST/.complete exists)
#
# DEST/qemu       Debian bookworm's qemu-user 7.2 (with plugin support) and the two libraries it needs
#                 that a plain Debian machine lacks, unpacked with dpkg -x; run it with
#                 LD_LIBRARY_PATH=DEST/qemu/usr/lib/x86_64-linux-gnu
# DEST/sysroot    Debian bookworm's arm64 python3.11 and every library it depends on, unpacked: QEMU's -L
#                 folder (tfmfn.runtime.arm adds a per-core folder on top of it with that core's /proc/cpuinfo)
# DEST/site       the aarch64 wheels of requirements-arm.txt, unzipped (the guest's PYTHONPATH)
# DEST/insn_classes.so   the instruction-counting plugin, compiled from tflite/arm/insn_classes.c
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dest=$(mkdir -p "${1:-$repo/.arm}" && cd "${1:-$repo/.arm}" && pwd)
[[ -f $dest/.complete && $dest/.complete -nt $repo/requirements-arm.txt && $dest/.complete -nt $here/insn_classes.c ]] && exit 0
rm -rf "$dest/apt" "$dest/qemu" "$dest/sysroot" "$dest/site" "$dest/cores" "$dest/.complete"

# A private APT configuration: its own lists, cache and (empty) dpkg status, arm64 beside amd64.
apt_dir=$dest/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc/preferences.d" "$apt_dir/etc/sources.list.d" \
  "$apt_dir/etc/apt.conf.d"
touch "$apt_dir/status"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$apt_dir/etc/sources.list" <<EOF
deb [arch=amd64,arm64 signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [arch=amd64,arm64 signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
cat > "$apt_dir/apt.conf" <<EOF
APT::Architecture "arm64";
APT::Architectures { "arm64"; "amd64"; };
APT::Sandbox::User "root";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir";
Dir::Cache::archives "$apt_dir/archives";
Dir::Etc "$apt_dir/etc";
Dir::Etc::SourceList "$apt_dir/etc/sources.list";
Dir::Etc::SourceParts "$apt_dir/etc/sources.list.d";
Dir::Etc::Preferences "$apt_dir/etc/preferences";
Dir::Etc::PreferencesParts "$apt_dir/etc/preferences.d";
EOF
export APT_CONFIG=$apt_dir/apt.conf
echo "arm: Debian package lists (arm64, amd64)"
apt-get update -qq
echo "arm: qemu-user 7.2 and an arm64 Python 3.11 (Debian bookworm)"
apt-get install -qq -y --download-only --no-install-recommends \
  python3.11-minimal:arm64 libpython3.11-stdlib:arm64 libstdc++6:arm64 >/dev/null
(cd "$apt_dir/archives" && apt-get download -qq qemu-user:amd64 libcapstone4:amd64 liburing2:amd64)
for deb in "$apt_dir"/archives/*_arm64.deb "$apt_dir"/archives/*_all.deb; do dpkg -x "$deb" "$dest/sysroot"; done
for deb in "$apt_dir"/archives/*_amd64.deb; do dpkg -x "$deb" "$dest/qemu"; done
LD_LIBRARY_PATH=$dest/qemu/usr/lib/x86_64-linux-gnu "$dest/qemu/usr/bin/qemu-aarch64" -version | head -n 1

echo "arm: LiteRT's aarch64 wheel and its dependencies (PyPI, requirements-arm.txt)"
"${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary :all: --platform manylinux_2_27_aarch64 \
  --python-version 3.11 --implementation cp --dest "$apt_dir/wheels" -r "$repo/requirements-arm.txt"
for wheel in "$apt_dir"/wheels/*.whl; do "${PYTHON:-python3}" -m zipfile -e "$wheel" "$dest/site"; done

echo "arm: the instruction-counting plugin"
gcc -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror -Wno-unused-parameter \
  -o "$dest/insn_classes.so" "$here/insn_classes.c"

rm -rf "$apt_dir"
touch "$dest/.complete"
echo "arm: ready in $dest ($(du -sh "$dest" | cut -f1))"
