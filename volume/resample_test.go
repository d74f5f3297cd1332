package volume

import (
	"math"
	"math/rand/v2"
	"testing"
)

// obliqueAxes returns an orthonormal, right-handed axis set rotated about S by angle.
func obliqueAxes(angle float64) [3]Vec3 {
	c, s := math.Cos(angle), math.Sin(angle)
	return [3]Vec3{{c, s, 0}, {-s, c, 0}, {0, 0, 1}}
}

func randomVolume(g Grid, seed uint64) *Volume {
	r := rand.New(rand.NewPCG(seed, 1))
	v := NewVolume(g)
	for n := range v.Voxels {
		v.Voxels[n] = float32(r.NormFloat64()*300 - 200)
	}
	return v
}

func randomMask(g Grid, seed uint64, labels int) *Mask {
	r := rand.New(rand.NewPCG(seed, 2))
	m := NewMask(g)
	for n := range m.Labels {
		m.Labels[n] = uint8(r.IntN(labels))
	}
	return m
}

func TestResampleLinearIdentity(t *testing.T) {
	grids := map[string]Grid{
		"identity axes": {Size: [3]int{7, 5, 4}, SpacingMM: Vec3{0.8, 0.8, 3}, OriginLPS: Vec3{-120.5, 33.25, -812}, AxesLPS: IdentityAxesLPS},
		"oblique axes":  {Size: [3]int{6, 9, 3}, SpacingMM: Vec3{0.7, 1.1, 2.5}, OriginLPS: Vec3{250, -250, 1200}, AxesLPS: obliqueAxes(0.3)},
		"flipped axes":  {Size: [3]int{5, 5, 5}, SpacingMM: Vec3{1, 2, 3}, OriginLPS: Vec3{10, 20, 30}, AxesLPS: [3]Vec3{{-1, 0, 0}, {0, 0, -1}, {0, 1, 0}}},
	}
	for name, g := range grids {
		t.Run(name, func(t *testing.T) {
			src := randomVolume(g, 7)
			got := ResampleLinear(src, g, -3000)
			if got.Grid != g {
				t.Fatalf("grid = %+v, want %+v", got.Grid, g)
			}
			for n := range src.Voxels {
				if got.Voxels[n] != src.Voxels[n] {
					t.Fatalf("voxel %d = %v, want %v (exact copy)", n, got.Voxels[n], src.Voxels[n])
				}
			}
		})
	}
}

func TestResampleNearestIdentity(t *testing.T) {
	g := Grid{Size: [3]int{6, 9, 3}, SpacingMM: Vec3{0.7, 1.1, 2.5}, OriginLPS: Vec3{250, -250, 1200}, AxesLPS: obliqueAxes(-1.1)}
	src := randomMask(g, 3, 4)
	got := ResampleNearest(src, g)
	for n := range src.Labels {
		if got.Labels[n] != src.Labels[n] {
			t.Fatalf("label %d = %d, want %d", n, got.Labels[n], src.Labels[n])
		}
	}
}

// TestResampleLinearRamp checks that a field linear in patient space survives
// resampling between grids of different spacing, direction and axis order, because
// trilinear interpolation is exact for linear functions.
func TestResampleLinearRamp(t *testing.T) {
	gradient := Vec3{0.75, -1.5, 2.25}
	const offset = -40.0
	ramp := func(p Vec3) float64 { return dot(gradient, p) + offset }

	src := Grid{
		Size: [3]int{12, 10, 9}, SpacingMM: Vec3{1.5, 2, 3},
		OriginLPS: Vec3{-10, 5, 100},
		AxesLPS:   IdentityAxesLPS,
	}
	dsts := map[string]Grid{
		"flipped i and k, finer spacing": {
			Size: [3]int{20, 15, 25}, SpacingMM: Vec3{0.8, 1.2, 0.9},
			OriginLPS: Vec3{5, 6, 122},
			AxesLPS:   [3]Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}},
		},
		"permuted axes": {
			Size: [3]int{8, 6, 5}, SpacingMM: Vec3{2.5, 2.5, 3.1},
			OriginLPS: Vec3{-9, 6, 101},
			AxesLPS:   [3]Vec3{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}},
		},
		"oblique": {
			Size: [3]int{10, 10, 10}, SpacingMM: Vec3{1, 1, 1},
			OriginLPS: Vec3{-2, 8, 105},
			AxesLPS:   obliqueAxes(0.4),
		},
	}

	volume := NewVolume(src)
	for k := 0; k < src.Size[2]; k++ {
		for j := 0; j < src.Size[1]; j++ {
			for i := 0; i < src.Size[0]; i++ {
				p := src.IndexToLPS(Vec3{float64(i), float64(j), float64(k)})
				volume.Voxels[src.Offset(i, j, k)] = float32(ramp(p))
			}
		}
	}

	for name, dst := range dsts {
		t.Run(name, func(t *testing.T) {
			const outside = -9999
			got := ResampleLinear(volume, dst, outside)
			checked := 0
			for k := 0; k < dst.Size[2]; k++ {
				for j := 0; j < dst.Size[1]; j++ {
					for i := 0; i < dst.Size[0]; i++ {
						p := dst.IndexToLPS(Vec3{float64(i), float64(j), float64(k)})
						c := src.LPSToIndex(p)
						value := got.At(i, j, k)
						inHull, inCover := true, true
						for a := 0; a < 3; a++ {
							if c[a] < 0 || c[a] > float64(src.Size[a]-1) {
								inHull = false
							}
							if c[a] < -0.5 || c[a] > float64(src.Size[a])-0.5 {
								inCover = false
							}
						}
						switch {
						case inHull:
							want := ramp(p)
							if math.Abs(float64(value)-want) > 1e-4*math.Max(1, math.Abs(want)) {
								t.Fatalf("voxel (%d,%d,%d) at LPS %v = %v, want %v", i, j, k, p, value, want)
							}
							checked++
						case !inCover:
							if value != outside {
								t.Fatalf("voxel (%d,%d,%d) at src index %v = %v, want outside value %v", i, j, k, c, value, float32(outside))
							}
						}
					}
				}
			}
			if checked < dst.NumVoxels()/10 {
				t.Fatalf("only %d of %d destination voxels fall inside the source; the test grids do not overlap enough", checked, dst.NumVoxels())
			}
		})
	}
}

// TestResampleEdgeConvention places destination points at chosen source indices along i
// to check that [-0.5, size-0.5] is inside, with the border value, and beyond is outside.
func TestResampleEdgeConvention(t *testing.T) {
	src := NewVolume(Grid{Size: [3]int{4, 1, 1}, SpacingMM: Vec3{2, 1, 1}, AxesLPS: IdentityAxesLPS})
	copy(src.Voxels, []float32{10, 20, 30, 40})
	mask := NewMask(src.Grid)
	copy(mask.Labels, []uint8{1, 2, 3, 4})

	const outside = -1
	cases := []struct {
		srcIndex  float64
		wantValue float32
		wantLabel uint8
	}{
		{-0.75, outside, 0},
		{-0.5, 10, 1},
		{-0.25, 10, 1},
		{0, 10, 1},
		{0.25, 12.5, 1},
		{1.5, 25, 3},
		{3, 40, 4},
		{3.25, 40, 4},
		{3.5, 40, 4},
		{3.75, outside, 0},
	}
	for _, tc := range cases {
		dst := Grid{Size: [3]int{1, 1, 1}, SpacingMM: Vec3{1, 1, 1}, OriginLPS: Vec3{tc.srcIndex * 2, 0, 0}, AxesLPS: IdentityAxesLPS}
		if got := ResampleLinear(src, dst, outside).Voxels[0]; got != tc.wantValue {
			t.Errorf("linear at source index %g = %v, want %v", tc.srcIndex, got, tc.wantValue)
		}
		if got := ResampleNearest(mask, dst).Labels[0]; got != tc.wantLabel {
			t.Errorf("nearest at source index %g = %d, want %d", tc.srcIndex, got, tc.wantLabel)
		}
	}
}

// TestResampleNearestKeepsLabels upsamples a mask by 2 (offset by a quarter voxel so no
// centre is a tie), checks each new voxel against its parent, and checks that
// resampling back gives the original mask.
func TestResampleNearestKeepsLabels(t *testing.T) {
	src := Grid{Size: [3]int{6, 5, 4}, SpacingMM: Vec3{2, 2, 4}, OriginLPS: Vec3{-30, 12, 7}, AxesLPS: obliqueAxes(0.9)}
	mask := randomMask(src, 11, 3)
	fine := src
	fine.Size = [3]int{12, 10, 8}
	fine.SpacingMM = Vec3{1, 1, 2}
	fine.OriginLPS = src.IndexToLPS(Vec3{-0.25, -0.25, -0.25})

	up := ResampleNearest(mask, fine)
	for k := 0; k < fine.Size[2]; k++ {
		for j := 0; j < fine.Size[1]; j++ {
			for i := 0; i < fine.Size[0]; i++ {
				want := mask.At(i/2, j/2, k/2)
				if got := up.At(i, j, k); got != want {
					t.Fatalf("fine voxel (%d,%d,%d) = %d, want parent label %d", i, j, k, got, want)
				}
			}
		}
	}

	down := ResampleNearest(up, src)
	for n := range mask.Labels {
		if down.Labels[n] != mask.Labels[n] {
			t.Fatalf("round trip voxel %d = %d, want %d", n, down.Labels[n], mask.Labels[n])
		}
	}
}

func TestIsotropicGridLPS(t *testing.T) {
	cases := []struct {
		name       string
		in         Grid
		spacing    float64
		wantOrigin Vec3
		wantSize   [3]int
	}{
		{
			name: "identity axes",
			in: Grid{Size: [3]int{11, 21, 5}, SpacingMM: Vec3{1, 0.5, 2.5},
				OriginLPS: Vec3{-5, 3, 100}, AxesLPS: IdentityAxesLPS},
			spacing:    2.5,
			wantOrigin: Vec3{-5, 3, 100},
			wantSize:   [3]int{5, 5, 5},
		},
		{
			name: "flipped L and S axes",
			in: Grid{Size: [3]int{11, 21, 5}, SpacingMM: Vec3{1, 0.5, 2.5},
				OriginLPS: Vec3{5, 3, 110}, AxesLPS: [3]Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}}},
			spacing:    2.5,
			wantOrigin: Vec3{-5, 3, 100},
			wantSize:   [3]int{5, 5, 5},
		},
		{
			name: "permuted and flipped axes like RAS sagittal",
			in: Grid{Size: [3]int{5, 11, 21}, SpacingMM: Vec3{2.5, 1, 0.5},
				OriginLPS: Vec3{-5, 13, 110}, AxesLPS: [3]Vec3{{0, 0, -1}, {0, -1, 0}, {1, 0, 0}}},
			spacing:    3,
			wantOrigin: Vec3{-5, 3, 100},
			// A 10 mm extent at 3 mm needs 5 samples (0 to 12 mm) to cover the far edge.
			wantSize: [3]int{5, 5, 5},
		},
		{
			name: "extent short by float jitter",
			in: Grid{Size: [3]int{5, 5, 5}, SpacingMM: Vec3{2.4999999, 2.5, 2.5000001},
				OriginLPS: Vec3{0, 0, 0}, AxesLPS: IdentityAxesLPS},
			spacing:    2.5,
			wantOrigin: Vec3{0, 0, 0},
			wantSize:   [3]int{5, 5, 5},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := IsotropicGridLPS(tc.in, tc.spacing)
			if got.AxesLPS != IdentityAxesLPS {
				t.Errorf("axes = %v, want %v", got.AxesLPS, IdentityAxesLPS)
			}
			if got.SpacingMM != (Vec3{tc.spacing, tc.spacing, tc.spacing}) {
				t.Errorf("spacing = %v, want %g on every axis", got.SpacingMM, tc.spacing)
			}
			if got.Size != tc.wantSize {
				t.Errorf("size = %v, want %v", got.Size, tc.wantSize)
			}
			for c := 0; c < 3; c++ {
				if math.Abs(got.OriginLPS[c]-tc.wantOrigin[c]) > 1e-9 {
					t.Errorf("origin = %v, want %v", got.OriginLPS, tc.wantOrigin)
					break
				}
			}
			if err := got.Validate(); err != nil {
				t.Errorf("result does not validate: %v", err)
			}
		})
	}
}

// BenchmarkResampleLinear resamples an oblique 512×512×100 CT-sized volume onto its
// 1.5 mm inference grid.
func BenchmarkResampleLinear(b *testing.B) {
	src := randomVolume(Grid{
		Size: [3]int{512, 512, 100}, SpacingMM: Vec3{0.7, 0.7, 2.5},
		OriginLPS: Vec3{-180, -180, -300}, AxesLPS: obliqueAxes(0.2),
	}, 5)
	dst := IsotropicGridLPS(src.Grid, 1.5)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		ResampleLinear(src, dst, -1024)
	}
}
