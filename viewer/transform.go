package viewer

import "math"

// ViewTransform places a slice image inside a view and converts between screen
// positions and slice pixel coordinates.
//
// Screen positions are in the view's own units (Fyne units in the widget), with the
// origin at the view's top-left corner. Slice coordinates are continuous: pixel (x, y)
// of the slice covers [x, x+1) × [y, y+1), so its centre is at (x+0.5, y+0.5).
//
// At zoom 1 the whole slice fits the view with square millimetres (the pixel aspect
// comes from ColMM and RowMM), centred. Zoom multiplies that scale, and the pan moves
// the image centre away from the view centre.
type ViewTransform struct {
	// ViewW and ViewH are the view size in screen units.
	ViewW, ViewH float64
	// SliceW and SliceH are the slice size in pixels (one pixel per voxel).
	SliceW, SliceH int
	// ColMM and RowMM are the physical width of a slice column and height of a row.
	ColMM, RowMM float64
	// Zoom is the magnification relative to fitting the slice into the view.
	Zoom float64
	// PanX and PanY move the image centre from the view centre, in screen units.
	PanX, PanY float64
}

// UnitsPerMM returns the screen units per millimetre of patient space.
func (t ViewTransform) UnitsPerMM() float64 {
	widthMM := float64(t.SliceW) * t.ColMM
	heightMM := float64(t.SliceH) * t.RowMM
	if widthMM <= 0 || heightMM <= 0 || t.ViewW <= 0 || t.ViewH <= 0 {
		return 0
	}
	return min(t.ViewW/widthMM, t.ViewH/heightMM) * t.Zoom
}

// ImageRect returns the top-left corner and size of the slice image in screen units.
func (t ViewTransform) ImageRect() (x0, y0, w, h float64) {
	upm := t.UnitsPerMM()
	w = float64(t.SliceW) * t.ColMM * upm
	h = float64(t.SliceH) * t.RowMM * upm
	return t.ViewW/2 - w/2 + t.PanX, t.ViewH/2 - h/2 + t.PanY, w, h
}

// SliceOfScreen converts a screen position to continuous slice coordinates.
func (t ViewTransform) SliceOfScreen(sx, sy float64) (fx, fy float64) {
	x0, y0, w, h := t.ImageRect()
	if w <= 0 || h <= 0 {
		return math.NaN(), math.NaN()
	}
	return (sx - x0) / w * float64(t.SliceW), (sy - y0) / h * float64(t.SliceH)
}

// ScreenOfSlice converts continuous slice coordinates to a screen position.
func (t ViewTransform) ScreenOfSlice(fx, fy float64) (sx, sy float64) {
	x0, y0, w, h := t.ImageRect()
	return x0 + fx/float64(t.SliceW)*w, y0 + fy/float64(t.SliceH)*h
}

// PixelOfScreen returns the slice pixel under screen position (sx, sy), and false when
// the position is outside the slice.
func (t ViewTransform) PixelOfScreen(sx, sy float64) (x, y int, inside bool) {
	fx, fy := t.SliceOfScreen(sx, sy)
	if math.IsNaN(fx) || math.IsNaN(fy) {
		return 0, 0, false
	}
	x, y = int(math.Floor(fx)), int(math.Floor(fy))
	return x, y, x >= 0 && y >= 0 && x < t.SliceW && y < t.SliceH
}

// ZoomAbout multiplies the zoom by factor while keeping the slice point under screen
// position (sx, sy) in place.
func (t ViewTransform) ZoomAbout(factor, sx, sy float64) ViewTransform {
	// The offset of (sx, sy) from the image centre scales with the zoom, so the pan
	// changes by the part of that offset the zoom adds.
	dx := sx - t.ViewW/2 - t.PanX
	dy := sy - t.ViewH/2 - t.PanY
	t.Zoom *= factor
	t.PanX = sx - t.ViewW/2 - factor*dx
	t.PanY = sy - t.ViewH/2 - factor*dy
	return t
}
