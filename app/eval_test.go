package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/nifti"
)

// evalGrid is 6 × 4 × 3 voxels of 1 × 1 × 2 mm with a rotation-free LPS placement.
var evalGrid = volume.Grid{
	Size:      [3]int{6, 4, 3},
	SpacingMM: volume.Vec3{1, 1, 2},
	OriginLPS: volume.Vec3{-10, 20, 35},
	AxesLPS:   volume.IdentityAxesLPS,
}

// labelMask returns a mask on evalGrid with the given label at each voxel index.
func labelMask(label uint8, voxels ...[3]int) *volume.Mask {
	m := volume.NewMask(evalGrid)
	for _, v := range voxels {
		m.Labels[m.Offset(v[0], v[1], v[2])] = label
	}
	return m
}

// box lists the voxel indices of the half-open box [min, max).
func box(minIndex, maxIndex [3]int) [][3]int {
	var out [][3]int
	for k := minIndex[2]; k < maxIndex[2]; k++ {
		for j := minIndex[1]; j < maxIndex[1]; j++ {
			for i := minIndex[0]; i < maxIndex[0]; i++ {
				out = append(out, [3]int{i, j, k})
			}
		}
	}
	return out
}

func writeTestMask(t *testing.T, path string, m *volume.Mask) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := nifti.WriteMask(path, m, nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// evalFixture writes two cases, worked out by hand:
//
// Case a. Ground truth: kidney label 1 at i 0..3, j 0..1, k 0 (8 voxels) and tumor
// label 2 at i 4..5, j 0, k 0 (2 voxels), so the kidney (label >= 1) has 10 voxels.
// Prediction: kidney at i 0..5, j 0..1, k 0 (12 voxels, 10 shared): Dice 20/22.
// Tumor (4, 0, 0), (5, 0, 0), (5, 1, 0), one component of 3 voxels sharing 2 with the
// true tumor: per-tumor Dice 4/5, found. A fourth tumor voxel (0, 3, 2) touches no
// true tumor: 1 false positive. Case tumor Dice: 2·2/(2+4) = 2/3.
//
// Case b. Ground truth: kidney at i 0..1, j 0..1, k 1 (4 voxels), no tumor. The
// prediction has the same kidney (Dice 1) and no tumor (no false positive).
//
// Summary: kidney Dice (10/11 + 1)/2, tumor Dice 2/3 over 1 case, 1 of 1 tumors found,
// 1 false positive in 2 cases.
//
// The predictions use the folder layout. The ground truth is written twice, as label
// maps in labelDir and as folders in folderDir.
func evalFixture(t *testing.T) (predDir, labelDir, folderDir string) {
	root := t.TempDir()
	predDir = filepath.Join(root, "pred")
	labelDir = filepath.Join(root, "gt-labels")
	folderDir = filepath.Join(root, "gt-folders")

	labelsA := labelMask(1, box([3]int{0, 0, 0}, [3]int{4, 2, 1})...)
	labelsA.Labels[labelsA.Offset(4, 0, 0)] = 2
	labelsA.Labels[labelsA.Offset(5, 0, 0)] = 2
	labelsB := labelMask(1, box([3]int{0, 0, 1}, [3]int{2, 2, 2})...)
	writeTestMask(t, filepath.Join(labelDir, "a.nii.gz"), labelsA)
	writeTestMask(t, filepath.Join(labelDir, "b.nii"), labelsB)

	kidneyA := labelMask(1, append(box([3]int{0, 0, 0}, [3]int{4, 2, 1}), [3]int{4, 0, 0}, [3]int{5, 0, 0})...)
	writeTestMask(t, filepath.Join(folderDir, "a", "kidney.nii.gz"), kidneyA)
	writeTestMask(t, filepath.Join(folderDir, "a", "tumor.nii.gz"), labelMask(1, [3]int{4, 0, 0}, [3]int{5, 0, 0}))
	writeTestMask(t, filepath.Join(folderDir, "b", "kidney.nii.gz"), labelMask(1, box([3]int{0, 0, 1}, [3]int{2, 2, 2})...))
	writeTestMask(t, filepath.Join(folderDir, "b", "tumor.nii.gz"), labelMask(1))

	writeTestMask(t, filepath.Join(predDir, "a", "kidney.nii.gz"), labelMask(1, box([3]int{0, 0, 0}, [3]int{6, 2, 1})...))
	writeTestMask(t, filepath.Join(predDir, "a", "tumor.nii.gz"), labelMask(1, [3]int{4, 0, 0}, [3]int{5, 0, 0}, [3]int{5, 1, 0}, [3]int{0, 3, 2}))
	writeTestMask(t, filepath.Join(predDir, "b", "kidney.nii.gz"), labelMask(1, box([3]int{0, 0, 1}, [3]int{2, 2, 2})...))
	writeTestMask(t, filepath.Join(predDir, "b", "tumor.nii.gz"), labelMask(1))
	return predDir, labelDir, folderDir
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEvalHandComputedCases(t *testing.T) {
	predDir, labelDir, folderDir := evalFixture(t)
	for _, layout := range []struct{ name, dir string }{{"label maps", labelDir}, {"folders", folderDir}} {
		t.Run(layout.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "eval.json")
			if err := run([]string{"eval", predDir, layout.dir, "--json", jsonPath}); err != nil {
				t.Fatalf("eval: %v", err)
			}
			data, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var report evalReport
			if err := json.Unmarshal(data, &report); err != nil {
				t.Fatalf("decode %s: %v\n%s", jsonPath, err, data)
			}

			s := report.Summary
			if s.Cases != 2 {
				t.Errorf("cases = %d, want 2", s.Cases)
			}
			if want := (20.0/22 + 1) / 2; s.KidneyDiceMean == nil || !near(*s.KidneyDiceMean, want) {
				t.Errorf("kidney_dice_mean = %v, want %.6f", s.KidneyDiceMean, want)
			}
			if s.TumorCases != 1 {
				t.Errorf("tumor_cases = %d, want 1", s.TumorCases)
			}
			if s.TumorDiceMean == nil || !near(*s.TumorDiceMean, 2.0/3) {
				t.Errorf("tumor_dice_mean = %v, want %.6f", s.TumorDiceMean, 2.0/3)
			}
			if s.TrueTumors != 1 {
				t.Errorf("true_tumors = %d, want 1", s.TrueTumors)
			}
			if s.FoundTumors != 1 {
				t.Errorf("found_tumors = %d, want 1", s.FoundTumors)
			}
			if s.PerTumorSensitivity == nil || !near(*s.PerTumorSensitivity, 1) {
				t.Errorf("per_tumor_sensitivity = %v, want 1", s.PerTumorSensitivity)
			}
			if s.FalsePositivesPerImage == nil || !near(*s.FalsePositivesPerImage, 0.5) {
				t.Errorf("false_positives_per_image = %v, want 0.5", s.FalsePositivesPerImage)
			}

			if len(report.Cases) != 2 {
				t.Fatalf("got %d cases, want 2", len(report.Cases))
			}
			a, b := report.Cases[0], report.Cases[1]
			if a.Case != "a" || b.Case != "b" {
				t.Errorf("cases = %q, %q, want a, b", a.Case, b.Case)
			}
			if len(a.TrueTumors) != 1 {
				t.Fatalf("case a has %d true tumors, want 1", len(a.TrueTumors))
			}
			tumor := a.TrueTumors[0]
			if !near(tumor.Dice, 0.8) {
				t.Errorf("case a tumor Dice = %g, want 0.8", tumor.Dice)
			}
			// Two voxels of 1 × 1 × 2 mm.
			if !near(tumor.VolumeML, 0.004) {
				t.Errorf("case a tumor volume = %g mL, want 0.004", tumor.VolumeML)
			}
			if tumor.BoundingBoxMin != [3]int{4, 0, 0} || tumor.BoundingBoxMax != [3]int{6, 1, 1} {
				t.Errorf("case a tumor bounding box = %v..%v, want [4 0 0]..[6 1 1]", tumor.BoundingBoxMin, tumor.BoundingBoxMax)
			}
			if a.FalsePositives != 1 {
				t.Errorf("case a false positives = %d, want 1", a.FalsePositives)
			}
			if b.TumorDice != nil {
				t.Errorf("case b tumor_dice = %v, want null because its ground truth has no tumor", *b.TumorDice)
			}
		})
	}
}

func TestEvalRejectsGridMismatch(t *testing.T) {
	predDir, labelDir, _ := evalFixture(t)
	moved := labelMask(1, box([3]int{0, 0, 1}, [3]int{2, 2, 2})...)
	moved.OriginLPS[2] += 0.01
	predPath := filepath.Join(predDir, "b", "kidney.nii.gz")
	writeTestMask(t, predPath, moved)

	err := run([]string{"eval", predDir, labelDir})
	if err == nil {
		t.Fatal("eval accepted a prediction 0.01 mm off the ground truth's grid")
	}
	for _, want := range []string{predPath, filepath.Join(labelDir, "b.nii"), "0.01 mm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestEvalRejectsCaseWithoutGroundTruth(t *testing.T) {
	predDir, labelDir, _ := evalFixture(t)
	if err := os.Remove(filepath.Join(labelDir, "b.nii")); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"eval", predDir, labelDir})
	if err == nil || !strings.Contains(err.Error(), "no ground truth") || !strings.Contains(err.Error(), ": b") {
		t.Errorf("error = %v, want one naming case b as without ground truth", err)
	}
}

func TestEvalRejectsIncompleteCaseFolder(t *testing.T) {
	predDir, labelDir, _ := evalFixture(t)
	if err := os.Remove(filepath.Join(predDir, "a", "tumor.nii.gz")); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"eval", predDir, labelDir})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(predDir, "a")) {
		t.Errorf("error = %v, want one naming the folder %s", err, filepath.Join(predDir, "a"))
	}
}

func TestEvalUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
	}{
		{"no folders", []string{"eval"}},
		{"one folder", []string{"eval", dir}},
		{"three folders", []string{"eval", dir, dir, dir}},
		{"json without value", []string{"eval", dir, dir, "--json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(tc.args); err == nil {
				t.Errorf("run(%q) returned no error", tc.args)
			}
		})
	}
}

func TestEvalRejectsFolderWithoutCases(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("no masks here"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"eval", dir, dir})
	if err == nil || !strings.Contains(err.Error(), "no cases") {
		t.Errorf("error = %v, want one saying the folder has no cases", err)
	}
}

// TestEvalOnKiTSAgainstItself scores a real KiTS19 label map against itself, so every
// metric is perfect, and checks that eval finds the one tumor that SciPy finds.
func TestEvalOnKiTSAgainstItself(t *testing.T) {
	const kits = "../../shared/data/kits19/case_00015.nii.gz"
	if _, err := os.Stat(kits); err != nil {
		t.Skipf("KiTS19 masks not found at %s (they live outside the repository): %v", kits, err)
	}
	dir := t.TempDir()
	abs, err := filepath.Abs(kits)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "case_00015.nii.gz")); err != nil {
		t.Fatal(err)
	}

	jsonPath := filepath.Join(t.TempDir(), "eval.json")
	if err := run([]string{"eval", "--json", jsonPath, dir, dir}); err != nil {
		t.Fatalf("eval: %v", err)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var report evalReport
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}

	s := report.Summary
	if s.KidneyDiceMean == nil || *s.KidneyDiceMean != 1 {
		t.Errorf("kidney_dice_mean = %v, want 1", s.KidneyDiceMean)
	}
	if s.TumorDiceMean == nil || *s.TumorDiceMean != 1 {
		t.Errorf("tumor_dice_mean = %v, want 1", s.TumorDiceMean)
	}
	// case_00015 has one tumor under 26-connectivity, as scipy.ndimage.label with a
	// 3×3×3 structure also finds.
	if s.TrueTumors != 1 {
		t.Errorf("true_tumors = %d, want 1", s.TrueTumors)
	}
	if s.FoundTumors != s.TrueTumors {
		t.Errorf("found_tumors = %d, want all %d", s.FoundTumors, s.TrueTumors)
	}
	if s.FalsePositives != 0 {
		t.Errorf("false_positives = %d, want 0", s.FalsePositives)
	}
}
