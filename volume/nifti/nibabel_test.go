package nifti

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"protrude/volume"
)

// realNCCTPath is the shared real non-contrast CT, seen from this package's folder:
// the repository root is two levels up and the shared data sits beside it.
var realNCCTPath = filepath.Join("..", "..", "..", "shared", "data", "real_ncct", "torso_ncct_3mm.nii.gz")

const python = "/usr/bin/python3"

// requireNibabel skips the test unless python3 can import nibabel.
func requireNibabel(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import nibabel, numpy").Run(); err != nil {
		t.Skipf("skipping: nibabel is the referee for this test, and %s -c 'import nibabel, numpy' failed: %v", python, err)
	}
}

func requireRealNCCT(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(realNCCTPath); err != nil {
		t.Skipf("skipping: the shared real CT %s is absent (%v); it exists only in the development checkout", realNCCTPath, err)
	}
}

// runPython runs a script with arguments and decodes its JSON output into out.
func runPython(t *testing.T, script string, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	stdout, err := cmd.Output()
	if err != nil {
		stderr := ""
		if exitErr, ok := err.(*exec.ExitError); ok {
			stderr = string(exitErr.Stderr)
		}
		t.Fatalf("python referee failed: %v\n%s", err, stderr)
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("python referee output %q is not JSON: %v", stdout, err)
	}
}

// readFloat32s reads a little-endian float32 file written by numpy's tofile.
func readFloat32s(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	values := make([]float32, len(b)/4)
	for n := range values {
		values[n] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*n:]))
	}
	return values
}

const dumpScript = `
import json, sys
import nibabel as nib, numpy as np
image = nib.load(sys.argv[1])
np.asarray(image.get_fdata(), dtype='<f4').ravel(order='F').tofile(sys.argv[2])
print(json.dumps({'affine': image.affine.tolist(), 'shape': list(image.shape)}))
`

func TestReadRealCTMatchesNibabel(t *testing.T) {
	requireRealNCCT(t)
	requireNibabel(t)

	rawPath := filepath.Join(t.TempDir(), "voxels.f32")
	var ref struct {
		Affine [][]float64 `json:"affine"`
		Shape  []int       `json:"shape"`
	}
	runPython(t, dumpScript, &ref, realNCCTPath, rawPath)

	v, h, err := Read(realNCCTPath)
	if err != nil {
		t.Fatal(err)
	}
	if v.Size != [3]int{ref.Shape[0], ref.Shape[1], ref.Shape[2]} {
		t.Fatalf("size = %v, nibabel shape = %v", v.Size, ref.Shape)
	}
	if h.Datatype != DatatypeInt32 {
		t.Errorf("datatype = %s, want int32", datatypeName(h.Datatype))
	}
	d := maxAffineDifference(v.AffineLPS(), affineLPSFromRAS(ref.Affine))
	t.Logf("affine difference from nibabel: %g mm", d)
	if d > 1e-4 {
		t.Errorf("affine differs from nibabel's by %g mm:\ngot  %v (LPS)\nwant %v (RAS)", d, v.AffineLPS(), ref.Affine)
	}
	want := readFloat32s(t, rawPath)
	for n := range want {
		if v.Voxels[n] != want[n] {
			i, j, k := unflatten(n, v.Size)
			t.Fatalf("voxel (%d, %d, %d) = %v, nibabel reads %v", i, j, k, v.Voxels[n], want[n])
		}
	}
}

const maskScript = `
import json, sys
import nibabel as nib, numpy as np
ct = nib.load(sys.argv[1])
mask = nib.load(sys.argv[2])
np.asarray(mask.dataobj, dtype='<f4').ravel(order='F').tofile(sys.argv[3])
print(json.dumps({
    'sform_diff': float(np.abs(mask.get_sform() - ct.affine).max()),
    'qform_diff': float(np.abs(mask.get_qform() - ct.affine).max()),
    'dtype': str(mask.get_data_dtype()),
}))
`

// TestMaskAffineMatchesNibabel writes a mask on the real CT's grid, with and without
// the CT's header as template, and has nibabel check that both the sform and the
// qform of the mask equal the CT's affine.
func TestMaskAffineMatchesNibabel(t *testing.T) {
	requireRealNCCT(t)
	requireNibabel(t)

	ct, header, err := Read(realNCCTPath)
	if err != nil {
		t.Fatal(err)
	}
	mask := volume.NewMask(ct.Grid)
	for n, hu := range ct.Voxels {
		switch {
		case hu > 200:
			mask.Labels[n] = 2
		case hu > 0:
			mask.Labels[n] = 1
		}
	}

	for name, template := range map[string]*Header{"with template": header, "from grid": nil} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "mask.nii.gz")
			opts := WriteOptions{Description: researchDescription, Template: template}
			if err := WriteMask(path, mask, opts); err != nil {
				t.Fatal(err)
			}
			rawPath := filepath.Join(dir, "labels.f32")
			var ref struct {
				SformDiff float64 `json:"sform_diff"`
				QformDiff float64 `json:"qform_diff"`
				Dtype     string  `json:"dtype"`
			}
			runPython(t, maskScript, &ref, realNCCTPath, path, rawPath)

			t.Logf("nibabel: mask sform differs from the CT affine by %g mm, qform by %g mm", ref.SformDiff, ref.QformDiff)
			if ref.SformDiff > 1e-3 {
				t.Errorf("mask sform differs from the CT affine by %g mm, want <= 1e-3", ref.SformDiff)
			}
			if ref.QformDiff > 1e-3 {
				t.Errorf("mask qform differs from the CT affine by %g mm, want <= 1e-3", ref.QformDiff)
			}
			if ref.Dtype != "uint8" {
				t.Errorf("nibabel reads dtype %s, want uint8", ref.Dtype)
			}
			labels := readFloat32s(t, rawPath)
			for n := range labels {
				if labels[n] != float32(mask.Labels[n]) {
					t.Fatalf("nibabel reads label %v at voxel %d, want %d", labels[n], n, mask.Labels[n])
				}
			}
		})
	}
}

// kitsObliquePath is a KiTS19 label file stored as uint16 whose qform has a small
// rotation, seen from this package's folder.
var kitsObliquePath = filepath.Join("..", "..", "..", "shared", "data", "kits19", "case_00015.nii.gz")

const affineScript = `
import json, sys
import nibabel as nib, numpy as np
source = nib.load(sys.argv[1])
written = nib.load(sys.argv[2])
print(json.dumps({
    'sform_diff': float(np.abs(written.get_sform() - source.affine).max()),
    'qform_diff': float(np.abs(written.get_qform() - source.affine).max()),
}))
`

// TestObliqueMaskAffineMatchesNibabel rewrites a real label file whose qform is
// rotated, building the transforms from the grid alone, and has nibabel compare both
// transforms of the output with the input's affine.
func TestObliqueMaskAffineMatchesNibabel(t *testing.T) {
	if _, err := os.Stat(kitsObliquePath); err != nil {
		t.Skipf("skipping: the shared KiTS19 mask %s is absent (%v); it exists only in the development checkout", kitsObliquePath, err)
	}
	requireNibabel(t)

	mask, _, err := ReadMask(kitsObliquePath)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mask.nii.gz")
	if err := WriteMask(path, mask, WriteOptions{Description: researchDescription}); err != nil {
		t.Fatal(err)
	}
	var ref struct {
		SformDiff float64 `json:"sform_diff"`
		QformDiff float64 `json:"qform_diff"`
	}
	runPython(t, affineScript, &ref, kitsObliquePath, path)

	t.Logf("nibabel: rewritten sform differs from the input affine by %g mm, qform by %g mm", ref.SformDiff, ref.QformDiff)
	if ref.SformDiff > 1e-3 {
		t.Errorf("sform differs from the input affine by %g mm, want <= 1e-3", ref.SformDiff)
	}
	if ref.QformDiff > 1e-3 {
		t.Errorf("qform differs from the input affine by %g mm, want <= 1e-3", ref.QformDiff)
	}
}
