#!/usr/bin/env bash
# Opens INPUT in the viewer under Xvfb, runs the three networks, and saves a screenshot
# of the whole screen to OUT.png once the run has finished.
#
#   scripts/screenshot.sh INPUT OUT.png [SLICE]
#
# SLICE (optional, 1 = most inferior) is the axial slice shown after the run.
# With DISMISS_AT="X Y", the script clicks the screen at X,Y before the capture, such as
# the OK button of a warning dialog shown after the run; the log printed at the end
# still contains the warning's text. With XDOTOOL="COMMANDS", the script then runs
# xdotool COMMANDS, such as "mousemove 760 622 click 1 sleep 1 key ctrl+e", to set up
# the window before the capture.
#
# Needs Xvfb and imagemagick, and bin/protrude built by `make build`.
set -euo pipefail
input=$1
out=$2
display=:97
log=$(mktemp)

Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
state=$(mktemp -d)
# The viewer gets SIGTERM and time to exit cleanly before the X server goes; its
# autosave data lives in a temporary folder, never the user's.
stop() {
	if [ -n "${app:-}" ]; then
		kill "$app" 2>/dev/null || true
		wait "$app" 2>/dev/null || true
	fi
	kill "$xvfb" 2>/dev/null || true
	rm -rf "$log" "$state"
}
trap stop EXIT
export DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 XDG_STATE_HOME=$state
sleep 1

bin/protrude view "$input" --run --slice "${3:-0}" 2>"$log" &
app=$!
for _ in $(seq 1 900); do
	if grep -q "run finished" "$log"; then break; fi
	if ! kill -0 "$app" 2>/dev/null; then
		echo "protrude exited before the run finished:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 1
done
grep -q "run finished" "$log" || { echo "timed out waiting for the run" >&2; cat "$log" >&2; exit 1; }
sleep 2
if [ -n "${DISMISS_AT:-}" ]; then
	# shellcheck disable=SC2086 # X and Y are two words on purpose
	xdotool mousemove $DISMISS_AT click 1
	sleep 1
fi
if [ -n "${XDOTOOL:-}" ]; then
	# shellcheck disable=SC2086 # a list of xdotool commands and their arguments
	xdotool $XDOTOOL
	sleep 2
fi
import -window root "$out"
cat "$log" >&2
echo "wrote $out"
