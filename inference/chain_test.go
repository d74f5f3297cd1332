package inference

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"protrude/volume"
)

// The chain tests run the weightless networks of testdata/chain, whose outputs are
// element-wise functions of their inputs (see testdata/README.md). With x the
// normalised CT value, the chain must produce, per voxel:
//
//	kidney     = (x + 1) / 2
//	base tumor = clip(x, 0, 1)
//	protrusion = 1 - kidney inside the kidney box, else 0
//	tumor      = clip(base tumor + protrusion, 0, 1) * kidney inside the box, else 0

// chainExpectation is the expected probability of each output for one voxel.
type chainExpectation struct {
	kidney, baseTumor, protrusion, tumor float64
}

// expectChain computes the expected probabilities for a voxel of hu Hounsfield units,
// with the manifest's HU window [-90, 210].
func expectChain(hu float64, inBox bool) chainExpectation {
	x := (min(max(hu, -90), 210) - 60) / 150
	e := chainExpectation{kidney: (x + 1) / 2, baseTumor: min(max(x, 0), 1)}
	if inBox {
		e.protrusion = 1 - e.kidney
		e.tumor = min(max(e.baseTumor+e.protrusion, 0), 1) * e.kidney
	}
	return e
}

// label returns the mask label for probability p at threshold 0.5.
func label(p float64) uint8 {
	if p >= 0.5 {
		return 1
	}
	return 0
}

// indexBlock is a box of voxel indices [min, max) with one CT value.
type indexBlock struct {
	min, max [3]int
	hu       float32
}

// phantom returns a CT volume on g filled with background HU and then with each block
// in order, so later blocks overwrite earlier ones.
func phantom(g volume.Grid, background float32, blocks []indexBlock) *volume.Volume {
	ct := volume.NewVolume(g)
	fill(ct.Voxels, background)
	for _, b := range blocks {
		for k := b.min[2]; k < b.max[2]; k++ {
			for j := b.min[1]; j < b.max[1]; j++ {
				for i := b.min[0]; i < b.max[0]; i++ {
					ct.Voxels[ct.Offset(i, j, k)] = b.hu
				}
			}
		}
	}
	return ct
}

func (b Box) contains(i, j, k int) bool {
	return i >= b.Min[0] && i < b.Max[0] && j >= b.Min[1] && j < b.Max[1] && k >= b.Min[2] && k < b.Max[2]
}

func newChainPipeline(t *testing.T, device Device) *Pipeline {
	t.Helper()
	return newBundlePipeline(t, chainBundleDir, device)
}

// newBundlePipeline loads the bundle in dir and opens a pipeline on device, closed at
// the end of the test.
func newBundlePipeline(t *testing.T, dir string, device Device) *Pipeline {
	t.Helper()
	requireRuntime(t)
	b, err := LoadBundleDir(dir)
	if err != nil {
		t.Fatalf("LoadBundleDir: %v", err)
	}
	p, err := NewPipeline(b, device)
	if err != nil {
		t.Fatalf("NewPipeline(%s): %v", device, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// checkMasks compares every voxel of the four masks with expect at that voxel of the
// input grid.
func checkMasks(t *testing.T, res *Result, ct *volume.Volume, expect func(i, j, k int) chainExpectation) {
	t.Helper()
	masks := []struct {
		name string
		mask *volume.Mask
		want func(chainExpectation) float64
	}{
		{"kidney", res.Kidney, func(e chainExpectation) float64 { return e.kidney }},
		{"protrusion", res.Protrusion, func(e chainExpectation) float64 { return e.protrusion }},
		{"tumor", res.Tumor, func(e chainExpectation) float64 { return e.tumor }},
		{"base tumor", res.BaseTumor, func(e chainExpectation) float64 { return e.baseTumor }},
	}
	for _, m := range masks {
		if m.mask == nil || m.mask.Grid != ct.Grid {
			t.Fatalf("%s mask is not on the input grid", m.name)
		}
		errorsShown := 0
		for k := 0; k < ct.Size[2]; k++ {
			for j := 0; j < ct.Size[1]; j++ {
				for i := 0; i < ct.Size[0]; i++ {
					want := label(m.want(expect(i, j, k)))
					if got := m.mask.At(i, j, k); got != want && errorsShown < 5 {
						t.Errorf("%s mask at (%d, %d, %d), %g HU: got %d, want %d", m.name, i, j, k, ct.At(i, j, k), got, want)
						errorsShown++
					}
				}
			}
		}
	}
}

// countLabels returns the number of voxels with a non-zero label.
func countLabels(m *volume.Mask) int {
	n := 0
	for _, l := range m.Labels {
		if l != 0 {
			n++
		}
	}
	return n
}

// The CT is on a 1 mm grid with identity axes, so the canonical grid is the input grid
// and both resampling steps copy voxels unchanged. The result is then known exactly.
func TestPipelineIdentityGridKnownAnswer(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{64, 56, 48}, SpacingMM: volume.Vec3{1, 1, 1}, OriginLPS: volume.Vec3{-31.5, -20, 100.25}, AxesLPS: volume.IdentityAxesLPS}
	ct := phantom(g, -1000, []indexBlock{
		{min: [3]int{10, 12, 2}, max: [3]int{34, 30, 20}, hu: 100},  // kidney: kidney 0.63, tumor 0.40
		{min: [3]int{14, 16, 6}, max: [3]int{20, 22, 12}, hu: 200},  // tumor for both networks
		{min: [3]int{22, 24, 12}, max: [3]int{26, 28, 16}, hu: 125}, // tumor for fusion only: 0.51 against 0.43
		{min: [3]int{28, 14, 10}, max: [3]int{32, 20, 16}, hu: 70},  // kidney 0.53
		{min: [3]int{22, 14, 4}, max: [3]int{25, 18, 8}, hu: -50},   // not kidney, protrusion 0.87
		{min: [3]int{48, 40, 34}, max: [3]int{60, 52, 44}, hu: 55},  // outside the box: protrusion would be 0.52
	})

	var reports []Progress
	res, err := p.Run(context.Background(), ct, func(pr Progress) { reports = append(reports, pr) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	// The kidney voxels (HU >= 60) span i 10..33, j 12..29, k 2..19. The 6 mm margin
	// grows that to i 4..39, j 6..35 and k -4..25, clamped to 0.
	wantBox := Box{Min: [3]int{4, 6, 0}, Max: [3]int{40, 36, 26}}
	if res.KidneyBox != wantBox {
		t.Errorf("KidneyBox = %+v, want %+v", res.KidneyBox, wantBox)
	}
	if res.Grid != g {
		t.Errorf("canonical grid = %+v, want the input grid %+v", res.Grid, g)
	}
	// Base: D 48 → starts 0, 16. H 56 → 0, 24. W 64 → 0, 24, 32. The box is 26×30×36
	// (D×H×W), so only W needs two patches.
	if want := (PatchCounts{Base: 12, Protuberance: 2, Fusion: 2}); res.Patches != want {
		t.Errorf("Patches = %+v, want %+v", res.Patches, want)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", res.Warnings)
	}
	if res.Device.Used != DeviceCPU || res.Device.FallbackReason != "" {
		t.Errorf("Device = %+v, want cpu without fallback", res.Device)
	}

	checkMasks(t, res, ct, func(i, j, k int) chainExpectation {
		return expectChain(float64(ct.At(i, j, k)), wantBox.contains(i, j, k))
	})

	// The probabilities match the formulas, and the protuberance and fusion outputs
	// are exactly 0 outside the box.
	probabilities := []struct {
		name string
		v    *volume.Volume
		want func(chainExpectation) float64
	}{
		{"kidney", res.KidneyProbability, func(e chainExpectation) float64 { return e.kidney }},
		{"base tumor", res.BaseTumorProbability, func(e chainExpectation) float64 { return e.baseTumor }},
		{"protrusion", res.ProtrusionProbability, func(e chainExpectation) float64 { return e.protrusion }},
		{"tumor", res.TumorProbability, func(e chainExpectation) float64 { return e.tumor }},
	}
	for _, pr := range probabilities {
		if pr.v.Grid != res.Grid {
			t.Fatalf("%s probability is not on the canonical grid", pr.name)
		}
		errorsShown := 0
		for k := 0; k < g.Size[2]; k++ {
			for j := 0; j < g.Size[1]; j++ {
				for i := 0; i < g.Size[0]; i++ {
					inBox := wantBox.contains(i, j, k)
					want := pr.want(expectChain(float64(ct.At(i, j, k)), inBox))
					got := float64(pr.v.At(i, j, k))
					bad := math.Abs(got-want) > 1e-6
					if !inBox && (pr.name == "protrusion" || pr.name == "tumor") {
						bad = got != 0
					}
					if bad && errorsShown < 5 {
						t.Errorf("%s probability at (%d, %d, %d): got %g, want %g", pr.name, i, j, k, got, want)
						errorsShown++
					}
				}
			}
		}
	}

	// Every kind of voxel occurs, so the comparisons above are not vacuous.
	if countLabels(res.Tumor) <= countLabels(res.BaseTumor) || countLabels(res.BaseTumor) == 0 {
		t.Errorf("tumor voxels: fusion %d, base %d; want base > 0 and fusion > base from the 125 HU block",
			countLabels(res.Tumor), countLabels(res.BaseTumor))
	}
	if countLabels(res.Protrusion) == 0 || countLabels(res.Kidney) == 0 {
		t.Errorf("protrusion voxels %d, kidney voxels %d, want both > 0", countLabels(res.Protrusion), countLabels(res.Kidney))
	}

	checkProgress(t, reports, res.Patches)
}

// checkProgress checks the order of stages, one report per patch, and a fraction that
// never decreases and ends at 1.
func checkProgress(t *testing.T, reports []Progress, patches PatchCounts) {
	t.Helper()
	var stages []Stage
	perPatch := map[Stage]int{}
	for i, r := range reports {
		if len(stages) == 0 || stages[len(stages)-1] != r.Stage {
			stages = append(stages, r.Stage)
		}
		if r.Stage == StageBase || r.Stage == StageProtuberance || r.Stage == StageFusion {
			if r.Done > 0 {
				perPatch[r.Stage]++
				if r.Done != perPatch[r.Stage] {
					t.Errorf("report %d: %s patch %d arrives as number %d", i, r.Stage, r.Done, perPatch[r.Stage])
				}
			}
		}
	}

	wantStages := []Stage{StageResample, StageBase, StageProtuberance, StageFusion, StageResampleBack}
	if patches.Protuberance == 0 {
		wantStages = []Stage{StageResample, StageBase, StageResampleBack}
	}
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

// checkFractions checks that the fraction of the reports never decreases, stays in
// [0, 1] and ends at 1.
func checkFractions(t *testing.T, reports []Progress) {
	t.Helper()
	previous := 0.0
	for i, r := range reports {
		if r.Fraction < previous || r.Fraction > 1 {
			t.Errorf("report %d (%+v): fraction %g after %g, want non-decreasing in [0, 1]", i, r, r.Fraction, previous)
		}
		previous = r.Fraction
	}
	if previous != 1 {
		t.Errorf("last fraction = %g, want 1", previous)
	}
}

// Flipped L and S axes make the canonical grid a mirror image of the input. At 1 mm
// the resampling is still a pure permutation, so the masks must match voxel for voxel.
func TestPipelineFlippedAxesKnownAnswer(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{
		Size:      [3]int{40, 44, 36},
		SpacingMM: volume.Vec3{1, 1, 1},
		OriginLPS: volume.Vec3{12.5, -3, 50},
		AxesLPS:   [3]volume.Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}},
	}
	ct := phantom(g, -1000, []indexBlock{
		{min: [3]int{22, 8, 10}, max: [3]int{40, 20, 24}, hu: 100}, // touches the far i edge
		{min: [3]int{30, 10, 14}, max: [3]int{36, 14, 18}, hu: 200},
		{min: [3]int{24, 16, 20}, max: [3]int{28, 19, 23}, hu: -50},
		{min: [3]int{0, 30, 28}, max: [3]int{8, 40, 34}, hu: 55},
	})

	res, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	// In input indices the box is i 16..39 (clamped at 40), j 2..25, k 4..29. The
	// canonical grid runs the other way along i (i' = 39 - i) and k (k' = 35 - k).
	inputBox := Box{Min: [3]int{16, 2, 4}, Max: [3]int{40, 26, 30}}
	wantBox := Box{Min: [3]int{0, 2, 6}, Max: [3]int{24, 26, 32}}
	if res.KidneyBox != wantBox {
		t.Errorf("KidneyBox = %+v, want %+v on the canonical grid", res.KidneyBox, wantBox)
	}
	wantGrid := volume.Grid{Size: g.Size, SpacingMM: g.SpacingMM, OriginLPS: volume.Vec3{-26.5, -3, 15}, AxesLPS: volume.IdentityAxesLPS}
	if res.Grid != wantGrid {
		t.Errorf("canonical grid = %+v, want %+v", res.Grid, wantGrid)
	}
	checkMasks(t, res, ct, func(i, j, k int) chainExpectation {
		return expectChain(float64(ct.At(i, j, k)), inputBox.contains(i, j, k))
	})
}

// The oriented bundle's base network reads the kidney input one voxel along +L and
// the tumor input one voxel along +P, and its protuberance network reads the kidney
// probability one voxel along +S inside the box. On an input grid whose i axis points
// to R and k axis to I, the kidney mask must appear shifted to higher i, the base tumor
// mask to lower j, and the protrusion to higher k, in input indices. A wrong axis
// order or direction, in the whole volume or in the box crop, moves them elsewhere.
func TestPipelineAxisOrientation(t *testing.T) {
	requireRuntime(t)
	b, err := LoadBundleDir("testdata/oriented")
	if err != nil {
		t.Fatalf("LoadBundleDir: %v", err)
	}
	p, err := NewPipeline(b, DeviceCPU)
	if err != nil {
		t.Fatalf("NewPipeline: %v", err)
	}
	defer p.Close()

	// Every axis fits in one 32-voxel patch, so the shift never crosses a patch seam.
	g := volume.Grid{
		Size:      [3]int{30, 28, 26},
		SpacingMM: volume.Vec3{1, 1, 1},
		OriginLPS: volume.Vec3{12.5, -3, 50},
		AxesLPS:   [3]volume.Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}},
	}
	ct := phantom(g, -1000, []indexBlock{
		{min: [3]int{8, 6, 4}, max: [3]int{20, 16, 14}, hu: 100},
		{min: [3]int{10, 8, 6}, max: [3]int{14, 12, 10}, hu: 200},
		{min: [3]int{16, 12, 8}, max: [3]int{19, 15, 12}, hu: -50},
	})

	res, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	// normalized returns the normalised CT value at the input voxel offset by the LPS
	// step from (i, j, k), or -1 (air) beyond the volume.
	normalized := func(i, j, k int, stepLPS volume.Vec3) float64 {
		pos := g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
		index := g.LPSToIndex(volume.Vec3{pos[0] + stepLPS[0], pos[1] + stepLPS[1], pos[2] + stepLPS[2]})
		si, sj, sk := int(math.Round(index[0])), int(math.Round(index[1])), int(math.Round(index[2]))
		if !g.Contains(si, sj, sk) {
			return -1
		}
		return (min(max(float64(ct.At(si, sj, sk)), -90), 210) - 60) / 150
	}
	kidney := func(i, j, k int) float64 { return (normalized(i, j, k, volume.Vec3{1, 0, 0}) + 1) / 2 }

	// The kidney voxels are i 9..20, j 6..15, k 4..13 after the shift, and the box adds
	// 6 voxels on every side, clamped to the grid.
	inputBox := Box{Min: [3]int{3, 0, 0}, Max: [3]int{27, 22, 20}}
	shifted := map[string]int{}
	checkMasks(t, res, ct, func(i, j, k int) chainExpectation {
		e := chainExpectation{
			kidney:    kidney(i, j, k),
			baseTumor: min(max(normalized(i, j, k, volume.Vec3{0, 1, 0}), 0), 1),
		}
		if inputBox.contains(i, j, k) {
			// The protuberance network receives 0 beyond the box, which ends at k = 0 on
			// the superior side.
			superiorKidney := 0.0
			if k > inputBox.Min[2] {
				superiorKidney = kidney(i, j, k-1)
			}
			e.protrusion = 1 - superiorKidney
			image := normalized(i, j, k, volume.Vec3{})
			e.tumor = min(max(e.baseTumor+e.protrusion, 0), 1) * (image + 1) / 2
		}
		unshifted := expectChain(float64(ct.At(i, j, k)), inputBox.contains(i, j, k))
		if label(e.kidney) != label(unshifted.kidney) {
			shifted["kidney along L"]++
		}
		if label(e.baseTumor) != label(unshifted.baseTumor) {
			shifted["base tumor along P"]++
		}
		if inputBox.contains(i, j, k) && label(e.protrusion) != label(1-e.kidney) {
			shifted["protrusion along S"]++
		}
		return e
	})
	for _, name := range []string{"kidney along L", "base tumor along P", "protrusion along S"} {
		if shifted[name] == 0 {
			t.Errorf("no voxel where the %s shift changes a mask, so that axis is untested", name)
		}
	}
}

// mmBlock is a box in LPS millimetres [min, max) with one CT value.
type mmBlock struct {
	min, max volume.Vec3
	hu       float32
}

// On an anisotropic grid the CT goes through real interpolation, so only voxels far
// from every edge have a known result: those at least 4 mm from each block face, and
// at least 2 mm from the faces of the kidney box.
func TestPipelineAnisotropicGridInterior(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{80, 70, 20}, SpacingMM: volume.Vec3{0.8, 0.8, 2.5}, OriginLPS: volume.Vec3{-25.2, 10, -40}, AxesLPS: volume.IdentityAxesLPS}
	blocks := []mmBlock{
		{min: volume.Vec3{-15, 20, -30}, max: volume.Vec3{15, 45, 0}, hu: 100},
		{min: volume.Vec3{-8, 26, -22}, max: volume.Vec3{4, 36, -8}, hu: 200},
		{min: volume.Vec3{4, 22, -28}, max: volume.Vec3{14, 42, -10}, hu: -50}, // protrusion 0.87
		{min: volume.Vec3{25, 50, -38}, max: volume.Vec3{36, 63, -28}, hu: 55},
	}
	ct := volume.NewVolume(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				pos := g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
				hu := float32(-1000)
				for _, b := range blocks {
					if insideMM(pos, b.min, b.max, 0) {
						hu = b.hu
					}
				}
				ct.Voxels[ct.Offset(i, j, k)] = hu
			}
		}
	}

	res, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := [3]int{65, 57, 49}; res.Grid.Size != want { // ceil(extent / 1 mm) + 1 per axis
		t.Fatalf("canonical grid size = %v, want %v", res.Grid.Size, want)
	}

	// The box follows the kidney block, x -15..15, y 20..45 mm, grown by 6 mm, to within
	// a voxel of interpolation. Along z the last kidney slice is at -2.5 mm, so the
	// kidney reaches -3 mm on the canonical grid and the box 3 mm, whose voxel ends at
	// 3.5 mm.
	boxMin := res.Grid.IndexToLPS(volume.Vec3{float64(res.KidneyBox.Min[0]) - 0.5, float64(res.KidneyBox.Min[1]) - 0.5, float64(res.KidneyBox.Min[2]) - 0.5})
	boxMax := res.Grid.IndexToLPS(volume.Vec3{float64(res.KidneyBox.Max[0]) - 0.5, float64(res.KidneyBox.Max[1]) - 0.5, float64(res.KidneyBox.Max[2]) - 0.5})
	wantMin := volume.Vec3{-21, 14, -36}
	wantMax := volume.Vec3{21, 51, 3.5}
	for a := 0; a < 3; a++ {
		if math.Abs(boxMin[a]-wantMin[a]) > 1.5 || math.Abs(boxMax[a]-wantMax[a]) > 1.5 {
			t.Errorf("kidney box along axis %d spans %g..%g mm, want about %g..%g", a, boxMin[a], boxMax[a], wantMin[a], wantMax[a])
		}
	}

	checked := map[string]int{}
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				pos := g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
				uniform := true
				for _, b := range blocks {
					if !insideMM(pos, b.min, b.max, -4) && insideMM(pos, b.min, b.max, 4) {
						uniform = false
					}
				}
				nearBoxFace := !insideMM(pos, boxMin, boxMax, -2) && insideMM(pos, boxMin, boxMax, 2)
				if !uniform || nearBoxFace {
					continue
				}

				e := expectChain(float64(ct.At(i, j, k)), insideMM(pos, boxMin, boxMax, 0))
				for _, m := range []struct {
					name string
					mask *volume.Mask
					want float64
				}{
					{"kidney", res.Kidney, e.kidney},
					{"protrusion", res.Protrusion, e.protrusion},
					{"tumor", res.Tumor, e.tumor},
					{"base tumor", res.BaseTumor, e.baseTumor},
				} {
					want := label(m.want)
					if got := m.mask.At(i, j, k); got != want {
						t.Fatalf("%s mask at (%d, %d, %d), %v mm: got %d, want %d", m.name, i, j, k, pos, got, want)
					}
					if want == 1 {
						checked[m.name]++
					}
				}
				checked["all"]++
			}
		}
	}
	if checked["all"] < g.NumVoxels()/2 || checked["kidney"] == 0 || checked["protrusion"] == 0 || checked["tumor"] == 0 {
		t.Errorf("checked voxels %v of %d, want at least half and some of each label", checked, g.NumVoxels())
	}
}

// insideMM reports whether pos lies in [min-grow, max+grow) on every axis. A negative
// grow shrinks the box.
func insideMM(pos, min, max volume.Vec3, grow float64) bool {
	for a := 0; a < 3; a++ {
		if pos[a] < min[a]-grow || pos[a] >= max[a]+grow {
			return false
		}
	}
	return true
}

func TestPipelineNoKidney(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{40, 36, 34}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	// 30 HU gives kidney probability 0.4, below the threshold.
	ct := phantom(g, -1000, []indexBlock{{min: [3]int{5, 5, 5}, max: [3]int{30, 30, 30}, hu: 30}})

	var reports []Progress
	res, err := p.Run(context.Background(), ct, func(pr Progress) { reports = append(reports, pr) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !slices.Equal(res.Warnings, []string{WarningNoKidney}) {
		t.Errorf("Warnings = %q, want [%q]", res.Warnings, WarningNoKidney)
	}
	if !res.KidneyBox.Empty() {
		t.Errorf("KidneyBox = %+v, want empty", res.KidneyBox)
	}
	if res.Patches.Protuberance != 0 || res.Patches.Fusion != 0 {
		t.Errorf("Patches = %+v, want no protuberance or fusion patches", res.Patches)
	}
	for name, m := range map[string]*volume.Mask{"kidney": res.Kidney, "protrusion": res.Protrusion, "tumor": res.Tumor, "base tumor": res.BaseTumor} {
		if n := countLabels(m); n != 0 {
			t.Errorf("%s mask has %d voxels, want 0", name, n)
		}
	}
	for name, v := range map[string]*volume.Volume{"protrusion": res.ProtrusionProbability, "tumor": res.TumorProbability} {
		if i := slices.IndexFunc(v.Voxels, func(x float32) bool { return x != 0 }); i >= 0 {
			t.Errorf("%s probability[%d] = %g, want all 0", name, i, v.Voxels[i])
		}
	}
	if got := res.KidneyProbability.At(10, 10, 10); math.Abs(float64(got)-0.4) > 1e-6 {
		t.Errorf("kidney probability at 30 HU = %g, want 0.4", got)
	}
	checkProgress(t, reports, res.Patches)
}

func TestPipelineCancel(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{64, 56, 48}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	ct := phantom(g, -1000, []indexBlock{{min: [3]int{10, 12, 2}, max: [3]int{34, 30, 20}, hu: 100}})

	for _, stop := range []struct {
		stage Stage
		done  int
	}{
		{StageBase, 2},
		{StageProtuberance, 1},
		{StageFusion, 1},
	} {
		t.Run(string(stop.stage), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var after []Progress
			cancelled := false
			res, err := p.Run(ctx, ct, func(pr Progress) {
				if cancelled {
					after = append(after, pr)
				}
				if pr.Stage == stop.stage && pr.Done == stop.done {
					cancel()
					cancelled = true
				}
			})
			if err != context.Canceled {
				t.Fatalf("Run returned %v, %v; want context.Canceled", res, err)
			}
			if len(after) != 0 {
				t.Errorf("progress after the cancel: %+v, want none", after)
			}
		})
	}

	// The pipeline still works after a cancelled run.
	if _, err := p.Run(context.Background(), ct, nil); err != nil {
		t.Errorf("Run after cancelled runs: %v", err)
	}
}

func TestPipelineDevice(t *testing.T) {
	requireRuntime(t)
	b, err := LoadBundleDir(chainBundleDir)
	if err != nil {
		t.Fatalf("LoadBundleDir: %v", err)
	}

	p, err := NewPipeline(b, DeviceCUDA)
	if err == nil {
		p.Close()
		t.Skip("the ONNX Runtime library has a working CUDA provider, so the failure path cannot be tested")
	}
	if !strings.Contains(err.Error(), `model "base"`) || !strings.Contains(err.Error(), "CUDA is not available") {
		t.Errorf("NewPipeline(cuda) error = %q, want it to name the base model and CUDA", err)
	}

	p = newChainPipeline(t, DeviceAuto)
	info := p.Device()
	if info.Requested != DeviceAuto || info.Used != DeviceCPU || info.FallbackReason == "" {
		t.Errorf("Device() = %+v, want auto falling back to cpu with a reason", info)
	}
	g := volume.Grid{Size: [3]int{8, 8, 8}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	res, err := p.Run(context.Background(), phantom(g, 100, nil), nil)
	if err != nil {
		t.Fatalf("Run on the fallback pipeline: %v", err)
	}
	if res.Device != info {
		t.Errorf("Result.Device = %+v, want %+v", res.Device, info)
	}
}

func TestPipelineRejectsInvalidCT(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{8, 8, 8}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}

	short := volume.NewVolume(g)
	short.Voxels = short.Voxels[:100]
	if _, err := p.Run(context.Background(), short, nil); err == nil || !strings.Contains(err.Error(), "100 voxels, want 512") {
		t.Errorf("Run with 100 of 512 voxels: got %v, want a voxel count error", err)
	}

	flat := volume.NewVolume(g)
	flat.SpacingMM[2] = 0
	if _, err := p.Run(context.Background(), flat, nil); err == nil || !strings.Contains(err.Error(), "spacing") {
		t.Errorf("Run with zero spacing: got %v, want a grid error", err)
	}

	for _, spacingMM := range []float64{1e4, 1e300} {
		huge := volume.NewVolume(g)
		huge.SpacingMM = volume.Vec3{spacingMM, spacingMM, spacingMM}
		if _, err := p.Run(context.Background(), huge, nil); err == nil || !strings.Contains(err.Error(), "more than the limit") {
			t.Errorf("Run with %g mm voxels: got %v, want the grid size limit error", spacingMM, err)
		}
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := p.Run(context.Background(), volume.NewVolume(g), nil); err == nil {
		t.Error("Run after Close returned no error")
	}
}
