package viewer

import (
	"image/color"
	"testing"

	"protrude/overlays"
	"protrude/volume"
)

// rampVolume returns a volume whose HU value encodes the voxel index: 100*i + 10*j + k.
func rampVolume(size [3]int, axes [3]volume.Vec3) *volume.Volume {
	v := volume.NewVolume(volume.Grid{Size: size, SpacingMM: volume.Vec3{1, 2, 3}, AxesLPS: axes})
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			for i := 0; i < size[0]; i++ {
				v.Voxels[v.Offset(i, j, k)] = float32(100*i + 10*j + k)
			}
		}
	}
	return v
}

func TestAxialFrameRadiologicalOrientation(t *testing.T) {
	cases := []struct {
		name string
		axes [3]volume.Vec3
	}{
		{"LPS identity", volume.IdentityAxesLPS},
		{"RAS-stored NIfTI", [3]volume.Vec3{{-1, 0, 0}, {0, -1, 0}, {0, 0, 1}}},
		{"slices stored superior to inferior", [3]volume.Vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, -1}}},
		{"axes permuted: k along L, i along S", [3]volume.Vec3{{0, 0, 1}, {0, 1, 0}, {1, 0, 0}}},
		{"slightly tilted stack", [3]volume.Vec3{{1, 0, 0}, {0, 0.996, 0.0872}, {0, -0.0872, 0.996}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := rampVolume([3]int{4, 5, 6}, tc.axes)
			f := NewAxialFrame(v.Grid)
			pos := func(x, y, s int) volume.Vec3 {
				idx := f.VoxelIndex(x, y, s)
				return v.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])})
			}
			w, h, n := f.Width(), f.Height(), f.Slices()
			if got := pos(w-1, 0, 0)[0] - pos(0, 0, 0)[0]; got <= 0 {
				t.Errorf("screen left to right moves %g mm along L, want > 0 (patient right on screen left)", got)
			}
			if got := pos(0, h-1, 0)[1] - pos(0, 0, 0)[1]; got <= 0 {
				t.Errorf("screen top to bottom moves %g mm along P, want > 0 (anterior at top)", got)
			}
			if got := pos(0, 0, n-1)[2] - pos(0, 0, 0)[2]; got <= 0 {
				t.Errorf("slice 0 to last moves %g mm along S, want > 0 (slice 0 most inferior)", got)
			}
			sm := f.SliceMap(n / 2)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					idx := f.VoxelIndex(x, y, n/2)
					if want := v.Offset(idx[0], idx[1], idx[2]); sm.Offsets[y*w+x] != want {
						t.Fatalf("SliceMap(%d) at (%d, %d) = %d, want offset %d of VoxelIndex", n/2, x, y, sm.Offsets[y*w+x], want)
					}
				}
			}
			if got := f.SliceOfIndex(f.VoxelIndex(1, 1, 2)); got != 2 {
				t.Errorf("SliceOfIndex(VoxelIndex(1, 1, 2)) = %d, want 2", got)
			}
		})
	}
}

func TestWindowLevelGray(t *testing.T) {
	cases := []struct {
		hu   float32
		want uint8
	}{
		{-1000, 0}, {-160, 0}, {40, 128}, {240, 255}, {3000, 255}, {-60, 64},
	}
	lut := AbdomenWindow.lut()
	for _, tc := range cases {
		if got := lut.gray(tc.hu); got != tc.want {
			t.Errorf("abdomen window gray(%g HU) = %d, want %d", tc.hu, got, tc.want)
		}
	}
	net := NetworkWindow.lut()
	if got := net.gray(-90); got != 0 {
		t.Errorf("network window gray(-90 HU) = %d, want 0", got)
	}
	if got := net.gray(210); got != 255 {
		t.Errorf("network window gray(210 HU) = %d, want 255", got)
	}
}

func TestRenderAxialBlendsVisibleLayers(t *testing.T) {
	v := rampVolume([3]int{3, 2, 2}, volume.IdentityAxesLPS)
	for i := range v.Voxels {
		v.Voxels[i] = 40 // mid gray in the abdomen window
	}
	m := volume.NewMask(v.Grid)
	m.Labels[v.Offset(1, 0, 1)] = 1
	red := &overlays.Layer{Name: "red", Mask: m, Color: color.NRGBA{R: 255, A: 255}, Opacity: 1, Visible: true}
	hidden := &overlays.Layer{Name: "hidden", Mask: m, Color: color.NRGBA{B: 255, A: 255}, Opacity: 1, Visible: false}

	img, err := RenderAxial(v, NewAxialFrame(v.Grid), 1, AbdomenWindow, []*overlays.Layer{red, hidden})
	if err != nil {
		t.Fatal(err)
	}
	if got := img.RGBAAt(1, 0); got != (color.RGBA{R: 255, A: 255}) {
		t.Errorf("labelled pixel = %v, want opaque red", got)
	}
	if got := img.RGBAAt(0, 0); got != (color.RGBA{R: 128, G: 128, B: 128, A: 255}) {
		t.Errorf("unlabelled pixel = %v, want mid gray", got)
	}

	other, err := RenderAxial(v, NewAxialFrame(v.Grid), 0, AbdomenWindow, []*overlays.Layer{red})
	if err != nil {
		t.Fatal(err)
	}
	if got := other.RGBAAt(1, 0); got.R != got.G {
		t.Errorf("slice 0 pixel (1, 0) = %v, want gray: the label is on slice 1 only", got)
	}
}

func TestRenderAxialRejectsMismatchedMask(t *testing.T) {
	v := rampVolume([3]int{3, 2, 2}, volume.IdentityAxesLPS)
	m := volume.NewMask(volume.Grid{Size: [3]int{2, 2, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS})
	l := &overlays.Layer{Name: "wrong", Mask: m, Visible: true, Opacity: 1}
	if _, err := RenderAxial(v, NewAxialFrame(v.Grid), 0, AbdomenWindow, []*overlays.Layer{l}); err == nil {
		t.Error("RenderAxial with a 2×2×2 mask on a 3×2×2 volume returned no error")
	}
}

func TestMontageTilesAndAspect(t *testing.T) {
	v := rampVolume([3]int{10, 5, 4}, volume.IdentityAxesLPS) // spacing 1×2×3 mm
	img, err := Montage(v, NewAxialFrame(v.Grid), []int{0, 1, 2}, AbdomenWindow, nil, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	// A tile is 10 mm × 10 mm at 2 px/mm: 20×20 px; 3 tiles in rows of 2 make 40×40.
	if got := img.Bounds().Size(); got.X != 40 || got.Y != 40 {
		t.Errorf("montage size = %v, want 40×40", got)
	}
	if _, err := Montage(v, NewAxialFrame(v.Grid), nil, AbdomenWindow, nil, 2, 2); err == nil {
		t.Error("Montage with no slices returned no error")
	}
}

func TestPresetsWidthLevelHU(t *testing.T) {
	want := []struct {
		name             string
		widthHU, levelHU float64
	}{
		{"Abdomen 400/40", 400, 40},
		{"Soft tissue 350/50", 350, 50},
		{"Liver 150/30", 150, 30},
		{"Bone 1800/400", 1800, 400},
		{"Network 300/60 (-90 to 210)", 300, 60},
	}
	if len(Presets) != len(want) {
		t.Fatalf("%d presets, want %d", len(Presets), len(want))
	}
	for i, w := range want {
		p := Presets[i]
		if p.Name != w.name || p.WidthHU != w.widthHU || p.LevelHU != w.levelHU {
			t.Errorf("preset %d = %+v, want %s W %g / L %g", i, p, w.name, w.widthHU, w.levelHU)
		}
		lut := p.lut()
		if got := lut.gray(float32(w.levelHU - w.widthHU/2)); got != 0 {
			t.Errorf("%s: gray at the window's lower edge = %d, want 0", w.name, got)
		}
		if got := lut.gray(float32(w.levelHU + w.widthHU/2)); got != 255 {
			t.Errorf("%s: gray at the window's upper edge = %d, want 255", w.name, got)
		}
	}
}
