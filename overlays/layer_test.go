package overlays

import (
	"image"
	"image/color"
	"testing"

	"protrude/volume"
)

// square returns a 5×5×1 mask with a 3×3 block of label 1 in the middle, and the
// slice map that shows it one voxel per pixel.
func square() (*volume.Mask, SliceMap) {
	g := volume.Grid{Size: [3]int{5, 5, 1}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	m := volume.NewMask(g)
	for j := 1; j <= 3; j++ {
		for i := 1; i <= 3; i++ {
			m.Labels[g.Offset(i, j, 0)] = 1
		}
	}
	sm := SliceMap{W: 5, H: 5, Offsets: make([]int, 25)}
	for i := range sm.Offsets {
		sm.Offsets[i] = i
	}
	return m, sm
}

func gray(w, h int, v uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	return img
}

func TestBlendFillOpacity(t *testing.T) {
	m, sm := square()
	img := gray(5, 5, 100)
	l := &Layer{Name: "k", Mask: m, Color: color.NRGBA{R: 200, G: 0, B: 100, A: 255}, Opacity: 0.5, Visible: true}
	if err := Blend(img, sm, []*Layer{l}); err != nil {
		t.Fatal(err)
	}
	got := img.RGBAAt(2, 2)
	if got.R != 150 || got.G != 50 || got.B != 100 {
		t.Errorf("half-opacity blend of (200, 0, 100) over gray 100 = %v, want (150, 50, 100)", got)
	}
	if got := img.RGBAAt(0, 0); got.R != 100 || got.G != 100 {
		t.Errorf("background pixel = %v, want unchanged gray 100", got)
	}
}

func TestBlendOutlineSkipsInterior(t *testing.T) {
	m, sm := square()
	img := gray(5, 5, 0)
	l := &Layer{Name: "k", Mask: m, Color: color.NRGBA{G: 255, A: 255}, Opacity: 1, Visible: true, Style: Outline}
	if err := Blend(img, sm, []*Layer{l}); err != nil {
		t.Fatal(err)
	}
	if got := img.RGBAAt(2, 2).G; got != 0 {
		t.Errorf("outline: interior pixel green = %d, want 0", got)
	}
	for _, p := range []image.Point{{1, 1}, {2, 1}, {3, 3}, {1, 2}} {
		if got := img.RGBAAt(p.X, p.Y).G; got != 255 {
			t.Errorf("outline: border pixel %v green = %d, want 255", p, got)
		}
	}
}

func TestBlendSkipsHiddenAndEmptyLayers(t *testing.T) {
	m, sm := square()
	img := gray(5, 5, 7)
	layers := []*Layer{
		{Name: "hidden", Mask: m, Color: color.NRGBA{R: 255}, Opacity: 1, Visible: false},
		{Name: "transparent", Mask: m, Color: color.NRGBA{R: 255}, Opacity: 0, Visible: true},
		{Name: "not computed", Mask: nil, Opacity: 1, Visible: true},
		nil,
	}
	if err := Blend(img, sm, layers); err != nil {
		t.Fatal(err)
	}
	for i, v := range img.Pix {
		if v != 7 {
			t.Fatalf("byte %d = %d, want 7: no layer should draw", i, v)
		}
	}
}

func TestBlendOrderLaterOnTop(t *testing.T) {
	m, sm := square()
	img := gray(5, 5, 0)
	layers := DefaultLayers(m, nil, m)
	for _, l := range layers {
		l.Opacity = 1
	}
	if err := Blend(img, sm, layers); err != nil {
		t.Fatal(err)
	}
	tumor := layers[2].Color
	if got := img.RGBAAt(2, 2); got.R != tumor.R || got.G != tumor.G || got.B != tumor.B {
		t.Errorf("pixel under kidney and tumor = %v, want the tumor colour %v", got, tumor)
	}
}

func TestBlendRejectsWrongBounds(t *testing.T) {
	m, sm := square()
	if err := Blend(gray(4, 5, 0), sm, DefaultLayers(m, nil, nil)); err == nil {
		t.Error("Blend into a 4×5 image with a 5×5 slice map returned no error")
	}
}
