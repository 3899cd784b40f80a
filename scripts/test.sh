#!/usr/bin/env bash
# Run the whole test suite: sets up .venv with the dev and train extras and the system
# packages, starts the virtual PulseAudio microphone, then runs pytest.
# Arguments go to pytest (e.g. `scripts/test.sh -k ring`).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh test
# The virtual microphone is stopped afterwards when this run started it: left running, it
# would be the "microphone" of a machine that has none (and hear the next test run).
if ! pactl info >/dev/null 2>&1; then
  trap 'bash scripts/virtual_mic.sh stop' EXIT
fi
bash scripts/virtual_mic.sh start
set +e
.venv/bin/python -m pytest -p no:cacheprovider -ra "$@"
status=$?
set -e
[ "$status" -eq 5 ] && { echo "no tests were collected" >&2; exit 1; }
exit "$status"
