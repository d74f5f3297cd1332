package metrics

import (
	"math"
	"strings"
	"testing"

	"protrude/volume"
)

// testGrid is 10 × 4 × 2 voxels of 1 mm, so one voxel is 0.001 mL.
var testGrid = volume.Grid{Size: [3]int{10, 4, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}

// drawMask returns a mask on testGrid from one picture per slice k. Each picture has
// one line per row j, top line j = 0, and one character per column i: '#' is
// foreground, '.' background.
func drawMask(t *testing.T, slices ...string) *volume.Mask {
	t.Helper()
	m := volume.NewMask(testGrid)
	if len(slices) != testGrid.Size[2] {
		t.Fatalf("drawMask got %d slices, want %d", len(slices), testGrid.Size[2])
	}
	for k, picture := range slices {
		rows := strings.Fields(picture)
		if len(rows) != testGrid.Size[1] {
			t.Fatalf("slice %d has %d rows, want %d", k, len(rows), testGrid.Size[1])
		}
		for j, row := range rows {
			if len(row) != testGrid.Size[0] {
				t.Fatalf("slice %d row %d has %d columns, want %d", k, j, len(row), testGrid.Size[0])
			}
			for i, c := range row {
				if c == '#' {
					m.Labels[m.Offset(i, j, k)] = 1
				}
			}
		}
	}
	return m
}

const emptySlice = `
..........
..........
..........
..........`

// The three cases below are worked out by hand. |X| is a voxel count.
//
// Split tumor: the reference tumor is one run of 8 voxels. The prediction covers it
// with two components of 2 voxels at its ends, so each alone has Dice
// 2·2/(8+2) = 0.4, but their union has 2·4/(8+4) = 0.667 > 0.5: found. A third
// predicted voxel two rows away touches no reference tumor: 1 false positive.
// Kidney: reference 20 voxels, prediction 16 inside it: Dice 2·16/36 = 0.889.
// Tumor: reference 8, prediction 5, overlap 4: Dice 8/13 = 0.615.
func splitTumorCase(t *testing.T) (predicted, reference CaseMasks) {
	reference.Kidney = drawMask(t, `
##########
##########
..........
..........`, emptySlice)
	reference.Tumor = drawMask(t, `
.########.
..........
..........
..........`, emptySlice)
	predicted.Kidney = drawMask(t, `
########..
########..
..........
..........`, emptySlice)
	predicted.Tumor = drawMask(t, `
.##....##.
..........
.........#
..........`, emptySlice)
	return predicted, reference
}

// No tumor: the kidneys match exactly (Dice 1). The reference has no tumor and the
// prediction has one voxel: 1 false positive and tumor Dice 0, which stays out of
// the mean tumor Dice.
func noTumorCase(t *testing.T) (predicted, reference CaseMasks) {
	kidney := `
..........
.#####....
.#####....
..........`
	reference.Kidney = drawMask(t, kidney, emptySlice)
	reference.Tumor = drawMask(t, emptySlice, emptySlice)
	predicted.Kidney = drawMask(t, kidney, emptySlice)
	predicted.Tumor = drawMask(t, `
..........
..........
..........
...#......`, emptySlice)
	return predicted, reference
}

// Diagonal neighbours: the reference tumor voxels (0, 0, 0) and (1, 1, 1) share only
// a corner, so under 26-connectivity they are one tumor of 2 voxels. The prediction
// covers (1, 1, 1): Dice 2·1/(2+1) = 0.667, found. Under 6-connectivity they would be
// two tumors, one of them missed. A second reference tumor of 2 voxels at i = 4 gets
// no prediction: Dice 0, missed. The predicted voxels (6, 0, 0) and (7, 1, 0) share an
// edge, so they form one false positive, not two.
// Kidney: the prediction is empty, Dice 0.
// Tumor: reference 4, prediction 3, overlap 1: Dice 2/7 = 0.286.
func diagonalCase(t *testing.T) (predicted, reference CaseMasks) {
	reference.Kidney = drawMask(t, `
#...#.....
.#..#.....
..........
..........`, `
..........
.#........
..........
..........`)
	reference.Tumor = drawMask(t, `
#...#.....
....#.....
..........
..........`, `
..........
.#........
..........
..........`)
	predicted.Kidney = drawMask(t, emptySlice, emptySlice)
	predicted.Tumor = drawMask(t, `
......#...
.......#..
..........
..........`, `
..........
.#........
..........
..........`)
	return predicted, reference
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEvaluateCase(t *testing.T) {
	type tumor struct {
		voxels, predicted int
		dice              float64
		found             bool
	}
	cases := []struct {
		name            string
		masks           func(*testing.T) (CaseMasks, CaseMasks)
		kidneyDice      float64
		tumorDice       float64
		hasTumor        bool
		tumors          []tumor
		predictedTumors int
		falsePositives  int
	}{
		{"split tumor", splitTumorCase, 32.0 / 36, 8.0 / 13, true,
			[]tumor{{voxels: 8, predicted: 2, dice: 8.0 / 12, found: true}}, 3, 1},
		{"no tumor", noTumorCase, 1, 0, false, nil, 1, 1},
		{"diagonal neighbours", diagonalCase, 0, 2.0 / 7, true,
			[]tumor{
				{voxels: 2, predicted: 1, dice: 2.0 / 3, found: true},
				{voxels: 2, predicted: 0, dice: 0, found: false},
			}, 2, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			predicted, reference := tc.masks(t)
			got, err := EvaluateCase(tc.name, predicted, reference)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.KidneyDice, tc.kidneyDice) {
				t.Errorf("KidneyDice = %.6f, want %.6f", got.KidneyDice, tc.kidneyDice)
			}
			if !near(got.TumorDice, tc.tumorDice) {
				t.Errorf("TumorDice = %.6f, want %.6f", got.TumorDice, tc.tumorDice)
			}
			if got.HasTumor != tc.hasTumor {
				t.Errorf("HasTumor = %v, want %v", got.HasTumor, tc.hasTumor)
			}
			if got.PredictedTumors != tc.predictedTumors {
				t.Errorf("PredictedTumors = %d, want %d", got.PredictedTumors, tc.predictedTumors)
			}
			if got.FalsePositives != tc.falsePositives {
				t.Errorf("FalsePositives = %d, want %d", got.FalsePositives, tc.falsePositives)
			}
			if len(got.Tumors) != len(tc.tumors) {
				t.Fatalf("got %d reference tumors, want %d", len(got.Tumors), len(tc.tumors))
			}
			for n, want := range tc.tumors {
				g := got.Tumors[n]
				if g.VoxelCount != want.voxels {
					t.Errorf("tumor %d: VoxelCount = %d, want %d", n, g.VoxelCount, want.voxels)
				}
				if !near(g.VolumeML, float64(want.voxels)/1000) {
					t.Errorf("tumor %d: VolumeML = %g, want %g", n, g.VolumeML, float64(want.voxels)/1000)
				}
				if g.PredictedComponents != want.predicted {
					t.Errorf("tumor %d: PredictedComponents = %d, want %d", n, g.PredictedComponents, want.predicted)
				}
				if !near(g.Dice, want.dice) {
					t.Errorf("tumor %d: Dice = %.6f, want %.6f", n, g.Dice, want.dice)
				}
				if g.Found != want.found {
					t.Errorf("tumor %d: Found = %v, want %v", n, g.Found, want.found)
				}
			}
		})
	}
}

func TestSummarizeHandComputedCases(t *testing.T) {
	var results []CaseResult
	for _, masks := range []func(*testing.T) (CaseMasks, CaseMasks){splitTumorCase, noTumorCase, diagonalCase} {
		predicted, reference := masks(t)
		r, err := EvaluateCase("case", predicted, reference)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	s := Summarize(results)

	// Kidney Dice over 3 cases: (8/9 + 1 + 0) / 3. Tumor Dice over the 2 cases with a
	// tumor: (8/13 + 2/7) / 2. Reference tumors: 1 + 0 + 2, of which 1 + 0 + 1 found.
	// False positives: 1 in each case, 3 in 3 cases.
	if s.Cases != 3 {
		t.Errorf("Cases = %d, want 3", s.Cases)
	}
	if want := (32.0/36 + 1 + 0) / 3; !near(s.KidneyDiceMean, want) {
		t.Errorf("KidneyDiceMean = %.6f, want %.6f", s.KidneyDiceMean, want)
	}
	if s.TumorCases != 2 {
		t.Errorf("TumorCases = %d, want 2", s.TumorCases)
	}
	if want := (8.0/13 + 2.0/7) / 2; !near(s.TumorDiceMean, want) {
		t.Errorf("TumorDiceMean = %.6f, want %.6f", s.TumorDiceMean, want)
	}
	if s.ReferenceTumors != 3 {
		t.Errorf("ReferenceTumors = %d, want 3", s.ReferenceTumors)
	}
	if s.FoundTumors != 2 {
		t.Errorf("FoundTumors = %d, want 2", s.FoundTumors)
	}
	if !near(s.PerTumorSensitivity, 2.0/3) {
		t.Errorf("PerTumorSensitivity = %.6f, want %.6f", s.PerTumorSensitivity, 2.0/3)
	}
	if s.FalsePositives != 3 {
		t.Errorf("FalsePositives = %d, want 3", s.FalsePositives)
	}
	if !near(s.FalsePositivesPerImage, 1) {
		t.Errorf("FalsePositivesPerImage = %.6f, want 1", s.FalsePositivesPerImage)
	}
}

func TestSummarizeWithoutTumors(t *testing.T) {
	s := Summarize([]CaseResult{{KidneyDice: 0.5, FalsePositives: 2}, {KidneyDice: 1}})
	if !math.IsNaN(s.TumorDiceMean) {
		t.Errorf("TumorDiceMean = %g, want NaN when no case has a tumor", s.TumorDiceMean)
	}
	if !math.IsNaN(s.PerTumorSensitivity) {
		t.Errorf("PerTumorSensitivity = %g, want NaN when there is no reference tumor", s.PerTumorSensitivity)
	}
	if !near(s.KidneyDiceMean, 0.75) {
		t.Errorf("KidneyDiceMean = %g, want 0.75", s.KidneyDiceMean)
	}
	if !near(s.FalsePositivesPerImage, 1) {
		t.Errorf("FalsePositivesPerImage = %g, want 1", s.FalsePositivesPerImage)
	}
}

// A tumor whose Dice is exactly 0.5 is not found, because the threshold is strict:
// reference 2 voxels, prediction 2 voxels, overlap 1, Dice 2·1/(2+2) = 0.5.
func TestTumorAtDiceHalfIsMissed(t *testing.T) {
	reference := CaseMasks{Kidney: drawMask(t, emptySlice, emptySlice), Tumor: drawMask(t, `
.##.......
..........
..........
..........`, emptySlice)}
	predicted := CaseMasks{Kidney: drawMask(t, emptySlice, emptySlice), Tumor: drawMask(t, `
..##......
..........
..........
..........`, emptySlice)}
	r, err := EvaluateCase("half", predicted, reference)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tumors) != 1 {
		t.Fatalf("got %d reference tumors, want 1", len(r.Tumors))
	}
	if !near(r.Tumors[0].Dice, 0.5) {
		t.Errorf("Dice = %g, want 0.5", r.Tumors[0].Dice)
	}
	if r.Tumors[0].Found {
		t.Error("a tumor at Dice 0.5 counts as found, want missed")
	}
	if r.FalsePositives != 0 {
		t.Errorf("FalsePositives = %d, want 0", r.FalsePositives)
	}
}

func TestDiceOfEmptyMasksIsOne(t *testing.T) {
	d, err := Dice(drawMask(t, emptySlice, emptySlice), drawMask(t, emptySlice, emptySlice))
	if err != nil {
		t.Fatal(err)
	}
	if d != 1 {
		t.Errorf("Dice = %g, want 1", d)
	}
}

func TestCheckSameGrid(t *testing.T) {
	shifted := testGrid
	shifted.OriginLPS[2] += 2e-3
	jitter := testGrid
	jitter.OriginLPS[0] += 5e-4
	jitter.SpacingMM[1] += 5e-4
	resized := testGrid
	resized.Size[0]++
	flipped := testGrid
	flipped.AxesLPS[0] = volume.Vec3{-1, 0, 0}

	cases := []struct {
		name    string
		grid    volume.Grid
		wantErr string
	}{
		{"same grid", testGrid, ""},
		{"jitter below 1e-3 mm", jitter, ""},
		{"origin 2e-3 mm away", shifted, "differ by up to 0.002 mm"},
		{"other size", resized, "[11 4 2]"},
		{"flipped axis", flipped, "differ by up to 2 mm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSameGrid(testGrid, tc.grid)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("CheckSameGrid: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("CheckSameGrid error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestEvaluateCaseRejectsGridMismatch(t *testing.T) {
	predicted, reference := splitTumorCase(t)
	predicted.Tumor.OriginLPS[1] += 1
	_, err := EvaluateCase("moved", predicted, reference)
	if err == nil || !strings.Contains(err.Error(), "predicted tumor") {
		t.Errorf("error = %v, want one naming the predicted tumor mask", err)
	}
}
