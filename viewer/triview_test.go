package viewer

import (
	"image"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"protrude/overlays"
	"protrude/volume"
)

// phantomSize and phantomSpacingMM set the 40×30×24 grid of phantom3D: 78×29×34.5 mm
// between the outer voxel centres, centred on the LPS origin.
var (
	phantomSize      = [3]int{40, 30, 24}
	phantomSpacingMM = volume.Vec3{2, 1, 1.5}
)

// phantomGrid returns a grid whose voxel centres are those of the 40×30×24 phantom
// grid with axes L, P and S, stored along the given axes, which must each be ±L, ±P or
// ±S. The size, spacing and origin follow the axes, so every such grid covers the same
// box around the LPS origin.
func phantomGrid(axes [3]volume.Vec3) volume.Grid {
	g := volume.Grid{AxesLPS: axes}
	for a := range 3 {
		lps := 0
		for c := range 3 {
			if axes[a][c] != 0 {
				lps = c
			}
		}
		g.Size[a], g.SpacingMM[a] = phantomSize[lps], phantomSpacingMM[lps]
		half := float64(g.Size[a]-1) * g.SpacingMM[a] / 2
		for c := range 3 {
			g.OriginLPS[c] -= axes[a][c] * half
		}
	}
	return g
}

// phantom3D fills grid g from shapes defined in LPS mm, so that two grids covering the
// same box show the same anatomy. It draws a soft-tissue body and a kidney on the
// patient's left, with a tumor protruding from the kidney's lateral, superior edge and
// a base-network tumor shifted from it.
func phantom3D(g volume.Grid) (*volume.Volume, []*overlays.Layer) {
	ct := volume.NewVolume(g)
	kidney, protrusion, tumor, base := volume.NewMask(g), volume.NewMask(g), volume.NewMask(g), volume.NewMask(g)
	inEllipsoid := func(p, c, r volume.Vec3) bool {
		var s float64
		for a := range 3 {
			d := (p[a] - c[a]) / r[a]
			s += d * d
		}
		return s < 1
	}
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				p := g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
				off := g.Offset(i, j, k)
				ct.Voxels[off] = -1000
				if inEllipsoid(p, volume.Vec3{0, 0, 0}, volume.Vec3{38, 14, 17}) {
					ct.Voxels[off] = 40
				}
				inKidney := inEllipsoid(p, volume.Vec3{14, 3, -2}, volume.Vec3{9, 5, 10})
				inTumor := inEllipsoid(p, volume.Vec3{23, 3, 5}, volume.Vec3{5, 4, 5})
				if inKidney || inTumor {
					kidney.Labels[off] = 1
					ct.Voxels[off] = 30
				}
				if inTumor {
					tumor.Labels[off] = 1
					if !inKidney {
						protrusion.Labels[off] = 1
					}
				}
				if inEllipsoid(p, volume.Vec3{21, 4, 3}, volume.Vec3{5, 3, 4}) {
					base.Labels[off] = 1
				}
			}
		}
	}
	layers := overlays.DefaultLayers(kidney, protrusion, tumor)
	b := overlays.BaseTumorLayer(base)
	b.Visible = true
	return ct, append(layers, b)
}

// cursorLPS is a point inside phantom3D's tumor. No coordinate is half-way between two
// voxel centres, so the nearest voxel is the same on every grid of the phantom.
var cursorLPS = volume.Vec3{23.4, 3.2, 5.3}

// newTestTriView shows ct in a 480×320 test window with the cursor on the tumor.
func newTestTriView(t *testing.T, ct *volume.Volume, layers []*overlays.Layer) (*TriView, fyne.Window) {
	t.Helper()
	test.NewTempApp(t)
	tv := NewTriView()
	w := test.NewWindow(tv)
	t.Cleanup(w.Close)
	w.Resize(fyne.NewSize(480, 320))
	tv.SetVolume(ct, layers)
	tv.SetCursorLPS(cursorLPS)
	return tv, w
}

func withStyle(layers []*overlays.Layer, s overlays.Style) []*overlays.Layer {
	for _, l := range layers {
		l.Style = s
		l.Opacity = 1
	}
	return layers
}

func TestTriViewGoldenFill(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	layers[3].Visible = false // an outline layer; the outline golden shows it
	_, w := newTestTriView(t, ct, layers)
	test.AssertImageMatches(t, "triview_fill.png", w.Canvas().Capture())
}

func TestTriViewGoldenOutline(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	_, w := newTestTriView(t, ct, withStyle(layers, overlays.Outline))
	test.AssertImageMatches(t, "triview_outline.png", w.Canvas().Capture())
}

// TestTriViewFlippedGridSameImage stores the phantom with every axis reversed and
// permuted. The views depend on patient space only, so the capture, orientation
// letters included, must equal the identity grid's golden image.
func TestTriViewFlippedGridSameImage(t *testing.T) {
	axes := [3]volume.Vec3{{0, 0, -1}, {-1, 0, 0}, {0, -1, 0}} // i to I, j to R, k to A
	ct, layers := phantom3D(phantomGrid(axes))
	tv, w := newTestTriView(t, ct, withStyle(layers, overlays.Outline))
	want := EdgeLabels{Left: "R", Right: "L", Top: "A", Bottom: "P"}
	if got := tv.View(Axial).Frame().EdgeLabels(); got != want {
		t.Errorf("axial letters of the flipped grid = %+v, want %+v", got, want)
	}
	test.AssertImageMatches(t, "triview_outline.png", w.Canvas().Capture())
}

func TestTriViewGoldenCoronalMaximizedZoomed(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	tv, w := newTestTriView(t, ct, withStyle(layers, overlays.Outline))
	tv.Maximize(Coronal)
	c := tv.View(Coronal)
	c.ZoomAt(2, c.PositionOfIndex(tv.Cursor()))
	test.AssertImageMatches(t, "triview_coronal_zoom.png", w.Canvas().Capture())
}

func TestTriViewClickMovesOtherSlices(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	tv, _ := newTestTriView(t, ct, layers)
	var changed [][3]int
	tv.OnCursorChanged = func(idx [3]int) { changed = append(changed, idx) }
	start := tv.Cursor()

	// Click the coronal view on voxel (5, cursor j, 20): the coronal slice stays, and the
	// sagittal and axial views move to i = 5 and k = 20.
	c := tv.View(Coronal)
	target := [3]int{5, start[1], 20}
	at := c.PositionOfIndex(target)
	c.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: at}, Button: desktop.MouseButtonPrimary})
	c.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: at}, Button: desktop.MouseButtonPrimary})

	if got := tv.Cursor(); got != target {
		t.Fatalf("cursor after the coronal click = %v, want %v", got, target)
	}
	if len(changed) != 1 || changed[0] != target {
		t.Errorf("OnCursorChanged calls = %v, want [%v]", changed, target)
	}

	// A click in the black margin beside the image leaves the cursor alone.
	margin := fyne.NewPos(1, c.Size().Height-1)
	if _, inside := c.IndexAt(margin); inside {
		t.Fatalf("position %v is on the coronal image, want one in its margin", margin)
	}
	c.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: margin}, Button: desktop.MouseButtonPrimary})
	c.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: margin}, Button: desktop.MouseButtonPrimary})
	if got := tv.Cursor(); got != target {
		t.Errorf("cursor after a click in the margin = %v, want it still at %v", got, target)
	}
	if got, want := tv.View(Axial).Slice(), 20; got != want {
		t.Errorf("axial slice = %d, want %d (k of the clicked voxel)", got, want)
	}
	if got, want := tv.View(Sagittal).Slice(), phantomSize[0]-1-5; got != want {
		t.Errorf("sagittal slice = %d, want %d (slices run towards R)", got, want)
	}
	if got := tv.View(Coronal).Slice(); got != start[1] {
		t.Errorf("coronal slice = %d, want it unchanged at %d", got, start[1])
	}

	// Dragging on, to a second voxel, follows the pointer.
	target2 := [3]int{8, start[1], 15}
	c.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: at}, Button: desktop.MouseButtonPrimary})
	c.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: c.PositionOfIndex(target2)}})
	if got := tv.Cursor(); got != target2 {
		t.Errorf("cursor after dragging to %v = %v", target2, got)
	}
}

func TestTriViewScreenIndexLPSRoundTrip(t *testing.T) {
	axes := [3]volume.Vec3{{0, 0, -1}, {-1, 0, 0}, {0, -1, 0}}
	g := volume.Grid{Size: [3]int{24, 40, 30}, SpacingMM: volume.Vec3{1.5, 2, 1}, AxesLPS: axes}
	ct, layers := phantom3D(g)
	tv, _ := newTestTriView(t, ct, layers)
	for _, o := range Orientations {
		v := tv.View(o)
		for _, idx := range [][3]int{{0, 0, 0}, {23, 39, 29}, {7, 11, 13}} {
			tv.SetCursor(idx)
			p := v.PositionOfIndex(idx)
			got, inside := v.IndexAt(p)
			if !inside || got != idx {
				t.Errorf("%s: IndexAt(PositionOfIndex(%v) = %v) = %v, inside %v", o, idx, p, got, inside)
			}
			h := v.HoverAt(p)
			want := ct.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])})
			if h.PositionLPS != want {
				t.Errorf("%s: hover LPS at voxel %v = %v, want %v", o, idx, h.PositionLPS, want)
			}
			tv.SetCursorLPS(want)
			if c := tv.Cursor(); c != idx {
				t.Errorf("SetCursorLPS(%v) = cursor %v, want %v", want, c, idx)
			}
		}
	}
}

func TestTriViewWheelZoomAndPan(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	tv, _ := newTestTriView(t, ct, layers)
	s := tv.View(Sagittal)
	before := tv.Cursor()

	// A plain wheel notch up moves the sagittal plane one voxel towards R (i - 1).
	s.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: 1}})
	if got := tv.Cursor(); got != [3]int{before[0] - 1, before[1], before[2]} {
		t.Errorf("cursor after a sagittal wheel notch = %v, want i one lower than %v", got, before)
	}

	// Ctrl+wheel zooms about the pointer: the voxel under it stays under it.
	tv.SetCtrlHeld(true)
	p := fyne.NewPos(s.Size().Width/3, s.Size().Height/2)
	under, _ := s.IndexAt(p)
	slice := s.Slice()
	s.Scrolled(&fyne.ScrollEvent{PointEvent: fyne.PointEvent{Position: p}, Scrolled: fyne.Delta{DY: 1}})
	if got := s.ZoomFactor(); got != wheelZoomStep {
		t.Errorf("zoom after one Ctrl+wheel notch = %g, want %g", got, wheelZoomStep)
	}
	if got, _ := s.IndexAt(p); got != under {
		t.Errorf("voxel under the pointer changed from %v to %v by the zoom", under, got)
	}
	if s.Slice() != slice {
		t.Errorf("Ctrl+wheel moved the slice from %d to %d", slice, s.Slice())
	}
	for range 40 {
		s.Zoom(2)
	}
	if got := s.ZoomFactor(); got != MaxZoom {
		t.Errorf("zoom after 40 doublings = %g, want the limit %g", got, MaxZoom)
	}
	tv.SetCtrlHeld(false)

	// Shift+left drag and middle drag pan by the drag distance.
	a := tv.View(Axial)
	start := fyne.NewPos(100, 100)
	a.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: start}, Button: desktop.MouseButtonPrimary, Modifier: fyne.KeyModifierShift})
	a.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(110, 95)}, Dragged: fyne.NewDelta(10, -5)})
	a.MouseUp(&desktop.MouseEvent{Button: desktop.MouseButtonPrimary})
	a.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: start}, Button: desktop.MouseButtonTertiary})
	a.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(103, 102)}, Dragged: fyne.NewDelta(3, 2)})
	a.MouseUp(&desktop.MouseEvent{Button: desktop.MouseButtonTertiary})
	if dx, dy := a.PanOffset(); dx != 13 || dy != -3 {
		t.Errorf("axial pan after drags of (10, -5) and (3, 2) = (%g, %g), want (13, -3)", dx, dy)
	}
	if got := tv.Cursor(); got != [3]int{before[0] - 1, before[1], before[2]} {
		t.Errorf("panning moved the cursor to %v", got)
	}
}

func TestTriViewRightDragSetsSharedWindow(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	tv, _ := newTestTriView(t, ct, layers)
	var reported []WindowLevel
	tv.OnWindowChanged = func(wl WindowLevel) { reported = append(reported, wl) }
	c := tv.View(Coronal)
	start := fyne.NewPos(50, 50)
	c.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: start}, Button: desktop.MouseButtonSecondary})
	c.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(60, 45)}, Button: desktop.MouseButtonSecondary})
	c.MouseUp(&desktop.MouseEvent{Button: desktop.MouseButtonSecondary})

	// The abdomen window is 400 HU wide, so one unit is 400/256 = 1.5625 HU.
	want := WindowLevel{WidthHU: 400 + 10*1.5625, LevelHU: 40 - 5*1.5625}
	for _, o := range Orientations {
		if got := tv.View(o).Window(); got != want {
			t.Errorf("%s window after a right drag by (10, -5) = %+v, want %+v", o, got, want)
		}
	}
	if len(reported) != 1 || reported[0] != want {
		t.Errorf("OnWindowChanged calls = %v, want [%v]", reported, want)
	}

	// Moving without the button does not change the window.
	c.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(90, 90)}})
	if got := tv.Window(); got != want {
		t.Errorf("window after a move without a button = %+v, want %+v", got, want)
	}
}

func TestTriViewPointerToolTakesLeftDrag(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	tv, _ := newTestTriView(t, ct, layers)
	var events []PointerEvent
	tv.SetOnPointer(func(ev PointerEvent) bool {
		if ev.Kind != PointerMove {
			events = append(events, ev)
		}
		return true
	})
	before := tv.Cursor()
	a := tv.View(Axial)
	target := [3]int{4, 6, before[2]}
	p := a.PositionOfIndex(target)
	a.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: p}, Button: desktop.MouseButtonPrimary})
	a.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: a.PositionOfIndex([3]int{5, 6, 0})}})
	a.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: p}, Button: desktop.MouseButtonPrimary})

	if got := tv.Cursor(); got != before {
		t.Errorf("cursor moved to %v while a tool handled the drag", got)
	}
	if len(events) != 3 {
		t.Fatalf("tool received %d events, want press, drag and release: %+v", len(events), events)
	}
	kinds := []PointerKind{PointerDown, PointerDrag, PointerUp}
	indexes := [][3]int{target, {5, 6, before[2]}, target}
	for i, ev := range events {
		if ev.Kind != kinds[i] || ev.Index != indexes[i] || !ev.Inside || ev.View != Axial {
			t.Errorf("tool event %d = %+v, want kind %d at voxel %v inside the axial view", i, ev, kinds[i], indexes[i])
		}
	}
}

func TestTriViewDoubleTapMaximizes(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	tv, w := newTestTriView(t, ct, layers)
	s := tv.View(Sagittal)
	s.DoubleTapped(&fyne.PointEvent{})
	if o, ok := tv.Maximized(); !ok || o != Sagittal {
		t.Fatalf("Maximized() after a double click on the sagittal view = %v, %v", o, ok)
	}
	if tv.View(Axial).Visible() || !s.Visible() {
		t.Error("after maximizing the sagittal view, the axial view is visible or the sagittal one is not")
	}
	if got, want := s.Size(), w.Canvas().Size(); got.Width < want.Width*0.9 {
		t.Errorf("maximized view size %v, want about the canvas size %v", got, want)
	}
	s.DoubleTapped(&fyne.PointEvent{})
	if _, ok := tv.Maximized(); ok || !tv.View(Axial).Visible() {
		t.Error("a second double click did not restore the three views")
	}
}

// TestTriViewOutlineInEveryView checks that an outlined layer leaves the interior of
// the kidney unpainted in all three orientations.
func TestTriViewOutlineInEveryView(t *testing.T) {
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	layers = withStyle(layers[:1], overlays.Outline)
	centre := ct.LPSToIndex(volume.Vec3{14, 3, -2})
	idx := [3]int{int(centre[0] + 0.5), int(centre[1] + 0.5), int(centre[2] + 0.5)}
	for _, o := range Orientations {
		f := NewFrame(ct.Grid, o)
		img, err := RenderSlice(ct, f, f.SliceOfIndex(idx), AbdomenWindow, layers)
		if err != nil {
			t.Fatal(err)
		}
		x, y := f.PixelOfIndex(idx)
		if c := img.RGBAAt(x, y); c.R != c.G || c.G != c.B {
			t.Errorf("%s: kidney centre pixel = %v, want gray (outline leaves the inside)", o, c)
		}
		if edge := firstColoured(img, y); edge < 0 {
			t.Errorf("%s: no outline pixel on row %d through the kidney centre", o, y)
		}
	}
}

// firstColoured returns the first column of row y whose pixel is not gray, or -1.
func firstColoured(img *image.RGBA, y int) int {
	for x := 0; x < img.Bounds().Dx(); x++ {
		if c := img.RGBAAt(x, y); c.R != c.G || c.G != c.B {
			return x
		}
	}
	return -1
}

// TestSliceViewRenderErrorTurnsBlack shows a mask on the wrong grid: the view reports the
// error and draws no pixel of a stale or mismatched slice.
func TestSliceViewRenderErrorTurnsBlack(t *testing.T) {
	test.NewTempApp(t)
	ct, layers := phantom3D(phantomGrid(volume.IdentityAxesLPS))
	v := NewSliceView()
	var errs []error
	v.OnError = func(err error) { errs = append(errs, err) }
	w := test.NewWindow(v)
	defer w.Close()
	w.Resize(fyne.NewSize(200, 150))
	v.SetVolume(ct, layers)
	if len(errs) != 0 {
		t.Fatalf("errors on a valid volume: %v", errs)
	}

	// The same axial slice size, one slice fewer: the stale slice would fit the view.
	shorter := volume.NewVolume(volume.Grid{Size: [3]int{40, 30, 23}, SpacingMM: phantomSpacingMM, AxesLPS: volume.IdentityAxesLPS})
	v.SetVolume(shorter, layers) // the layer masks are 40×30×24
	if len(errs) == 0 {
		t.Fatal("no error for layer masks on another grid")
	}
	img := w.Canvas().Capture()
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// 40 HU, the phantom body, is gray 128 in the abdomen window.
			if r, g, bl, _ := img.At(x, y).RGBA(); r>>8 == 128 && g>>8 == 128 && bl>>8 == 128 {
				t.Fatalf("pixel (%d, %d) is the body's gray 128: a CT slice was drawn despite the error", x, y)
			}
		}
	}
}
