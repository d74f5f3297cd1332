package inference

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"protrude/internal/demotest"
	"protrude/volume"
)

// rerunPhantom is the CT of TestPipelineIdentityGridKnownAnswer: a 1 mm grid with
// identity axes, so the canonical grid is the input grid and every resampling copies
// voxels exactly.
func rerunPhantom() *volume.Volume {
	g := volume.Grid{Size: [3]int{64, 56, 48}, SpacingMM: volume.Vec3{1, 1, 1}, OriginLPS: volume.Vec3{-31.5, -20, 100.25}, AxesLPS: volume.IdentityAxesLPS}
	return phantom(g, -1000, []indexBlock{
		{min: [3]int{10, 12, 2}, max: [3]int{34, 30, 20}, hu: 100},
		{min: [3]int{14, 16, 6}, max: [3]int{20, 22, 12}, hu: 200},
		{min: [3]int{22, 24, 12}, max: [3]int{26, 28, 16}, hu: 125},
		{min: [3]int{28, 14, 10}, max: [3]int{32, 20, 16}, hu: 70},
		{min: [3]int{22, 14, 4}, max: [3]int{25, 18, 8}, hu: -50},
		{min: [3]int{48, 40, 34}, max: [3]int{60, 52, 44}, hu: 55},
	})
}

// cloneMask returns a deep copy of m.
func cloneMask(m *volume.Mask) *volume.Mask {
	return &volume.Mask{Grid: m.Grid, Labels: slices.Clone(m.Labels)}
}

// setBlock sets the labels of m inside b to label.
func setBlock(m *volume.Mask, b Box, label uint8) {
	for k := b.Min[2]; k < b.Max[2]; k++ {
		for j := b.Min[1]; j < b.Max[1]; j++ {
			for i := b.Min[0]; i < b.Max[0]; i++ {
				m.Labels[m.Offset(i, j, k)] = label
			}
		}
	}
}

// stagesOf returns the stages of reports in order, each once per run of reports, and
// the number of patch reports per network stage.
func stagesOf(reports []Progress) ([]Stage, map[Stage]int) {
	var stages []Stage
	patches := map[Stage]int{}
	for _, r := range reports {
		if len(stages) == 0 || stages[len(stages)-1] != r.Stage {
			stages = append(stages, r.Stage)
		}
		if r.Done > 0 && r.Stage != StageResample && r.Stage != StageResampleBack {
			patches[r.Stage]++
		}
	}
	return stages, patches
}

// checkRerunProgress checks the stages of a re-run, one report per patch, and a
// fraction that never decreases and ends at 1.
func checkRerunProgress(t *testing.T, reports []Progress, wantStages []Stage, patches PatchCounts) {
	t.Helper()
	stages, perPatch := stagesOf(reports)
	if !slices.Equal(stages, wantStages) {
		t.Errorf("stages = %q, want %q", stages, wantStages)
	}
	want := map[Stage]int{StageBase: patches.Base, StageProtuberance: patches.Protuberance, StageFusion: patches.Fusion}
	for stage, n := range want {
		if perPatch[stage] != n {
			t.Errorf("%s: %d patch reports, want %d", stage, perPatch[stage], n)
		}
	}
	checkFractions(t, reports)
}

// checkProbability compares every voxel of v with want, within 1e-6, and exactly where
// exact is true.
func checkProbability(t *testing.T, name string, v *volume.Volume, want func(i, j, k int) (value float64, exact bool)) {
	t.Helper()
	shown := 0
	for k := 0; k < v.Size[2]; k++ {
		for j := 0; j < v.Size[1]; j++ {
			for i := 0; i < v.Size[0]; i++ {
				w, exact := want(i, j, k)
				got := float64(v.At(i, j, k))
				bad := math.Abs(got-w) > 1e-6
				if exact {
					bad = got != w
				}
				if bad && shown < 5 {
					t.Errorf("%s probability at (%d, %d, %d): got %g, want %g", name, i, j, k, got, w)
					shown++
				}
			}
		}
	}
}

// normalizedHU returns the chain bundle's normalised CT value x for hu.
func normalizedHU(hu float32) float64 {
	return (min(max(float64(hu), -90), 210) - 60) / 150
}

// An erased part of the kidney mask becomes kidney probability 0, the kidney box
// shrinks to what is left, and the protuberance and fusion networks run there again
// while the base network does not.
func TestRerunKidneyEditKnownAnswer(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	ct := rerunPhantom()
	prev, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	prevKidney := slices.Clone(prev.KidneyProbability.Voxels)
	prevProtrusion := slices.Clone(prev.ProtrusionProbability.Voxels)

	// Erase the kidney left of i = 22: the 100 HU block there and the 200 HU block
	// inside it.
	erased := Box{Min: [3]int{10, 12, 2}, Max: [3]int{22, 30, 20}}
	after := cloneMask(prev.Kidney)
	setBlock(after, erased, 0)

	var reports []Progress
	res, err := p.Rerun(context.Background(), prev, RerunInput{Kidney: &MaskEdit{Before: prev.Kidney, After: after}},
		func(pr Progress) { reports = append(reports, pr) })
	if err != nil {
		t.Fatalf("Rerun: %v", err)
	}

	// The kidney left spans i 22..33, j 12..29, k 2..19; the 6 mm margin makes the box.
	wantBox := Box{Min: [3]int{16, 6, 0}, Max: [3]int{40, 36, 26}}
	if res.KidneyBox != wantBox {
		t.Errorf("KidneyBox = %+v, want %+v", res.KidneyBox, wantBox)
	}
	// The box is 26×30×24 (D×H×W), one 32³ patch.
	if want := (PatchCounts{Protuberance: 1, Fusion: 1}); res.Patches != want {
		t.Errorf("Patches = %+v, want %+v", res.Patches, want)
	}
	if res.Durations.Base != 0 {
		t.Errorf("Durations.Base = %v, want 0 because the base network must not run", res.Durations.Base)
	}
	checkRerunProgress(t, reports, []Stage{StageResample, StageProtuberance, StageFusion, StageResampleBack}, res.Patches)

	kidney := func(i, j, k int) float64 {
		if erased.contains(i, j, k) {
			return 0
		}
		return (normalizedHU(ct.At(i, j, k)) + 1) / 2
	}
	checkProbability(t, "kidney", res.KidneyProbability, func(i, j, k int) (float64, bool) {
		// The resampling is an exact copy, so the unedited voxels keep the network's
		// value bit for bit.
		if erased.contains(i, j, k) {
			return 0, true
		}
		return float64(prevKidney[ct.Offset(i, j, k)]), true
	})
	checkProbability(t, "protrusion", res.ProtrusionProbability, func(i, j, k int) (float64, bool) {
		if !wantBox.contains(i, j, k) {
			return 0, true
		}
		return 1 - kidney(i, j, k), false
	})
	checkProbability(t, "tumor", res.TumorProbability, func(i, j, k int) (float64, bool) {
		if !wantBox.contains(i, j, k) {
			return 0, true
		}
		x := normalizedHU(ct.At(i, j, k))
		return min(max(min(max(x, 0), 1)+1-kidney(i, j, k), 0), 1) * (x + 1) / 2, false
	})

	// The re-run reads prev's volumes but does not change them.
	if !slices.Equal(prev.KidneyProbability.Voxels, prevKidney) {
		t.Error("Rerun changed the previous result's kidney probability")
	}
	if !slices.Equal(prev.ProtrusionProbability.Voxels, prevProtrusion) {
		t.Error("Rerun changed the previous result's protrusion probability")
	}
	if res.Tumor == nil || res.Tumor.Grid != ct.Grid || res.Protrusion == nil || res.Protrusion.Grid != ct.Grid {
		t.Error("the re-run's masks are missing or not on the CT grid")
	}
}

// A protrusion drawn outside the kidney box makes only the fusion network run, in the
// kidney box grown to cover the drawing, and the drawing counts as protrusion 1.
func TestRerunProtrusionEditKnownAnswer(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	ct := rerunPhantom()
	prev, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	drawn := Box{Min: [3]int{48, 40, 34}, Max: [3]int{60, 52, 44}}
	after := cloneMask(prev.Protrusion)
	setBlock(after, drawn, 1)

	var reports []Progress
	res, err := p.Rerun(context.Background(), prev, RerunInput{Protrusion: &MaskEdit{Before: prev.Protrusion, After: after}},
		func(pr Progress) { reports = append(reports, pr) })
	if err != nil {
		t.Fatalf("Rerun: %v", err)
	}

	// The kidney box of the first run, {4, 6, 0}–{40, 36, 26}, joined with the drawing
	// grown by 6 mm and clamped, {42, 34, 28}–{64, 56, 48}.
	wantBox := Box{Min: [3]int{4, 6, 0}, Max: [3]int{64, 56, 48}}
	if res.KidneyBox != wantBox {
		t.Errorf("KidneyBox = %+v, want %+v", res.KidneyBox, wantBox)
	}
	// The box is 48×50×60 (D×H×W). Patch starts: D 0, 16; H 0, 18; W 0, 24, 28.
	if want := (PatchCounts{Fusion: 12}); res.Patches != want {
		t.Errorf("Patches = %+v, want %+v", res.Patches, want)
	}
	checkRerunProgress(t, reports, []Stage{StageResample, StageFusion, StageResampleBack}, res.Patches)

	// The first run's protrusion, 1 - kidney inside its box, with the drawing at 1.
	protrusion := func(i, j, k int) float64 {
		if drawn.contains(i, j, k) {
			return 1
		}
		return float64(prev.ProtrusionProbability.At(i, j, k))
	}
	checkProbability(t, "protrusion", res.ProtrusionProbability, func(i, j, k int) (float64, bool) {
		return protrusion(i, j, k), true
	})
	checkProbability(t, "tumor", res.TumorProbability, func(i, j, k int) (float64, bool) {
		if !wantBox.contains(i, j, k) {
			return 0, true
		}
		x := normalizedHU(ct.At(i, j, k))
		return min(max(min(max(x, 0), 1)+protrusion(i, j, k), 0), 1) * (x + 1) / 2, false
	})
	// At 55 HU the fusion output in the drawing is 1 × (x + 1) / 2 = 0.483, and 0
	// before, because the first run's fusion did not reach it.
	if before, got := prev.TumorProbability.At(50, 42, 36), res.TumorProbability.At(50, 42, 36); before != 0 || got < 0.48 {
		t.Errorf("tumor probability in the drawn protrusion: %g before, %g after, want 0 and about 0.483", before, got)
	}
	if countLabels(res.Protrusion) <= countLabels(prev.Protrusion) {
		t.Errorf("protrusion voxels: %d after the re-run, %d before, want more", countLabels(res.Protrusion), countLabels(prev.Protrusion))
	}
}

func TestRerunRejectsInvalidInput(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	ct := rerunPhantom()
	prev, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	otherGrid := ct.Grid
	otherGrid.Size = [3]int{8, 8, 8}
	other := volume.NewMask(otherGrid)

	cases := []struct {
		name  string
		prev  *Result
		input RerunInput
		want  string
	}{
		{"no edit", prev, RerunInput{}, "neither the kidney nor the protrusion"},
		{"no previous result", nil, RerunInput{Kidney: &MaskEdit{Before: prev.Kidney, After: prev.Kidney}}, "no previous result"},
		{"result without cache", &Result{InputGrid: ct.Grid, Grid: prev.Grid}, RerunInput{Kidney: &MaskEdit{Before: prev.Kidney, After: prev.Kidney}}, "has no Image"},
		{"mask on another grid", prev, RerunInput{Kidney: &MaskEdit{Before: other, After: other}}, "size [8 8 8]"},
		{"missing before mask", prev, RerunInput{Protrusion: &MaskEdit{After: prev.Protrusion}}, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Rerun(context.Background(), c.prev, c.input, nil)
			if err == nil {
				t.Fatal("Rerun returned no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := p.Rerun(context.Background(), prev, RerunInput{}, nil); !errors.Is(err, ErrNothingToRerun) {
		t.Errorf("error = %v, want ErrNothingToRerun", err)
	}
}

func TestRerunCancel(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	prev, err := p.Run(context.Background(), rerunPhantom(), nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	after := cloneMask(prev.Kidney)
	setBlock(after, Box{Min: [3]int{10, 12, 2}, Max: [3]int{12, 14, 4}}, 0)
	_, err = p.Rerun(ctx, prev, RerunInput{Kidney: &MaskEdit{Before: prev.Kidney, After: after}}, func(pr Progress) {
		if pr.Stage == StageProtuberance {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

// On an anisotropic input grid the edit reaches the canonical grid through trilinear
// weights: a canonical voxel centre between an edited and an unedited input voxel gets
// a blend, and one with no edited neighbour keeps the probability exactly.
func TestBlendEditAnisotropic(t *testing.T) {
	input := volume.Grid{Size: [3]int{6, 6, 4}, SpacingMM: volume.Vec3{1, 1, 2}, OriginLPS: volume.Vec3{0, 0, 0}, AxesLPS: volume.IdentityAxesLPS}
	canonical := volume.IsotropicGridLPS(input, 1)
	probability := volume.NewVolume(canonical)
	fill(probability.Voxels, 0.25)

	before := volume.NewMask(input)
	after := cloneMask(before)
	after.Labels[after.Offset(2, 2, 1)] = 1 // at z = 2 mm

	out, err := BlendEdit(probability, MaskEdit{Before: before, After: after})
	if err != nil {
		t.Fatalf("BlendEdit: %v", err)
	}
	if probability.Voxels[0] != 0.25 {
		t.Fatal("BlendEdit changed its input")
	}
	cases := []struct {
		name string
		zMM  float64
		i, j int
		want float32
	}{
		{"on the edited voxel", 2, 2, 2, 1},
		{"half way to the next slice", 3, 2, 2, 0.5*0.25 + 0.5*0.5},
		{"next slice", 4, 2, 2, 0.25},
		{"next column", 2, 3, 2, 0.25},
		{"far away", 6, 5, 5, 0.25},
	}
	for _, c := range cases {
		idx := canonical.LPSToIndex(volume.Vec3{float64(c.i), float64(c.j), c.zMM})
		i, j, k := int(math.Round(idx[0])), int(math.Round(idx[1])), int(math.Round(idx[2]))
		if got := out.At(i, j, k); math.Abs(float64(got-c.want)) > 1e-6 {
			t.Errorf("%s: voxel (%d, %d, %d) = %g, want %g", c.name, i, j, k, got, c.want)
		}
	}

	unchanged, err := BlendEdit(probability, MaskEdit{Before: after, After: after})
	if err != nil {
		t.Fatalf("BlendEdit without change: %v", err)
	}
	if !slices.Equal(unchanged.Voxels, probability.Voxels) {
		t.Error("BlendEdit without a changed voxel changed the probability")
	}
}

// maxAbsDifference returns the largest |a - b| over the voxels, and how many differ.
func maxAbsDifference(a, b []float32) (float64, int) {
	worst, differ := 0.0, 0
	for n := range a {
		if d := math.Abs(float64(a[n] - b[n])); d > 0 {
			worst = max(worst, d)
			differ++
		}
	}
	return worst, differ
}

// The shipped networks on the demo phantom: a re-run after a kidney edit runs the
// protuberance and fusion networks on a changed input, and one after a protrusion edit
// runs fusion alone. Neither runs the base network. A re-run with an unchanged mask
// reproduces the first run's outputs, so the cached volumes are the ones Run used.
func TestRerunShippedBundleDemo(t *testing.T) {
	p := newBundlePipeline(t, "../assets/models", DeviceCPU)
	ct := demotest.TumorCube(t)
	var reports []Progress
	prev, err := p.Run(context.Background(), ct, func(pr Progress) { reports = append(reports, pr) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("run on %v voxels: %+v, patches %+v", ct.Size, prev.Durations, prev.Patches)
	if prev.KidneyBox.Empty() || countLabels(prev.Kidney) == 0 {
		t.Fatalf("the shipped base network found no kidney on the demo crop, so nothing can be re-run")
	}
	stages, _ := stagesOf(reports)
	if !slices.Contains(stages, StageBase) {
		t.Fatalf("the full run reported stages %q, without %q", stages, StageBase)
	}
	prevKidney := slices.Clone(prev.KidneyProbability.Voxels)

	t.Run("unchanged kidney", func(t *testing.T) {
		same := cloneMask(prev.Kidney)
		res, err := p.Rerun(context.Background(), prev, RerunInput{Kidney: &MaskEdit{Before: prev.Kidney, After: same}}, nil)
		if err != nil {
			t.Fatalf("Rerun: %v", err)
		}
		if res.KidneyBox != prev.KidneyBox {
			t.Errorf("KidneyBox = %+v, want the first run's %+v", res.KidneyBox, prev.KidneyBox)
		}
		for _, c := range []struct {
			name      string
			got, want *volume.Volume
		}{
			{"kidney", res.KidneyProbability, prev.KidneyProbability},
			{"protrusion", res.ProtrusionProbability, prev.ProtrusionProbability},
			{"tumor", res.TumorProbability, prev.TumorProbability},
		} {
			if worst, differ := maxAbsDifference(c.got.Voxels, c.want.Voxels); worst > 1e-6 {
				t.Errorf("%s probability: %d voxels differ from the first run, by up to %g", c.name, differ, worst)
			}
		}
	})

	t.Run("kidney edit", func(t *testing.T) {
		// Erase the kidney mask on the patient's right half of the crop.
		after := cloneMask(prev.Kidney)
		setBlock(after, Box{Max: [3]int{ct.Size[0] / 2, ct.Size[1], ct.Size[2]}}, 0)
		if countLabels(after) == countLabels(prev.Kidney) {
			t.Fatal("the edit erased no kidney voxel")
		}

		var reports []Progress
		res, err := p.Rerun(context.Background(), prev, RerunInput{Kidney: &MaskEdit{Before: prev.Kidney, After: after}},
			func(pr Progress) { reports = append(reports, pr) })
		if err != nil {
			t.Fatalf("Rerun: %v", err)
		}
		t.Logf("re-run after a kidney edit: %+v, patches %+v", res.Durations, res.Patches)
		if res.Patches.Base != 0 || res.Durations.Base != 0 || res.Patches.Protuberance == 0 || res.Patches.Fusion == 0 {
			t.Errorf("Patches = %+v, Durations.Base = %v, want no base patches and some protuberance and fusion patches",
				res.Patches, res.Durations.Base)
		}
		checkRerunProgress(t, reports, []Stage{StageResample, StageProtuberance, StageFusion, StageResampleBack}, res.Patches)

		// The protuberance network's input changed, and so did its output.
		if _, differ := maxAbsDifference(res.KidneyProbability.Voxels, prev.KidneyProbability.Voxels); differ == 0 {
			t.Error("the kidney probability fed to the protuberance network did not change")
		}
		if _, differ := maxAbsDifference(res.ProtrusionProbability.Voxels, prev.ProtrusionProbability.Voxels); differ == 0 {
			t.Error("the protrusion probability did not change")
		}
		if !slices.Equal(prev.KidneyProbability.Voxels, prevKidney) {
			t.Error("Rerun changed the first run's kidney probability")
		}
		// The erased half gets kidney probability 0 wherever it was labelled kidney.
		for n, l := range prev.Kidney.Labels {
			i := n % ct.Size[0]
			if l != 0 && i < ct.Size[0]/2-1 && res.Kidney.Labels[n] != 0 {
				t.Errorf("voxel %d was erased from the kidney but the re-run's kidney mask still has it", n)
				break
			}
		}
	})

	t.Run("protrusion edit", func(t *testing.T) {
		// Draw a 12 mm cube of protrusion at the centre of the kidney box.
		after := cloneMask(prev.Protrusion)
		centre := prev.Grid.IndexToLPS(volume.Vec3{
			float64(prev.KidneyBox.Min[0]+prev.KidneyBox.Max[0]) / 2,
			float64(prev.KidneyBox.Min[1]+prev.KidneyBox.Max[1]) / 2,
			float64(prev.KidneyBox.Min[2]+prev.KidneyBox.Max[2]) / 2})
		c := ct.LPSToIndex(centre)
		var cube Box
		for a := 0; a < 3; a++ {
			half := int(math.Ceil(6 / ct.SpacingMM[a]))
			cube.Min[a] = max(int(math.Round(c[a]))-half, 0)
			cube.Max[a] = min(int(math.Round(c[a]))+half, ct.Size[a])
		}
		setBlock(after, cube, 1)

		var reports []Progress
		res, err := p.Rerun(context.Background(), prev, RerunInput{Protrusion: &MaskEdit{Before: prev.Protrusion, After: after}},
			func(pr Progress) { reports = append(reports, pr) })
		if err != nil {
			t.Fatalf("Rerun: %v", err)
		}
		t.Logf("re-run after a protrusion edit: %+v, patches %+v", res.Durations, res.Patches)
		if res.Patches.Base != 0 || res.Patches.Protuberance != 0 || res.Patches.Fusion == 0 {
			t.Errorf("Patches = %+v, want fusion patches only", res.Patches)
		}
		checkRerunProgress(t, reports, []Stage{StageResample, StageFusion, StageResampleBack}, res.Patches)
		if _, differ := maxAbsDifference(res.KidneyProbability.Voxels, prev.KidneyProbability.Voxels); differ != 0 {
			t.Errorf("the kidney probability changed in %d voxels, want none", differ)
		}
		if _, differ := maxAbsDifference(res.TumorProbability.Voxels, prev.TumorProbability.Voxels); differ == 0 {
			t.Error("the fusion output did not change after the protrusion edit")
		}
	})
}
