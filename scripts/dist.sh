#!/usr/bin/env bash
# Packs dist/protrude-VERSION-linux-x86_64.tar.gz: the protrude binary, ONNX Runtime, the
# codec libraries a plain desktop Linux lacks, a desktop entry, the icon and README.txt.
# The binary's RUNPATH is $ORIGIN/lib, and each bundled library's RUNPATH is $ORIGIN, so
# the codecs' own dependencies (libdcmjpeg needs libijg8, for example) also resolve
# inside lib/. Usage: scripts/dist.sh VERSION ORT_LIB (the Makefile passes both).
set -euo pipefail

version=${1:?usage: scripts/dist.sh VERSION ORT_LIB}
ort_lib=${2:?usage: scripts/dist.sh VERSION ORT_LIB}
go_cmd=${GO:-go}

# Sonames to bundle. libc, libstdc++, libgcc_s, libm, libz, liblzma, libbsd, libGL and the
# X11/xcb libraries stay with the system, because every desktop Linux has them and libGL
# must match the local graphics driver.
bundle_pattern='^(libdcm|libijg|libofstd|liboflog|libi2d|libcharls|libopenjp2|libxml2|libicu)'

for tool in patchelf ldd tar; do
	command -v "$tool" >/dev/null || { echo "dist: $tool not found. Run make apt to install it." >&2; exit 1; }
done
[ -f "$ort_lib" ] || { echo "dist: ONNX Runtime library $ort_lib not found. Run make ort to download it." >&2; exit 1; }

name="protrude-${version}-linux-x86_64"
work=$(mktemp -d "${TMPDIR:-/tmp}/protrude-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/$name"
mkdir -p "$root/lib" "$root/share/applications" "$root/share/pixmaps"

# Single quotes keep $ORIGIN literal for the dynamic loader.
"$go_cmd" build -ldflags "-s -w -X main.version=${version} -r \$ORIGIN/lib" -o "$root/protrude" ./app

cp "$ort_lib" "$root/lib/libonnxruntime.so.1"

# ldd lists direct and indirect dependencies as "soname => /path (address)".
missing=$(ldd "$root/protrude" | awk '/not found/ {print $1}')
if [ -n "$missing" ]; then
	echo "dist: libraries not found on this build machine: $missing" >&2
	exit 1
fi
ldd "$root/protrude" | awk '$2 == "=>" {print $1, $3}' | while read -r soname path; do
	if [[ $soname =~ $bundle_pattern ]]; then
		cp -L "$path" "$root/lib/$soname"
		chmod u+w "$root/lib/$soname"
		patchelf --set-rpath '$ORIGIN' "$root/lib/$soname"
	fi
done

# Desktop entry and icon as fyne package writes them for Linux, named by the app ID in
# FyneApp.toml. Exec and Icon are plain names because the archive can be unpacked anywhere.
app_id=$(sed -n 's/^ID *= *"\(.*\)"/\1/p' FyneApp.toml)
comment=$(sed -n 's/^Comment *= *"\(.*\)"/\1/p' FyneApp.toml)
generic=$(sed -n 's/^GenericName *= *"\(.*\)"/\1/p' FyneApp.toml)
cp assets/icon.png "$root/share/pixmaps/${app_id}.png"
cat >"$root/share/applications/${app_id}.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=Protrude
GenericName=${generic}
Comment=${comment}
Exec=protrude
Icon=${app_id}
Categories=Science;MedicalSoftware;
Keywords=CT;kidney;tumor;DICOM;NIfTI;
EOF

cat >"$root/README.txt" <<EOF
Protrude ${version} for Linux x86-64

RESEARCH USE ONLY. NOT FOR CLINICAL USE. Protrude finds kidney tumors on non-contrast CT
for research. It is not a medical device, and its output must not guide the diagnosis or
treatment of any patient.

Running it needs no root and no network. Unpack the archive anywhere, then:

  cd ${name}
  ./protrude                         open the viewer on the demo case (needs OpenGL)
  ./protrude version                 print the version and the model bundle id
  ./protrude segment CT.nii.gz -o OUT   segment a NIfTI CT or a DICOM folder without a window
  ./protrude help                    list every command and option

lib/ contains ONNX Runtime 1.24.1 (CPU) and the DICOM codec libraries (DCMTK, CharLS,
OpenJPEG, libxml2, ICU). The binary finds them through its RUNPATH (\$ORIGIN/lib), so
keep lib/ next to protrude. The system provides glibc (2.34 or newer), libstdc++ (from
GCC 12 or newer), OpenGL and X11.

To add Protrude to the desktop menu for your user:

  mkdir -p ~/.local/share/applications ~/.local/share/icons/hicolor/256x256/apps
  sed "s|^Exec=.*|Exec=\$PWD/protrude|" share/applications/${app_id}.desktop \\
    > ~/.local/share/applications/${app_id}.desktop
  cp share/pixmaps/${app_id}.png ~/.local/share/icons/hicolor/256x256/apps/
EOF

# Write the archive under a temporary name, then rename it, so an interrupted run
# leaves no partial archive behind.
mkdir -p dist
out="dist/${name}.tar.gz"
tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$out.tmp" "$name"
mv "$out.tmp" "$out"
echo "dist: wrote $out ($(du -h "$out" | cut -f1))"
