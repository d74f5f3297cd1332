package main

import (
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/assets"
	"protrude/metrics"
	"protrude/volume"
	"protrude/volume/components"
	"protrude/volume/nifti"
)

// kitsProtrusionCase is a small real KiTS19 label map: 75 slices of 3 mm, stored as
// uint16, with three kidney components and one tumor.
const kitsProtrusionCase = "../../shared/data/kits19/case_00015.nii.gz"

// TestProtrusionOnRealKiTSKidney runs the embedded bundle's protuberance network on a
// real kidney mask (KiTS19 labels >= 1) and checks the written masks. The demo weights
// may find no protrusion at the manifest's threshold. So a second run uses a copy of
// the bundle with the threshold lowered to 0.05. It must label some voxels, including
// every voxel of the first run.
func TestProtrusionOnRealKiTSKidney(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the protuberance network twice on a real mask; skipped with -short")
	}
	if _, err := os.Stat(kitsProtrusionCase); err != nil {
		t.Skipf("KiTS19 masks not found at %s (they live outside the repository): %v", kitsProtrusionCase, err)
	}
	if _, err := findORTLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not found; run make ort: %v", err)
	}

	labels, hdr, err := nifti.ReadMask(kitsProtrusionCase)
	if err != nil {
		t.Fatal(err)
	}
	kidney := volume.NewMask(labels.Grid)
	for n, l := range labels.Labels {
		if l >= 1 {
			kidney.Labels[n] = 1
		}
	}
	dir := t.TempDir()
	maskPath := filepath.Join(dir, "kidney.nii.gz")
	if err := nifti.WriteMask(maskPath, kidney, nifti.WriteOptions{Template: hdr}); err != nil {
		t.Fatal(err)
	}

	defaultPath := filepath.Join(dir, "protrusion.nii.gz")
	if err := run([]string{"protrusion", maskPath, "-o", defaultPath, "--device", "cpu"}); err != nil {
		t.Fatalf("protrusion: %v", err)
	}
	atDefault := checkProtrusionOutput(t, maskPath, defaultPath, kidney)

	lowPath := filepath.Join(dir, "protrusion_low.nii.gz")
	lowBundle := embeddedBundleWithProtrusionThreshold(t, 0.05)
	if err := run([]string{"protrusion", maskPath, "-o", lowPath, "--device", "cpu", "--models", lowBundle}); err != nil {
		t.Fatalf("protrusion with threshold 0.05: %v", err)
	}
	atLow := checkProtrusionOutput(t, maskPath, lowPath, kidney)

	low := 0
	for n, l := range atLow.Labels {
		if l != 0 {
			low++
		} else if atDefault.Labels[n] != 0 {
			t.Fatalf("voxel %d is labelled at the manifest threshold but not at 0.05", n)
		}
	}
	if low == 0 {
		t.Error("no voxel reaches protrusion probability 0.05")
	}
	t.Logf("protrusion voxels: %d at the manifest threshold, %d at 0.05", countVoxels(atDefault), low)
}

// checkProtrusionOutput reads the output file and returns its mask. It checks that
// the file has the mask file's grid, qform and sform, the research notice and labels
// 0 and 1 only. No labelled voxel may lie beyond the network's region.
func checkProtrusionOutput(t *testing.T, maskPath, outPath string, kidney *volume.Mask) *volume.Mask {
	t.Helper()
	checkAffineWithNibabel(t, maskPath, outPath)
	out, outHdr, err := nifti.ReadMask(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(outHdr.Descrip, researchNotice) {
		t.Errorf("descrip = %q, want it to contain %q", outHdr.Descrip, researchNotice)
	}
	if err := metrics.CheckSameGrid(kidney.Grid, out.Grid); err != nil {
		t.Fatalf("output grid differs from the mask's: %v", err)
	}

	// The network's region is the kidney's bounding box in LPS grown by the 16 mm
	// margin. 2 mm more allow for the 1 mm grid's rounding and the linear fall-off.
	lo, hi := lpsBounds(kidney)
	const reachMM = 16 + 2
	labelled, outside := 0, 0
	for n, l := range out.Labels {
		switch l {
		case 0:
			continue
		case 1:
			labelled++
		default:
			t.Fatalf("output voxel %d has label %d, want 0 or 1", n, l)
		}
		i, j, k := n%out.Size[0], (n/out.Size[0])%out.Size[1], n/(out.Size[0]*out.Size[1])
		p := out.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
		for a := 0; a < 3; a++ {
			if p[a] < lo[a]-reachMM || p[a] > hi[a]+reachMM {
				outside++
				break
			}
		}
	}
	if outside > 0 {
		t.Errorf("%d of %d protrusion voxels lie more than %g mm outside the kidney's bounding box", outside, labelled, float64(reachMM))
	}
	return out
}

// embeddedBundleWithProtrusionThreshold copies the embedded bundle into a temporary
// folder with another protrusion threshold in its manifest, and returns the folder.
func embeddedBundleWithProtrusionThreshold(t *testing.T, threshold float64) string {
	t.Helper()
	dir := t.TempDir()
	models := assets.Models()
	for _, name := range []string{"base.onnx", "protuberance.onnx", "fusion.onnx"} {
		data, err := fs.ReadFile(models, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	raw, err := fs.ReadFile(models, "manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]any
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	manifest["inference"].(map[string]any)["thresholds"].(map[string]any)["protrusion"] = threshold
	if raw, err = json.Marshal(manifest); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lpsBounds returns the LPS bounding box of the centres of m's non-zero voxels.
func lpsBounds(m *volume.Mask) (lo, hi volume.Vec3) {
	b := components.BoundingBox(m)
	lo = volume.Vec3{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi = volume.Vec3{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for corner := 0; corner < 8; corner++ {
		var index volume.Vec3
		for a := 0; a < 3; a++ {
			index[a] = float64(b.Min[a])
			if corner&(1<<a) != 0 {
				index[a] = float64(b.Max[a] - 1)
			}
		}
		p := m.IndexToLPS(index)
		for a := 0; a < 3; a++ {
			lo[a] = math.Min(lo[a], p[a])
			hi[a] = math.Max(hi[a], p[a])
		}
	}
	return lo, hi
}

func TestProtrusionRejectsNonBinaryMask(t *testing.T) {
	dir := t.TempDir()
	m := labelMask(1, box([3]int{1, 1, 1}, [3]int{4, 3, 2})...)
	m.Labels[m.Offset(2, 1, 1)] = 2
	maskPath := filepath.Join(dir, "labels.nii.gz")
	writeTestMask(t, maskPath, m)

	err := run([]string{"protrusion", maskPath, "-o", filepath.Join(dir, "out.nii.gz")})
	if err == nil {
		t.Fatal("protrusion accepted a mask with label 2")
	}
	for _, want := range []string{maskPath, "not binary", "(2, 1, 1)", "label 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.nii.gz")); err == nil {
		t.Error("protrusion wrote an output for a rejected mask")
	}
}

func TestProtrusionRejectsEmptyMask(t *testing.T) {
	dir := t.TempDir()
	maskPath := filepath.Join(dir, "empty.nii")
	writeTestMask(t, maskPath, labelMask(1))

	err := run([]string{"protrusion", maskPath, "-o", filepath.Join(dir, "out.nii.gz")})
	if err == nil {
		t.Fatal("protrusion accepted an empty mask")
	}
	for _, want := range []string{maskPath, "empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestProtrusionRejectsRealKiTSLabelMap(t *testing.T) {
	if _, err := os.Stat(kitsProtrusionCase); err != nil {
		t.Skipf("KiTS19 masks not found at %s (they live outside the repository): %v", kitsProtrusionCase, err)
	}
	err := run([]string{"protrusion", kitsProtrusionCase, "-o", filepath.Join(t.TempDir(), "out.nii.gz")})
	if err == nil || !strings.Contains(err.Error(), "label 2") {
		t.Errorf("error = %v, want one saying the label map has label 2", err)
	}
}

func TestProtrusionUsageErrors(t *testing.T) {
	dir := t.TempDir()
	maskPath := filepath.Join(dir, "mask.nii.gz")
	writeTestMask(t, maskPath, labelMask(1, [3]int{1, 1, 1}))
	cases := []struct {
		name string
		args []string
	}{
		{"no mask", []string{"protrusion", "-o", filepath.Join(dir, "out.nii.gz")}},
		{"no output", []string{"protrusion", maskPath}},
		{"two masks", []string{"protrusion", maskPath, maskPath, "-o", filepath.Join(dir, "out.nii.gz")}},
		{"output not NIfTI", []string{"protrusion", maskPath, "-o", filepath.Join(dir, "out.png")}},
		{"output folder missing", []string{"protrusion", maskPath, "-o", filepath.Join(dir, "missing", "out.nii.gz")}},
		{"mask is a folder", []string{"protrusion", dir, "-o", filepath.Join(dir, "out.nii.gz")}},
		{"output is the mask", []string{"protrusion", maskPath, "-o", maskPath}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(tc.args); err == nil {
				t.Errorf("run(%q) returned no error", tc.args)
			}
		})
	}
}
