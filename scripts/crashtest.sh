#!/usr/bin/env bash
# Crash test of autosave and recovery, under Xvfb:
#
#  1. opens INPUT in the viewer, paints two brush strokes on the tumor layer with
#     xdotool and waits for the autosave;
#  2. kills the viewer with SIGKILL, so it cannot clean up;
#  3. starts the viewer again, checks that it offers the edits back, saves a
#     screenshot of the recovery dialog to SHOT.png and clicks Recover;
#  4. waits until the restarted viewer has autosaved the recovered session from its
#     memory, and compares that tumor mask voxel by voxel with the one autosaved before
#     the kill (nibabel reads both);
#  5. stops the viewer with SIGTERM, a clean exit, and checks that no recovery data is
#     left.
#
#   scripts/crashtest.sh [INPUT] [SHOT.png]
#
# INPUT defaults to ../shared/data/real_ncct/torso_ncct_3mm.nii.gz and SHOT.png to
# out/crashtest-recovery.png. SHOT-edits.png shows the strokes before the kill and
# SHOT-recovered.png the window after recovery. RECOVER_AT="X Y" overrides the screen position of the
# dialog's Recover button, which depends on the window size that the viewer sets.
#
# Needs Xvfb, xdotool, imagemagick, python3 with nibabel, and bin/protrude built by
# `make build`. The recovery data goes to a temporary XDG_STATE_HOME, never the user's.
set -euo pipefail
input=${1:-../shared/data/real_ncct/torso_ncct_3mm.nii.gz}
shot=${2:-out/crashtest-recovery.png}
recover_at=${RECOVER_AT:-"650 543"}
display=:96
python=/usr/bin/python3

[ -e "$input" ] || { echo "crashtest: input $input not found" >&2; exit 1; }
[ -x bin/protrude ] || { echo "crashtest: bin/protrude is missing; run make build" >&2; exit 1; }
mkdir -p "$(dirname "$shot")"
work=$(mktemp -d)
export XDG_STATE_HOME=$work/state DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1
recovery=$XDG_STATE_HOME/protrude/recovery

Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
app=
cleanup() {
	[ -n "$app" ] && kill -9 "$app" 2>/dev/null || true
	kill "$xvfb" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
sleep 1

# wait_for LOG TEXT SECONDS: waits until LOG contains TEXT and the app is running.
wait_for() {
	for _ in $(seq 1 "$3"); do
		if grep -q "$2" "$1"; then return 0; fi
		if ! kill -0 "$app" 2>/dev/null; then
			echo "crashtest: protrude exited while waiting for \"$2\":" >&2
			cat "$1" >&2
			exit 1
		fi
		sleep 1
	done
	echo "crashtest: timed out after $3 s waiting for \"$2\":" >&2
	cat "$1" >&2
	exit 1
}

# 1. Open the scan and paint two strokes with the brush on the axial view.
log1=$work/first.log
bin/protrude view "$input" 2>"$log1" &
app=$!
wait_for "$log1" "study opened" 120
sleep 3
xdotool mousemove 300 420
sleep 0.5
xdotool key b
xdotool key bracketright bracketright bracketright bracketright
for row in 400 440; do
	xdotool mousemove 260 "$row" mousedown 1
	for x in 280 300 320 340; do
		xdotool mousemove "$x" "$row"
		sleep 0.1
	done
	xdotool mouseup 1
	sleep 0.5
done
wait_for "$log1" "autosave written" 60
import -window root "${shot%.png}-edits.png"
cp -r "$recovery" "$work/before"

# 2. Crash: SIGKILL leaves no chance to clean up.
kill -9 "$app"
wait "$app" 2>/dev/null || true
app=
echo "crashtest: killed the viewer after its autosave"

# 3. Restart. The recovery dialog must come up before any scan opens.
log2=$work/second.log
bin/protrude view 2>"$log2" &
app=$!
wait_for "$log2" "recovery data found" 60
sleep 3
import -window root "$shot"
echo "crashtest: wrote $shot"
# shellcheck disable=SC2086 # X and Y are two words on purpose
xdotool mousemove $recover_at click 1

# 4. The restarted viewer writes what it recovered into its own folder.
wait_for "$log2" "session recovered" 120
wait_for "$log2" "autosave written" 60
sleep 1
import -window root "${shot%.png}-recovered.png"
before=$(find "$work/before" -name tumor.nii.gz)
after=$(find "$recovery" -name tumor.nii.gz)
[ "$(echo "$before" | wc -l)" = 1 ] && [ -n "$before" ] || { echo "crashtest: want one tumor mask autosaved before the kill, found: $before" >&2; exit 1; }
[ "$(echo "$after" | wc -l)" = 1 ] && [ -n "$after" ] || { echo "crashtest: want one tumor mask after recovery, found: $after" >&2; exit 1; }
[ "$(dirname "$before" | xargs basename)" != "$(dirname "$after" | xargs basename)" ] || { echo "crashtest: the recovered session was not written into the new process's folder" >&2; exit 1; }
"$python" - "$before" "$after" "$input" <<'EOF'
import hashlib, sys
import nibabel as nib
import numpy as np

before, after, scan = (nib.load(p) for p in sys.argv[1:4])
b = np.asarray(before.dataobj)
a = np.asarray(after.dataobj)
count = int(np.count_nonzero(b))
print(f"tumor voxels painted before the kill: {count}, sha256 {hashlib.sha256(b.tobytes()).hexdigest()[:16]}")
print(f"tumor voxels after recovery:         {int(np.count_nonzero(a))}, sha256 {hashlib.sha256(a.tobytes()).hexdigest()[:16]}")
if count == 0:
    sys.exit("crashtest: the brush strokes painted no voxel")
if b.shape != scan.shape[:3] or not np.allclose(before.affine, scan.affine, atol=1e-3):
    sys.exit(f"crashtest: the autosaved mask {b.shape} is not on the scan's grid {scan.shape}")
if not np.array_equal(a, b) or not np.allclose(a.shape, b.shape):
    sys.exit("crashtest: the recovered tumor mask differs from the one autosaved before the kill")
slices = sorted(set(np.nonzero(b)[2].tolist()))
print(f"painted axial slices (k): {slices}")
EOF

# 5. A clean exit removes the recovery data, the recovered session's included.
kill -TERM "$app"
for _ in $(seq 1 30); do kill -0 "$app" 2>/dev/null || break; sleep 1; done
if kill -0 "$app" 2>/dev/null; then echo "crashtest: the viewer did not exit on SIGTERM" >&2; exit 1; fi
wait "$app" 2>/dev/null || true
app=
left=$(find "$recovery" -mindepth 1 2>/dev/null | wc -l)
[ "$left" = 0 ] || { echo "crashtest: $left recovery files left after a clean exit:" >&2; find "$recovery" >&2; exit 1; }
echo "crashtest: passed"
