package viewer

import (
	"math"
	"testing"

	"protrude/volume"
)

// testGrids are axis sets that a frame must show the same way round: the screen
// directions depend on the patient axes only, never on the storage order.
var testGrids = []struct {
	name string
	axes [3]volume.Vec3
}{
	{"LPS identity", volume.IdentityAxesLPS},
	{"RAS-stored NIfTI", [3]volume.Vec3{{-1, 0, 0}, {0, -1, 0}, {0, 0, 1}}},
	{"all axes flipped", [3]volume.Vec3{{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}}},
	{"axes permuted: k along L, i along S", [3]volume.Vec3{{0, 0, 1}, {0, 1, 0}, {1, 0, 0}}},
	{"axes permuted and flipped: i along I, j along R, k along A", [3]volume.Vec3{{0, 0, -1}, {-1, 0, 0}, {0, -1, 0}}},
}

// wantScreenLPS is the LPS unit vector of the screen column, row and slice directions
// of each orientation.
var wantScreenLPS = [3][3]volume.Vec3{
	Axial:    {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}},
	Coronal:  {{1, 0, 0}, {0, 0, -1}, {0, 1, 0}},
	Sagittal: {{0, 1, 0}, {0, 0, -1}, {-1, 0, 0}},
}

func TestFrameScreenDirectionsLPS(t *testing.T) {
	for _, tc := range testGrids {
		for _, o := range Orientations {
			t.Run(tc.name+"/"+o.String(), func(t *testing.T) {
				v := rampVolume([3]int{4, 5, 6}, tc.axes)
				f := NewFrame(v.Grid, o)
				pos := func(x, y, s int) volume.Vec3 {
					idx := f.VoxelIndex(x, y, s)
					return v.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])})
				}
				steps := [3]volume.Vec3{
					sub(pos(1, 0, 0), pos(0, 0, 0)),
					sub(pos(0, 1, 0), pos(0, 0, 0)),
					sub(pos(0, 0, 1), pos(0, 0, 0)),
				}
				names := [3]string{"column", "row", "slice"}
				for a, step := range steps {
					dir := unit(step)
					if !near(dir, wantScreenLPS[o][a]) {
						t.Errorf("%s step moves along LPS %v, want %v", names[a], dir, wantScreenLPS[o][a])
					}
				}
			})
		}
	}
}

func TestFrameIndexRoundTrip(t *testing.T) {
	for _, tc := range testGrids {
		for _, o := range Orientations {
			t.Run(tc.name+"/"+o.String(), func(t *testing.T) {
				v := rampVolume([3]int{4, 5, 6}, tc.axes)
				f := NewFrame(v.Grid, o)
				w, h, n := f.Width(), f.Height(), f.Slices()
				if w*h*n != 4*5*6 {
					t.Fatalf("frame is %d×%d×%d, want a permutation of 4×5×6", w, h, n)
				}
				for s := 0; s < n; s++ {
					sm := f.SliceMap(s)
					for y := 0; y < h; y++ {
						for x := 0; x < w; x++ {
							idx := f.VoxelIndex(x, y, s)
							if gx, gy := f.PixelOfIndex(idx); gx != x || gy != y {
								t.Fatalf("PixelOfIndex(VoxelIndex(%d, %d, %d)) = (%d, %d)", x, y, s, gx, gy)
							}
							if gs := f.SliceOfIndex(idx); gs != s {
								t.Fatalf("SliceOfIndex(VoxelIndex(%d, %d, %d)) = %d", x, y, s, gs)
							}
							if want := v.Offset(idx[0], idx[1], idx[2]); sm.Offsets[y*w+x] != want {
								t.Fatalf("SliceMap(%d) at (%d, %d) = %d, want offset %d", s, x, y, sm.Offsets[y*w+x], want)
							}
							lps := v.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])})
							back := v.LPSToIndex(lps)
							for a := range 3 {
								if math.Abs(back[a]-float64(idx[a])) > 1e-9 {
									t.Fatalf("LPSToIndex(IndexToLPS(%v)) = %v", idx, back)
								}
							}
						}
					}
				}
				if got := f.WithSlice(f.VoxelIndex(1, 2, 0), n+5); f.SliceOfIndex(got) != n-1 {
					t.Errorf("WithSlice(.., %d) is on slice %d, want the last slice %d", n+5, f.SliceOfIndex(got), n-1)
				}
			})
		}
	}
}

func TestFrameEdgeLabels(t *testing.T) {
	want := [3]EdgeLabels{
		Axial:    {Left: "R", Right: "L", Top: "A", Bottom: "P"},
		Coronal:  {Left: "R", Right: "L", Top: "S", Bottom: "I"},
		Sagittal: {Left: "A", Right: "P", Top: "S", Bottom: "I"},
	}
	for _, tc := range testGrids {
		for _, o := range Orientations {
			g := volume.Grid{Size: [3]int{4, 5, 6}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: tc.axes}
			if got := NewFrame(g, o).EdgeLabels(); got != want[o] {
				t.Errorf("%s, %s: edge labels %+v, want %+v", tc.name, o, got, want[o])
			}
		}
	}
}

func TestFrameEdgeLabelsOblique(t *testing.T) {
	// The grid is turned 30° about S: i runs towards L and P, j towards P and R.
	c, s := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
	g := volume.Grid{Size: [3]int{4, 5, 6}, SpacingMM: volume.Vec3{1, 1, 1},
		AxesLPS: [3]volume.Vec3{{c, s, 0}, {-s, c, 0}, {0, 0, 1}}}
	cases := []struct {
		o    Orientation
		want EdgeLabels
	}{
		{Axial, EdgeLabels{Left: "RA", Right: "LP", Top: "AL", Bottom: "PR"}},
		{Coronal, EdgeLabels{Left: "RA", Right: "LP", Top: "S", Bottom: "I"}},
		{Sagittal, EdgeLabels{Left: "AL", Right: "PR", Top: "S", Bottom: "I"}},
	}
	for _, tc := range cases {
		if got := NewFrame(g, tc.o).EdgeLabels(); got != tc.want {
			t.Errorf("%s of a grid turned 30° about S: edge labels %+v, want %+v", tc.o, got, tc.want)
		}
	}
	// A tilt of 5° stays below the second-letter threshold.
	c, s = math.Cos(5*math.Pi/180), math.Sin(5*math.Pi/180)
	g.AxesLPS = [3]volume.Vec3{{c, s, 0}, {-s, c, 0}, {0, 0, 1}}
	if got := NewFrame(g, Axial).EdgeLabels(); got != (EdgeLabels{Left: "R", Right: "L", Top: "A", Bottom: "P"}) {
		t.Errorf("axial of a grid turned 5° about S: edge labels %+v, want single letters", got)
	}
}

func sub(a, b volume.Vec3) volume.Vec3 { return volume.Vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

func unit(a volume.Vec3) volume.Vec3 {
	n := math.Sqrt(a[0]*a[0] + a[1]*a[1] + a[2]*a[2])
	return volume.Vec3{a[0] / n, a[1] / n, a[2] / n}
}

func near(a, b volume.Vec3) bool {
	return math.Abs(a[0]-b[0]) < 1e-9 && math.Abs(a[1]-b[1]) < 1e-9 && math.Abs(a[2]-b[2]) < 1e-9
}
