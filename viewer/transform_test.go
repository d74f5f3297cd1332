package viewer

import (
	"math"
	"testing"
)

func TestViewTransformFitsWithAspect(t *testing.T) {
	// A 40×30 slice of 2×1 mm pixels is 80×30 mm. In a 300×200 view the width limits
	// the scale: 300/80 = 3.75 units per mm, so the image is 300×112.5 units, centred.
	tr := ViewTransform{ViewW: 300, ViewH: 200, SliceW: 40, SliceH: 30, ColMM: 2, RowMM: 1, Zoom: 1}
	if got := tr.UnitsPerMM(); got != 3.75 {
		t.Errorf("UnitsPerMM = %g, want 3.75", got)
	}
	x0, y0, w, h := tr.ImageRect()
	if x0 != 0 || y0 != 43.75 || w != 300 || h != 112.5 {
		t.Errorf("ImageRect = (%g, %g, %g, %g), want (0, 43.75, 300, 112.5)", x0, y0, w, h)
	}
	// Pixel (0, 0) is 7.5 units wide and 3.75 high.
	if sx, sy := tr.ScreenOfSlice(0.5, 0.5); sx != 3.75 || sy != 45.625 {
		t.Errorf("centre of pixel (0, 0) on screen = (%g, %g), want (3.75, 45.625)", sx, sy)
	}
	cases := []struct {
		sx, sy     float64
		x, y       int
		wantInside bool
	}{
		{3.75, 45.625, 0, 0, true},
		{299.9, 156.2, 39, 29, true},
		{150, 100, 20, 15, true},
		{150, 43, 20, -1, false},
		{-0.1, 100, -1, 15, false},
	}
	for _, tc := range cases {
		x, y, inside := tr.PixelOfScreen(tc.sx, tc.sy)
		if x != tc.x || y != tc.y || inside != tc.wantInside {
			t.Errorf("PixelOfScreen(%g, %g) = (%d, %d, %v), want (%d, %d, %v)", tc.sx, tc.sy, x, y, inside, tc.x, tc.y, tc.wantInside)
		}
	}
}

func TestViewTransformZoomAboutKeepsPoint(t *testing.T) {
	tr := ViewTransform{ViewW: 300, ViewH: 200, SliceW: 40, SliceH: 30, ColMM: 2, RowMM: 1, Zoom: 1, PanX: 7, PanY: -3}
	for _, p := range [][2]float64{{150, 100}, {40, 60}, {290, 190}} {
		fx, fy := tr.SliceOfScreen(p[0], p[1])
		z := tr.ZoomAbout(2.5, p[0], p[1])
		if z.Zoom != 2.5 {
			t.Errorf("zoom after ZoomAbout(2.5) = %g, want 2.5", z.Zoom)
		}
		gx, gy := z.SliceOfScreen(p[0], p[1])
		if math.Abs(gx-fx) > 1e-9 || math.Abs(gy-fy) > 1e-9 {
			t.Errorf("slice point under (%g, %g) moved from (%g, %g) to (%g, %g) by the zoom", p[0], p[1], fx, fy, gx, gy)
		}
		sx, sy := z.ScreenOfSlice(gx, gy)
		if math.Abs(sx-p[0]) > 1e-9 || math.Abs(sy-p[1]) > 1e-9 {
			t.Errorf("ScreenOfSlice(SliceOfScreen(%g, %g)) = (%g, %g)", p[0], p[1], sx, sy)
		}
	}
}

func TestViewTransformEmptyView(t *testing.T) {
	tr := ViewTransform{ViewW: 0, ViewH: 0, SliceW: 40, SliceH: 30, ColMM: 2, RowMM: 1, Zoom: 1}
	if _, _, inside := tr.PixelOfScreen(0, 0); inside {
		t.Error("PixelOfScreen in a 0×0 view reported a pixel inside the slice")
	}
}
