#!/usr/bin/env bash
# Set up soundwatch on a Debian/Ubuntu machine that has only Python 3.10+:
#   - the system libraries it needs (apt-get when root; otherwise the exact command is printed)
#   - a local virtual environment .venv with the project installed (editable)
# Usage: scripts/setup.sh run|test     (sourced by scripts/run.sh and scripts/test.sh)
# Re-running is cheap: packages and the venv are only installed when missing or changed.
set -euo pipefail
purpose="${1:-run}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# libportaudio2: the microphone. libxcb*/libegl1/libgl1/libxkbcommon-x11-0/libfontconfig1/
# libdbus-1-3: Qt's window system plugin (xcb).
packages=(libportaudio2 libegl1 libgl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1
          libxcb-cursor0 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0
          libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3)
if [ "$purpose" = test ]; then
  # The test suite's virtual microphone (PulseAudio), real X server (Xvfb), MQTT broker
  # (Mosquitto) and D-Bus session (dbus-run-session, for desktop notifications).
  packages+=(pulseaudio pulseaudio-utils libasound2-plugins xvfb mosquitto dbus-daemon)
fi
python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  pyver="$("$python_bin" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  packages+=("python${pyver}-venv")
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "soundwatch: this machine has no apt-get; install the equivalents of: ${missing[*]}" >&2
    exit 1
  elif [ "$(id -u)" -eq 0 ]; then
    echo "soundwatch: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "soundwatch: missing system packages. Run this, then run me again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "soundwatch needs Python 3.10 or newer; found $("$python_bin" --version)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv

# Reinstall only when pyproject.toml or the purpose changed.
extras=""
[ "$purpose" = test ] && extras="[dev,train]"
stamp=".venv/.soundwatch-installed"
hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
want="$hash $extras"
# The test install ([dev,train]) holds everything the app needs: running the app after
# the tests (or during them) must not reinstall the package under them.
if [ ! -f "$stamp" ] || { ! grep -qxF "$want" "$stamp" &&
     ! { [ -z "$extras" ] && grep -qxF "$hash [dev,train]" "$stamp"; }; }; then
  echo "soundwatch: installing Python packages into .venv (first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # torch==2.13.0 (train extra) is pinned: a CPU wheel is found locally where the machine
  # provides one; an unpinned torch would pull several GB of CUDA packages.
  .venv/bin/python -m pip install -q -e ".${extras}"
  echo "$want" > "$stamp"
fi
