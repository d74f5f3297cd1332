package inference

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
)

// blockMask returns a mask on g with label 1 inside the index box b.
func blockMask(g volume.Grid, b Box) *volume.Mask {
	m := volume.NewMask(g)
	for k := b.Min[2]; k < b.Max[2]; k++ {
		for j := b.Min[1]; j < b.Max[1]; j++ {
			for i := b.Min[0]; i < b.Max[0]; i++ {
				m.Labels[m.Offset(i, j, k)] = 1
			}
		}
	}
	return m
}

// On a 1 mm grid with axes along L, P and S, the canonical grid is the mask's grid and
// resampling copies values exactly. The chain bundle's protuberance network returns
// 1 - input, so the protrusion is every background voxel inside the organ's bounding
// box grown by the 6 mm margin, and nothing else.
func TestRunProtuberanceBlockKnownAnswer(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{
		Size:      [3]int{60, 44, 40},
		SpacingMM: volume.Vec3{1, 1, 1},
		OriginLPS: volume.Vec3{-20, 5, 100},
		AxesLPS:   volume.IdentityAxesLPS,
	}
	organ := Box{Min: [3]int{10, 12, 8}, Max: [3]int{50, 30, 30}}
	res, err := p.RunProtuberance(context.Background(), blockMask(g, organ), nil)
	if err != nil {
		t.Fatalf("RunProtuberance: %v", err)
	}

	if res.Grid != g {
		t.Errorf("canonical grid = %+v, want the mask's grid %+v", res.Grid, g)
	}
	wantBox := Box{Min: [3]int{4, 6, 2}, Max: [3]int{56, 36, 36}}
	if res.Box != wantBox {
		t.Errorf("Box = %+v, want %+v", res.Box, wantBox)
	}
	// The box is 34 × 30 × 52 voxels (D, H, W): 2 × 1 × 2 patches of 32 voxels.
	if res.Patches != 4 {
		t.Errorf("Patches = %d, want 4", res.Patches)
	}
	wrong := 0
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				want := uint8(0)
				if wantBox.contains(i, j, k) && !organ.contains(i, j, k) {
					want = 1
				}
				if got := res.Protrusion.At(i, j, k); got != want {
					if wrong < 5 {
						t.Errorf("voxel (%d, %d, %d): label %d, want %d", i, j, k, got, want)
					}
					wrong++
				}
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d voxels have the wrong label", wrong, g.NumVoxels())
	}
}

// The oriented bundle's protuberance network reads its input one voxel along +S, and
// the patch is 0 beyond the box. On a mask grid whose i axis points to R and k axis
// to I, a wrong axis order or direction moves the protrusion elsewhere.
func TestRunProtuberanceAxisOrientation(t *testing.T) {
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

	// The box, the organ plus 6 voxels, fits in one 32-voxel patch along every axis.
	g := volume.Grid{
		Size:      [3]int{30, 28, 26},
		SpacingMM: volume.Vec3{1, 1, 1},
		OriginLPS: volume.Vec3{12.5, -3, 50},
		AxesLPS:   [3]volume.Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}},
	}
	organ := blockMask(g, Box{Min: [3]int{8, 6, 4}, Max: [3]int{20, 16, 14}})
	organ.Labels[organ.Offset(12, 10, 4)] = 0 // a notch on the inferior face
	res, err := p.RunProtuberance(context.Background(), organ, nil)
	if err != nil {
		t.Fatalf("RunProtuberance: %v", err)
	}

	// canonical returns the canonical index of mask voxel (i, j, k). The 1 mm grids
	// share voxel centres.
	canonical := func(i, j, k int) [3]int {
		c := res.Grid.LPSToIndex(g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)}))
		return [3]int{int(math.Round(c[0])), int(math.Round(c[1])), int(math.Round(c[2]))}
	}
	organAtCanonical := map[[3]int]float64{}
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				organAtCanonical[canonical(i, j, k)] = float64(organ.At(i, j, k))
			}
		}
	}
	wrong := 0
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				c := canonical(i, j, k)
				probability := 0.0
				if res.Box.contains(c[0], c[1], c[2]) {
					superior := [3]int{c[0], c[1], c[2] + 1}
					input := 0.0
					if res.Box.contains(superior[0], superior[1], superior[2]) {
						input = organAtCanonical[superior]
					}
					probability = 1 - input
				}
				want := uint8(0)
				if probability >= 0.5 {
					want = 1
				}
				if got := res.Protrusion.At(i, j, k); got != want {
					if wrong < 5 {
						t.Errorf("voxel (%d, %d, %d), canonical %v: label %d, want %d", i, j, k, c, got, want)
					}
					wrong++
				}
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d voxels have the wrong label", wrong, g.NumVoxels())
	}
}

// chainPipelineWithProtrusionThreshold returns a pipeline on a copy of the chain
// bundle whose manifest has another protrusion threshold.
func chainPipelineWithProtrusionThreshold(t *testing.T, threshold float64) *Pipeline {
	t.Helper()
	requireRuntime(t)
	dir := t.TempDir()
	for _, name := range []string{"base.onnx", "protuberance.onnx", "fusion.onnx"} {
		data, err := os.ReadFile(filepath.Join(chainBundleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	raw, err := os.ReadFile(filepath.Join(chainBundleDir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]any
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	manifest["inference"].(map[string]any)["thresholds"].(map[string]any)["protrusion"] = threshold
	raw, err = json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	b, err := LoadBundleDir(dir)
	if err != nil {
		t.Fatalf("LoadBundleDir: %v", err)
	}
	p, err := NewPipeline(b, DeviceCPU)
	if err != nil {
		t.Fatalf("NewPipeline: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// On an anisotropic, rotated grid, RunProtuberance must match the plain method that
// resamples whole grids: mask to canonical grid, 1 - value inside the box (the chain
// bundle's network), back to the mask grid, threshold. At threshold 0.3 the fall-off
// beyond the box's edge decides some labels.
func TestRunProtuberanceMatchesWholeGridResampling(t *testing.T) {
	for _, threshold := range []float64{0.5, 0.3} {
		t.Run(fmt.Sprintf("threshold %g", threshold), func(t *testing.T) {
			checkAgainstWholeGrids(t, chainPipelineWithProtrusionThreshold(t, threshold), threshold)
		})
	}
}

func checkAgainstWholeGrids(t *testing.T, p *Pipeline, threshold float64) {
	angle := 30 * math.Pi / 180
	g := volume.Grid{
		Size:      [3]int{48, 40, 16},
		SpacingMM: volume.Vec3{0.8, 1.3, 2.5},
		OriginLPS: volume.Vec3{-7.3, 11.1, 40.2},
		AxesLPS: [3]volume.Vec3{
			{math.Cos(angle), math.Sin(angle), 0},
			{-math.Sin(angle), math.Cos(angle), 0},
			{0, 0, -1},
		},
	}
	// An ellipsoid with a bump, away from the grid's edges on i and j but touching
	// the last slice along k.
	organ := volume.NewMask(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				x, y, z := (float64(i)-24)/14, (float64(j)-20)/10, (float64(k)-10)/6
				bx, by, bz := (float64(i)-36)/4, (float64(j)-20)/4, (float64(k)-10)/2
				if x*x+y*y+z*z <= 1 || bx*bx+by*by+bz*bz <= 1 {
					organ.Labels[organ.Offset(i, j, k)] = 1
				}
			}
		}
	}

	res, err := p.RunProtuberance(context.Background(), organ, nil)
	if err != nil {
		t.Fatalf("RunProtuberance: %v", err)
	}

	// The plain method on whole grids.
	canonical := volume.IsotropicGridLPS(g, 1)
	organFloat := volume.NewVolume(g)
	for n, l := range organ.Labels {
		organFloat.Voxels[n] = float32(l)
	}
	resampled := volume.ResampleLinear(organFloat, canonical, 0)

	// The box: canonical voxels spanning the organ's voxel centres, plus 6 voxels.
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				if organ.At(i, j, k) == 0 {
					continue
				}
				c := canonical.LPSToIndex(g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)}))
				for a := 0; a < 3; a++ {
					lo[a] = math.Min(lo[a], c[a])
					hi[a] = math.Max(hi[a], c[a])
				}
			}
		}
	}
	var box Box
	for a := 0; a < 3; a++ {
		box.Min[a] = max(int(math.Floor(lo[a]))-6, 0)
		box.Max[a] = min(int(math.Ceil(hi[a]))+1+6, canonical.Size[a])
	}
	if res.Box != box {
		t.Fatalf("Box = %+v, want %+v", res.Box, box)
	}
	probability := volume.NewVolume(canonical)
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				n := canonical.Offset(i, j, k)
				probability.Voxels[n] = 1 - resampled.Voxels[n]
				got := res.Probability.Voxels[(i-box.Min[0])+box.Size()[0]*((j-box.Min[1])+box.Size()[1]*(k-box.Min[2]))]
				if math.Abs(float64(got-probability.Voxels[n])) > 1e-5 {
					t.Fatalf("canonical voxel (%d, %d, %d): probability %g, want %g", i, j, k, got, probability.Voxels[n])
				}
			}
		}
	}
	back := volume.ResampleLinear(probability, g, 0)

	labelled, wrong := 0, 0
	for n, v := range back.Voxels {
		want := uint8(0)
		if float64(v) >= threshold {
			want = 1
			labelled++
		}
		// A value within rounding of the threshold may fall either way.
		if res.Protrusion.Labels[n] != want && math.Abs(float64(v)-threshold) > 1e-4 {
			wrong++
		}
	}
	if labelled == 0 {
		t.Fatal("the whole-grid method labels no voxel, so the test checks nothing")
	}
	if wrong > 0 {
		t.Errorf("%d of %d voxels differ from whole-grid resampling (%d labelled there)", wrong, g.NumVoxels(), labelled)
	}
}

func TestRunProtuberanceRejectsEmptyMask(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{8, 8, 8}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	_, err := p.RunProtuberance(context.Background(), volume.NewMask(g), nil)
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("error = %v, want one saying the mask is empty", err)
	}
}

// A single voxel of 0.3 mm lies 0.5 mm from the nearest 1 mm grid centre, which is
// more than one source voxel, so nothing is left after resampling.
func TestRunProtuberanceRejectsTinyOrgan(t *testing.T) {
	p := newChainPipeline(t, DeviceCPU)
	g := volume.Grid{Size: [3]int{10, 10, 10}, SpacingMM: volume.Vec3{0.3, 0.3, 0.3}, AxesLPS: volume.IdentityAxesLPS}
	organ := volume.NewMask(g)
	organ.Labels[organ.Offset(5, 5, 5)] = 1
	_, err := p.RunProtuberance(context.Background(), organ, nil)
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("error = %v, want one saying the organ is too small", err)
	}
}
