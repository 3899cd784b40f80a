#!/usr/bin/env bash
# Run soundwatch: sets up .venv on first use, then opens the window on the default
# microphone. Arguments go to `soundwatch` (e.g. `scripts/run.sh listen --headless`).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh" run
export SOUNDWATCH_COMMAND="${SOUNDWATCH_COMMAND:-scripts/run.sh}"
exec "$repo/.venv/bin/soundwatch" "$@"
