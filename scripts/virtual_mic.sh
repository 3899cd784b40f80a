#!/usr/bin/env bash
# Start (or check) a PulseAudio daemon with a virtual microphone for tests and demos:
# a null sink "vsink" (play into it with `paplay -d vsink FILE`) and a source "vmic"
# remapped from its monitor, set as the default source. PortAudio sees it as "pulse".
# Usage: scripts/virtual_mic.sh [start|stop|status]
set -euo pipefail
action="${1:-start}"
case "$action" in
  status)
    pactl list short sources 2>/dev/null | grep -q vmic ;;
  stop)
    pulseaudio --kill 2>/dev/null || true ;;
  start)
    if ! command -v pulseaudio >/dev/null; then
      echo "pulseaudio is not installed: apt-get install pulseaudio pulseaudio-utils" >&2
      exit 1
    fi
    if ! pactl info >/dev/null 2>&1; then
      # -n: no default.pa (no real hardware modules); never exit when idle.
      pulseaudio -n --daemonize=yes --exit-idle-time=-1 --log-target=stderr \
        -L module-native-protocol-unix 2>/dev/null
      for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    pactl list short sinks | grep -q vsink ||
      pactl load-module module-null-sink sink_name=vsink rate=16000 channels=1 >/dev/null
    pactl list short sources | grep -q vmic ||
      pactl load-module module-remap-source source_name=vmic master=vsink.monitor >/dev/null
    pactl set-default-source vmic
    pactl set-default-sink vsink
    echo "virtual microphone ready: source vmic <- sink vsink (pulseaudio $(pulseaudio --version | awk '{print $2}'))" ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
