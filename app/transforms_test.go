package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireSegmentTools skips the test unless ONNX Runtime and nibabel are available.
func requireSegmentTools(t *testing.T) {
	t.Helper()
	if _, err := findORTLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not found; run make ort: %v", err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import nibabel").Run(); err != nil {
		t.Skipf("nibabel, the referee for NIfTI transforms, is not installed (Debian package python3-nibabel): %v", err)
	}
}

// runNibabel runs a Python script with arguments and decodes its JSON output into out.
func runNibabel(t *testing.T, script string, out any, args ...string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", script}, args...)...)
	stdout, err := cmd.Output()
	if err != nil {
		stderr := ""
		if exitErr, ok := err.(*exec.ExitError); ok {
			stderr = string(exitErr.Stderr)
		}
		t.Fatalf("nibabel script failed: %v\n%s", err, stderr)
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("nibabel script output %q is not JSON: %v", stdout, err)
	}
}

// makeTransformInputs writes small int16 CT files whose qform and sform differ, with
// transform codes 0 to 4, into the folder given, and prints their names. The values are soft tissue and fat
// in HU, so the pipeline runs as on a scan.
const makeTransformInputs = `
import sys, nibabel as nib, numpy as np
folder = sys.argv[1]
rng = np.random.default_rng(11)
angle = np.deg2rad(20)
rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
oblique = np.eye(4)
oblique[:3, :3] = rot @ np.diag([0.8, 0.8, -2.5])
oblique[:3, 3] = [-100.5, 40.25, 300.0]
las = np.array([[-1.5, 0, 0, 90.0], [0, 1.5, 0, -70.0], [0, 0, 3.0, -150.0], [0, 0, 0, 1]])
cases = {
    'qform1_sform2.nii.gz': (oblique, 1, las, 2),
    'qform3_sform4.nii': (las, 3, oblique, 4),
    'qform2_only.nii': (oblique, 2, None, 0),
    'sform1_only.nii.gz': (None, 0, las, 1),
}
for name, (qform, qcode, sform, scode) in cases.items():
    data = rng.integers(-120, 80, size=(14, 12, 6)).astype(np.int16)
    image = nib.Nifti1Image(data, None)
    image.header.set_qform(qform, code=qcode)
    image.header.set_sform(sform, code=scode)
    nib.save(image, folder + '/' + name)
print(' '.join(cases))
`

// compareTransforms has nibabel compare the coded qform and sform of an input and a
// written mask.
const compareTransforms = `
import json, sys, nibabel as nib, numpy as np
source, written = nib.load(sys.argv[1]).header, nib.load(sys.argv[2]).header
result = {}
for name in ('qform', 'sform'):
    a, code_a = getattr(source, 'get_' + name)(coded=True)
    b, code_b = getattr(written, 'get_' + name)(coded=True)
    result[name + '_codes'] = [int(code_a), int(code_b)]
    result[name + '_present'] = [a is not None, b is not None]
    result[name + '_diff'] = float(np.abs(a - b).max()) if a is not None and b is not None else 0.0
print(json.dumps(result))
`

// TestSegmentKeepsTransforms runs segment on inputs with unusual transform codes and
// a qform that differs from the sform, and has nibabel check that every mask carries
// the input's coded qform and sform.
func TestSegmentKeepsTransforms(t *testing.T) {
	requireSegmentTools(t)
	inputs := t.TempDir()
	out, err := exec.Command("/usr/bin/python3", "-c", makeTransformInputs, inputs).Output()
	if err != nil {
		t.Fatalf("nibabel could not write the inputs: %v", err)
	}

	for _, name := range strings.Fields(string(out)) {
		t.Run(name, func(t *testing.T) {
			input := filepath.Join(inputs, name)
			outDir := t.TempDir()
			if err := run([]string{"segment", input, "-o", outDir, "--device", "cpu"}); err != nil {
				t.Fatalf("segment: %v", err)
			}
			for _, mask := range []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz"} {
				var got struct {
					QformCodes   [2]int  `json:"qform_codes"`
					SformCodes   [2]int  `json:"sform_codes"`
					QformPresent [2]bool `json:"qform_present"`
					SformPresent [2]bool `json:"sform_present"`
					QformDiff    float64 `json:"qform_diff"`
					SformDiff    float64 `json:"sform_diff"`
				}
				runNibabel(t, compareTransforms, &got, input, filepath.Join(outDir, mask))
				if got.QformCodes[1] != got.QformCodes[0] {
					t.Errorf("%s: qform_code %d, want the input's %d", mask, got.QformCodes[1], got.QformCodes[0])
				}
				if got.SformCodes[1] != got.SformCodes[0] {
					t.Errorf("%s: sform_code %d, want the input's %d", mask, got.SformCodes[1], got.SformCodes[0])
				}
				if got.QformPresent[1] != got.QformPresent[0] || got.SformPresent[1] != got.SformPresent[0] {
					t.Errorf("%s: qform, sform present = %v, %v, want the input's %v, %v",
						mask, got.QformPresent[1], got.SformPresent[1], got.QformPresent[0], got.SformPresent[0])
				}
				// The transforms are copied bit for bit, so nibabel computes the same
				// matrices from them.
				if got.QformDiff != 0 {
					t.Errorf("%s: qform differs from the input's by %g mm, want 0", mask, got.QformDiff)
				}
				if got.SformDiff != 0 {
					t.Errorf("%s: sform differs from the input's by %g mm, want 0", mask, got.SformDiff)
				}
			}
		})
	}
}

// TestSegmentFailedWriteKeepsOldOutputs runs segment into a folder with the outputs of
// an earlier run, where montage.png cannot be written because a folder has its name,
// and checks that the old masks are untouched.
func TestSegmentFailedWriteKeepsOldOutputs(t *testing.T) {
	requireSegmentTools(t)
	inputs := t.TempDir()
	runNibabel(t, makeTransformInputs, nil, inputs)
	outDir := t.TempDir()
	for _, name := range []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz"} {
		if err := os.WriteFile(filepath.Join(outDir, name), []byte("old "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(outDir, "montage.png"), 0o755); err != nil {
		t.Fatal(err)
	}

	err := run([]string{"segment", filepath.Join(inputs, "qform1_sform2.nii.gz"), "-o", outDir, "--device", "cpu"})
	if err == nil || !strings.Contains(err.Error(), "montage.png") {
		t.Fatalf("segment error %v, want one naming montage.png", err)
	}
	for _, name := range []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz"} {
		b, err := os.ReadFile(filepath.Join(outDir, name))
		if err != nil || string(b) != "old "+name {
			t.Errorf("%s contains %d bytes (%v), want the old content", name, len(b), err)
		}
	}
	checkFolderNames(t, outDir, outputSetNames)
}
