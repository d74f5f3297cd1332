package main

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"protrude/seg"
	"protrude/volume"
	"protrude/volume/nifti"
)

const (
	realNCCTNIfTI  = "../../shared/data/real_ncct/torso_ncct_3mm.nii.gz"
	realNCCTSeries = "../../shared/data/dicom/real_ncct_series"
)

// requireRealData skips the test when the shared real scan or ONNX Runtime is missing.
func requireRealData(t *testing.T) {
	t.Helper()
	for _, p := range []string{realNCCTNIfTI, realNCCTSeries} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("real NCCT data not found at %s (it lives outside the repository): %v", p, err)
		}
	}
	if _, err := findORTLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not found; run make ort: %v", err)
	}
}

// TestSegmentRealNCCTNIfTIAndDICOMAgree runs the whole pipeline on the same real scan
// read as NIfTI and as a DICOM series, and checks the written masks.
func TestSegmentRealNCCTNIfTIAndDICOMAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the three networks twice on a real scan; skipped with -short")
	}
	requireRealData(t)
	outNIfTI := filepath.Join(t.TempDir(), "nifti")
	outDICOM := filepath.Join(t.TempDir(), "dicom")
	if err := run([]string{"segment", realNCCTNIfTI, "-o", outNIfTI, "--device", "cpu"}); err != nil {
		t.Fatalf("segment NIfTI: %v", err)
	}
	if err := run([]string{"segment", realNCCTSeries, "-o", outDICOM, "--device", "cpu", "--format", "both"}); err != nil {
		t.Fatalf("segment DICOM: %v", err)
	}

	for _, name := range []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz"} {
		t.Run(name, func(t *testing.T) {
			checkAffineWithNibabel(t, realNCCTNIfTI, filepath.Join(outNIfTI, name))
			fromNIfTI, hdr, err := nifti.ReadMask(filepath.Join(outNIfTI, name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(hdr.Descrip, researchNotice) {
				t.Errorf("descrip = %q, want it to contain %q", hdr.Descrip, researchNotice)
			}
			fromDICOM, _, err := nifti.ReadMask(filepath.Join(outDICOM, name))
			if err != nil {
				t.Fatal(err)
			}
			compareMasksInPatientSpace(t, fromDICOM, fromNIfTI)
		})
	}
	if _, err := os.Stat(filepath.Join(outNIfTI, "montage.png")); err != nil {
		t.Errorf("montage.png missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outNIfTI, "segmentation.dcm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--format nifti wrote segmentation.dcm (stat: %v)", err)
	}
	checkSEGMatchesMasks(t, outDICOM)
	checkLabelMapMatchesMasks(t, outDICOM)
}

// checkSEGMatchesMasks reads segmentation.dcm back onto the source series and
// compares each segment with the NIfTI mask of the same run.
func checkSEGMatchesMasks(t *testing.T, dir string) {
	t.Helper()
	st, err := loadStudy(realNCCTSeries)
	if err != nil {
		t.Fatal(err)
	}
	src, err := seg.ReadSource(realNCCTSeries, st.CT.Grid)
	if err != nil {
		t.Fatal(err)
	}
	segments, err := seg.Read(filepath.Join(dir, "segmentation.dcm"), src)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := seg.LayersFromSegments(segments)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		mask *volume.Mask
	}{{"kidney.nii.gz", layers.Kidney}, {"protrusion.nii.gz", layers.Protrusion}, {"tumor.nii.gz", layers.Tumor}, {"base_tumor.nii.gz", layers.BaseTumor}} {
		want, _, err := nifti.ReadMask(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if c.mask == nil {
			t.Errorf("segmentation.dcm has no segment for %s", c.file)
			continue
		}
		compareMasksInPatientSpace(t, c.mask, want)
	}
}

// checkLabelMapMatchesMasks checks labels.nii.gz against the per-layer masks of the
// same run: tumor wins over protrusion and protrusion over kidney.
func checkLabelMapMatchesMasks(t *testing.T, dir string) {
	t.Helper()
	labels, hdr, err := nifti.ReadMask(filepath.Join(dir, "labels.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hdr.Descrip, researchNotice) {
		t.Errorf("labels.nii.gz descrip = %q, want it to contain %q", hdr.Descrip, researchNotice)
	}
	var layers [3]*volume.Mask
	for n, name := range []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz"} {
		if layers[n], _, err = nifti.ReadMask(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for v := range labels.Labels {
		want := uint8(0)
		for n := range layers {
			if layers[n].Labels[v] != 0 {
				want = uint8(n + 1)
			}
		}
		if labels.Labels[v] != want {
			t.Fatalf("labels.nii.gz voxel %d is %d, want %d", v, labels.Labels[v], want)
		}
	}
}

func TestSegmentFormatErrors(t *testing.T) {
	// A small NIfTI input, so that the format check runs without the shared data.
	input := filepath.Join(t.TempDir(), "scan.nii.gz")
	g := volume.Grid{Size: [3]int{4, 4, 4}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	if err := nifti.WriteVolume(input, volume.NewVolume(g), nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		format string
		want   string
	}{
		{"unknown format", "png", `--format is "png"`},
		{"seg from NIfTI", "seg", "use --format nifti"},
		{"both from NIfTI", "both", "use --format nifti"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			err := run([]string{"segment", input, "-o", out, "--format", tc.format})
			if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("segment --format %s on NIfTI: error %v, want a usage error containing %q", tc.format, err, tc.want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("segment --format %s on NIfTI left %d files in the output folder", tc.format, len(entries))
			}
		})
	}
}

// checkAffineWithNibabel checks with nibabel that mask carries the affine, sform and qform of input.
func checkAffineWithNibabel(t *testing.T, input, mask string) {
	t.Helper()
	script := `
import sys, nibabel as nib, numpy as np
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
assert a.shape[:3] == b.shape[:3], (a.shape, b.shape)
for name, x, y in (("affine", a.affine, b.affine), ("sform", a.get_sform(), b.get_sform()), ("qform", a.get_qform(), b.get_qform())):
    d = np.abs(x - y).max()
    assert d <= 1e-3, "%s differs by %g mm" % (name, d)
assert int(a.header["sform_code"]) == int(b.header["sform_code"])
assert int(a.header["qform_code"]) == int(b.header["qform_code"])
print("ok")
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, input, mask).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No module named 'nibabel'") {
			t.Skip("nibabel is not installed (Debian package python3-nibabel)")
		}
		t.Fatalf("nibabel check of %s against %s failed: %v\n%s", mask, input, err, out)
	}
}

// compareMasksInPatientSpace checks that every voxel of a sits at a voxel centre of b
// and carries the same label.
func compareMasksInPatientSpace(t *testing.T, a, b *volume.Mask) {
	t.Helper()
	if a.NumVoxels() != b.NumVoxels() {
		t.Fatalf("masks have %d and %d voxels", a.NumVoxels(), b.NumVoxels())
	}
	mismatches, labelled := 0, 0
	for k := 0; k < a.Size[2]; k++ {
		for j := 0; j < a.Size[1]; j++ {
			for i := 0; i < a.Size[0]; i++ {
				p := a.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
				c := b.LPSToIndex(p)
				var idx [3]int
				for d := range 3 {
					idx[d] = int(math.Round(c[d]))
					if math.Abs(c[d]-float64(idx[d])) > 1e-3 {
						t.Fatalf("voxel (%d, %d, %d) at LPS %v falls at index %v of the other mask, not on a voxel centre", i, j, k, p, c)
					}
				}
				if !b.Contains(idx[0], idx[1], idx[2]) {
					t.Fatalf("voxel (%d, %d, %d) at LPS %v is outside the other mask (index %v)", i, j, k, p, idx)
				}
				la, lb := a.At(i, j, k), b.At(idx[0], idx[1], idx[2])
				if la != lb {
					mismatches++
				}
				if la != 0 {
					labelled++
				}
			}
		}
	}
	if mismatches != 0 {
		t.Errorf("%d of %d voxels differ between the DICOM and NIfTI runs (%d labelled)", mismatches, a.NumVoxels(), labelled)
	}
}

func TestViewerWithoutDisplayPointsToSegment(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	err := run(nil)
	if err == nil {
		t.Fatal("run with no arguments and no display returned no error")
	}
	if !strings.Contains(err.Error(), "needs a display") || !strings.Contains(err.Error(), "protrude segment") {
		t.Errorf("error = %q, want it to say the viewer needs a display and point to protrude segment", err)
	}
}

func TestSegmentUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no input", []string{"segment", "-o", t.TempDir()}},
		{"no output folder", []string{"segment", realNCCTNIfTI}},
		{"two inputs", []string{"segment", "a.nii", "b.nii", "-o", t.TempDir()}},
		{"unknown device", []string{"segment", realNCCTNIfTI, "-o", t.TempDir(), "--device", "tpu"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unknown device" {
				requireRealData(t)
			}
			if err := run(tc.args); err == nil {
				t.Errorf("run(%q) returned no error", tc.args)
			}
		})
	}
}

func TestSegmentRejectsFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "scan.nii")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	err := run([]string{"segment", p, "-o", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("segment on a FIFO: error = %v, want one saying it is not a regular file", err)
	}
}

func TestSegmentRejectsNonNIfTIFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "scan.txt")
	if err := os.WriteFile(p, []byte("not a scan"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"segment", p, "-o", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "scan.txt") {
		t.Errorf("segment on a text file: error = %v, want one naming scan.txt", err)
	}
}
