package viewer

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"protrude/overlays"
	"protrude/volume"
)

// HoverInfo describes the voxel under the mouse pointer.
type HoverInfo struct {
	// Inside is false when the pointer is outside the image; the other fields are then zero.
	Inside bool
	// View is the orientation of the view under the pointer, and Position the pointer
	// position in that view's widget coordinates.
	View     Orientation
	Position fyne.Position
	Slice    int
	// Index is the voxel index (i, j, k) in the volume's own grid.
	Index [3]int
	// PositionLPS is the voxel centre in patient space, mm.
	PositionLPS volume.Vec3
	HU          float32
}

// PointerKind is the kind of a PointerEvent.
type PointerKind int

// Pointer event kinds.
const (
	PointerMove PointerKind = iota
	PointerDown
	PointerDrag
	PointerUp
)

// PointerEvent is a primary-button or hover event over a view, with the voxel under
// the pointer. Editing tools receive it through SliceView.OnPointer.
type PointerEvent struct {
	Kind PointerKind
	View Orientation
	// Position is the pointer position in widget coordinates.
	Position fyne.Position
	Modifier fyne.KeyModifier
	// Inside is false when the pointer is outside the slice image. Index is then the
	// nearest voxel on the slice's edge.
	Inside bool
	Index  [3]int
}

// dragMode is the action of a held mouse button while the pointer moves.
type dragMode int

const (
	dragNone dragMode = iota
	dragCursor
	dragTool
	dragPan
	dragWindow
)

// Zoom limits of a view, relative to fitting the whole slice.
const (
	MinZoom = 0.25
	MaxZoom = 32.0
)

// wheelZoomStep is the zoom factor of one Ctrl+wheel notch.
const wheelZoomStep = 1.25

// SliceView is a widget that shows one slice of a CT, in one orientation, with its
// overlay layers, a crosshair at the cursor voxel and the orientation letters.
//
// Mouse and keys:
//   - left click or drag: move the cursor (unless OnPointer handles the event);
//   - wheel: next or previous slice; Ctrl+wheel: zoom about the pointer;
//   - middle drag or Shift+left drag: pan;
//   - right drag: window width (horizontal) and level (vertical);
//   - double click: OnDoubleTapped, which the three-view layout uses to maximize.
//
// Call its methods from the UI goroutine (inside fyne.Do when working from another
// goroutine).
type SliceView struct {
	widget.BaseWidget

	orient Orientation
	ct     *volume.Volume
	frame  Frame
	layers []*overlays.Layer
	cursor [3]int
	window WindowLevel
	zoom   float64
	panX   float64
	panY   float64

	// ctrlHeld is set by SetCtrlHeld, because Fyne scroll events carry no modifiers.
	ctrlHeld bool
	// drag is the action of the held button, and lastPos the pointer position of the
	// previous drag step.
	drag    dragMode
	lastPos fyne.Position

	// OnSliceChanged is called after the shown slice changes, by the wheel, SetSlice,
	// SetCursor or a click in another linked view.
	OnSliceChanged func(slice int)
	// OnCursorMoved is called after a click, drag or wheel notch in this view moved the
	// cursor.
	OnCursorMoved func(idx [3]int)
	// OnWindowChanged is called after a right drag changed the window.
	OnWindowChanged func(WindowLevel)
	// OnHover is called when the pointer moves over the view or leaves it.
	OnHover func(HoverInfo)
	// OnPointer receives primary-button presses, drags and releases and pointer moves.
	// When it returns true for a press, that press and its drag do not move the cursor.
	OnPointer func(PointerEvent) bool
	// OnDoubleTapped is called on a double click.
	OnDoubleTapped func()
	// OnError is called when a slice cannot be rendered.
	OnError func(error)

	raster   *canvas.Raster
	sliceImg *image.RGBA
}

var (
	_ fyne.Widget         = (*SliceView)(nil)
	_ fyne.Scrollable     = (*SliceView)(nil)
	_ fyne.Draggable      = (*SliceView)(nil)
	_ fyne.DoubleTappable = (*SliceView)(nil)
	_ desktop.Hoverable   = (*SliceView)(nil)
	_ desktop.Mouseable   = (*SliceView)(nil)
	_ fyne.WidgetRenderer = (*sliceViewRenderer)(nil)
)

// NewSliceView returns an empty axial view. Call SetVolume to show a scan.
func NewSliceView() *SliceView { return NewOrientedSliceView(Axial) }

// NewOrientedSliceView returns an empty view of orientation o.
func NewOrientedSliceView(o Orientation) *SliceView {
	v := &SliceView{orient: o, window: AbdomenWindow, zoom: 1}
	v.raster = canvas.NewRaster(v.rasterImage)
	v.ExtendBaseWidget(v)
	return v
}

// SetVolume shows ct with the given layers, with the cursor at the volume centre and
// the whole slice in view.
func (v *SliceView) SetVolume(ct *volume.Volume, layers []*overlays.Layer) {
	v.ct = ct
	v.layers = layers
	v.frame = NewFrame(ct.Grid, v.orient)
	v.cursor = [3]int{ct.Size[0] / 2, ct.Size[1] / 2, ct.Size[2] / 2}
	v.zoom, v.panX, v.panY = 1, 0, 0
	v.Refresh()
	v.notifySlice()
}

// SetLayers replaces the overlay layers and redraws.
func (v *SliceView) SetLayers(layers []*overlays.Layer) {
	v.layers = layers
	v.Refresh()
}

// SetWindow changes the display window and redraws.
func (v *SliceView) SetWindow(wl WindowLevel) {
	v.window = wl
	v.Refresh()
}

// Window returns the display window.
func (v *SliceView) Window() WindowLevel { return v.window }

// Orientation returns the plane the view shows.
func (v *SliceView) Orientation() Orientation { return v.orient }

// Slices returns the number of slices in the view's orientation, 0 when no volume is
// shown.
func (v *SliceView) Slices() int {
	if v.ct == nil {
		return 0
	}
	return v.frame.Slices()
}

// Slice returns the shown slice number (see Orientation for the direction).
func (v *SliceView) Slice() int {
	if v.ct == nil {
		return 0
	}
	return v.frame.SliceOfIndex(v.cursor)
}

// Frame returns the frame of the shown volume.
func (v *SliceView) Frame() Frame { return v.frame }

// SetSlice moves the cursor to slice s, clamped to the volume, keeping its in-plane
// position.
func (v *SliceView) SetSlice(s int) {
	if v.ct == nil {
		return
	}
	v.SetCursor(v.frame.WithSlice(v.cursor, s))
}

// Cursor returns the cursor voxel index.
func (v *SliceView) Cursor() [3]int { return v.cursor }

// SetCursor moves the cursor to voxel index idx, clamped to the volume, and shows the
// slice through it. It does not call OnCursorMoved.
func (v *SliceView) SetCursor(idx [3]int) {
	if v.ct == nil {
		return
	}
	for a := range idx {
		idx[a] = max(0, min(idx[a], v.ct.Size[a]-1))
	}
	if idx == v.cursor {
		return
	}
	oldSlice := v.Slice()
	v.cursor = idx
	v.Refresh()
	if v.Slice() != oldSlice {
		v.notifySlice()
	}
}

func (v *SliceView) notifySlice() {
	if v.OnSliceChanged != nil {
		v.OnSliceChanged(v.Slice())
	}
}

// ZoomFactor returns the magnification relative to fitting the whole slice.
func (v *SliceView) ZoomFactor() float64 { return v.zoom }

// Zoom multiplies the magnification by factor about the view centre, within
// [MinZoom, MaxZoom].
func (v *SliceView) Zoom(factor float64) {
	s := v.Size()
	v.ZoomAt(factor, fyne.NewPos(s.Width/2, s.Height/2))
}

// ZoomAt multiplies the magnification by factor, within [MinZoom, MaxZoom], keeping
// the point under widget position p in place.
func (v *SliceView) ZoomAt(factor float64, p fyne.Position) {
	if factor <= 0 || math.IsNaN(factor) || math.IsInf(factor, 0) {
		return
	}
	factor = max(MinZoom, min(v.zoom*factor, MaxZoom)) / v.zoom
	t := v.transform().ZoomAbout(factor, float64(p.X), float64(p.Y))
	v.zoom, v.panX, v.panY = t.Zoom, t.PanX, t.PanY
	v.Refresh()
}

// PanOffset returns how far the image centre is moved from the view centre, in
// widget units.
func (v *SliceView) PanOffset() (dx, dy float64) { return v.panX, v.panY }

// Pan moves the image by (dx, dy) widget units.
func (v *SliceView) Pan(dx, dy float64) {
	v.panX += dx
	v.panY += dy
	v.Refresh()
}

// SetZoomPan sets the magnification, clamped to [MinZoom, MaxZoom], and the pan offset
// in widget units, as [SliceView.ZoomFactor] and [SliceView.PanOffset] return them. It
// ignores values that are not finite.
func (v *SliceView) SetZoomPan(zoom, panX, panY float64) {
	for _, x := range []float64{zoom, panX, panY} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
	}
	v.zoom, v.panX, v.panY = max(MinZoom, min(zoom, MaxZoom)), panX, panY
	v.Refresh()
}

// ResetZoom fits the whole slice into the view again.
func (v *SliceView) ResetZoom() {
	v.zoom, v.panX, v.panY = 1, 0, 0
	v.Refresh()
}

// SetCtrlHeld sets whether Ctrl is held, which turns the wheel into zoom.
// Fyne's scroll events carry no modifier keys, so the window tracks Ctrl itself.
func (v *SliceView) SetCtrlHeld(held bool) { v.ctrlHeld = held }

// transform returns the placement of the current slice in the widget.
func (v *SliceView) transform() ViewTransform {
	s := v.Size()
	t := ViewTransform{ViewW: float64(s.Width), ViewH: float64(s.Height), Zoom: v.zoom, PanX: v.panX, PanY: v.panY}
	if v.ct != nil {
		t.SliceW, t.SliceH = v.frame.Width(), v.frame.Height()
		t.ColMM, t.RowMM = v.frame.PixelSpacingMM()
	}
	return t
}

// IndexAt returns the voxel index shown at widget position p. When p is outside the
// slice image, it returns false and the nearest voxel on the slice's edge.
func (v *SliceView) IndexAt(p fyne.Position) ([3]int, bool) {
	if v.ct == nil {
		return [3]int{}, false
	}
	t := v.transform()
	if t.UnitsPerMM() <= 0 {
		return v.cursor, false
	}
	x, y, inside := t.PixelOfScreen(float64(p.X), float64(p.Y))
	x = max(0, min(x, t.SliceW-1))
	y = max(0, min(y, t.SliceH-1))
	return v.frame.VoxelIndex(x, y, v.Slice()), inside
}

// PositionOfIndex returns the widget position of the centre of voxel idx's pixel in
// this view. The slice component of idx is ignored.
func (v *SliceView) PositionOfIndex(idx [3]int) fyne.Position {
	x, y := v.frame.PixelOfIndex(idx)
	sx, sy := v.transform().ScreenOfSlice(float64(x)+0.5, float64(y)+0.5)
	return fyne.NewPos(float32(sx), float32(sy))
}

// HoverAt returns the voxel shown at widget position p.
func (v *SliceView) HoverAt(p fyne.Position) HoverInfo {
	idx, inside := v.IndexAt(p)
	if !inside {
		return HoverInfo{}
	}
	return HoverInfo{
		Inside:      true,
		View:        v.orient,
		Position:    p,
		Slice:       v.Slice(),
		Index:       idx,
		PositionLPS: v.ct.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])}),
		HU:          v.ct.At(idx[0], idx[1], idx[2]),
	}
}

// Scrolled moves one slice per wheel notch (up: slice+1), or zooms while Ctrl is held.
func (v *SliceView) Scrolled(ev *fyne.ScrollEvent) {
	if v.ctrlHeld {
		switch {
		case ev.Scrolled.DY > 0:
			v.ZoomAt(wheelZoomStep, ev.Position)
		case ev.Scrolled.DY < 0:
			v.ZoomAt(1/wheelZoomStep, ev.Position)
		}
		return
	}
	if v.ct == nil {
		return
	}
	switch {
	case ev.Scrolled.DY > 0:
		v.moveCursor(v.frame.WithSlice(v.cursor, v.Slice()+1))
	case ev.Scrolled.DY < 0:
		v.moveCursor(v.frame.WithSlice(v.cursor, v.Slice()-1))
	}
}

// MouseDown starts a drag: pan (middle button, or Shift with the left), window (right),
// an OnPointer tool or the cursor (left).
func (v *SliceView) MouseDown(ev *desktop.MouseEvent) {
	v.lastPos = ev.Position
	// A click in a view takes the keyboard focus from any side-panel widget, so that the
	// window's view keys work again.
	if app := fyne.CurrentApp(); app != nil {
		if c := app.Driver().CanvasForObject(v); c != nil {
			c.Unfocus()
		}
	}
	switch {
	case ev.Button == desktop.MouseButtonTertiary,
		ev.Button == desktop.MouseButtonPrimary && ev.Modifier&fyne.KeyModifierShift != 0:
		v.drag = dragPan
	case ev.Button == desktop.MouseButtonSecondary:
		v.drag = dragWindow
	case ev.Button == desktop.MouseButtonPrimary:
		if v.sendPointer(PointerDown, ev.Position, ev.Modifier) {
			v.drag = dragTool
			return
		}
		// A click beside the image, such as in the black margin, leaves the cursor
		// where it is. A drag that starts on the image follows the pointer to the
		// image's edge.
		if _, inside := v.IndexAt(ev.Position); !inside {
			return
		}
		v.drag = dragCursor
		v.moveCursorTo(ev.Position)
	}
}

// MouseUp ends the drag.
func (v *SliceView) MouseUp(ev *desktop.MouseEvent) {
	if v.drag == dragTool {
		v.sendPointer(PointerUp, ev.Position, ev.Modifier)
	}
	v.drag = dragNone
}

// Dragged continues a left or middle drag. Fyne sends no drag events for the right
// button, so MouseMoved handles the window drag.
func (v *SliceView) Dragged(ev *fyne.DragEvent) {
	switch v.drag {
	case dragPan:
		v.Pan(float64(ev.Dragged.DX), float64(ev.Dragged.DY))
	case dragCursor:
		v.moveCursorTo(ev.Position)
	case dragTool:
		v.sendPointer(PointerDrag, ev.Position, 0)
	}
	v.lastPos = ev.Position
}

// DragEnd is part of fyne.Draggable.
func (v *SliceView) DragEnd() {}

// DoubleTapped calls OnDoubleTapped.
func (v *SliceView) DoubleTapped(*fyne.PointEvent) {
	if v.OnDoubleTapped != nil {
		v.OnDoubleTapped()
	}
}

// DragWindow changes the window as a right drag by (dx, dy) widget units does: right
// widens the window, down raises the level. Each unit changes them by 1/256 of the
// current width, at least 1 HU, so the speed suits both narrow and bone windows.
func (v *SliceView) DragWindow(dx, dy float64) {
	step := max(1, v.window.WidthHU/256)
	wl := WindowLevel{
		WidthHU: max(1, v.window.WidthHU+dx*step),
		LevelHU: v.window.LevelHU + dy*step,
	}
	v.SetWindow(wl)
	if v.OnWindowChanged != nil {
		v.OnWindowChanged(wl)
	}
}

// moveCursorTo moves the cursor to the voxel at widget position p, or the nearest one
// on the slice's edge, and calls OnCursorMoved.
func (v *SliceView) moveCursorTo(p fyne.Position) {
	if v.ct == nil {
		return
	}
	idx, _ := v.IndexAt(p)
	v.moveCursor(idx)
}

// moveCursor moves the cursor as a user action and calls OnCursorMoved.
func (v *SliceView) moveCursor(idx [3]int) {
	v.SetCursor(idx)
	if v.OnCursorMoved != nil {
		v.OnCursorMoved(v.cursor)
	}
}

// sendPointer passes a pointer event to OnPointer and returns whether it handled it.
func (v *SliceView) sendPointer(kind PointerKind, p fyne.Position, mod fyne.KeyModifier) bool {
	if v.OnPointer == nil || v.ct == nil {
		return false
	}
	idx, inside := v.IndexAt(p)
	return v.OnPointer(PointerEvent{Kind: kind, View: v.orient, Position: p, Modifier: mod, Inside: inside, Index: idx})
}

// MouseIn is part of desktop.Hoverable.
func (v *SliceView) MouseIn(ev *desktop.MouseEvent) {
	v.lastPos = ev.Position
	v.MouseMoved(ev)
}

// MouseMoved reports the voxel under the pointer through OnHover and OnPointer, and
// continues a right-button window drag.
func (v *SliceView) MouseMoved(ev *desktop.MouseEvent) {
	if v.drag == dragWindow && ev.Button&desktop.MouseButtonSecondary != 0 {
		v.DragWindow(float64(ev.Position.X-v.lastPos.X), float64(ev.Position.Y-v.lastPos.Y))
	}
	v.lastPos = ev.Position
	v.sendPointer(PointerMove, ev.Position, ev.Modifier)
	if v.OnHover != nil {
		v.OnHover(v.HoverAt(ev.Position))
	}
}

// MouseOut is part of desktop.Hoverable.
func (v *SliceView) MouseOut() {
	if v.drag == dragWindow {
		v.drag = dragNone
	}
	if v.OnHover != nil {
		v.OnHover(HoverInfo{View: v.orient})
	}
}

// rasterImage is the raster generator: it composes the view at w×h device pixels.
func (v *SliceView) rasterImage(w, h int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	size := v.Size()
	if v.ct == nil || size.Width <= 0 {
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
		return dst
	}
	x, y := v.frame.PixelOfIndex(v.cursor)
	ov := viewOverlay{
		cursorX: x, cursorY: y, showCursor: true,
		labels: v.frame.EdgeLabels(),
		title:  fmt.Sprintf("%s %d/%d", v.orient, v.Slice()+1, v.Slices()),
	}
	composeView(dst, v.sliceImg, v.transform(), float64(w)/float64(size.Width), ov)
	return dst
}

// CreateRenderer is part of fyne.Widget.
func (v *SliceView) CreateRenderer() fyne.WidgetRenderer {
	return &sliceViewRenderer{view: v, objects: []fyne.CanvasObject{v.raster}}
}

type sliceViewRenderer struct {
	view    *SliceView
	objects []fyne.CanvasObject
}

func (r *sliceViewRenderer) Layout(size fyne.Size) {
	r.view.raster.Move(fyne.NewPos(0, 0))
	r.view.raster.Resize(size)
}

func (r *sliceViewRenderer) MinSize() fyne.Size { return fyne.NewSize(160, 160) }

// Refresh renders the current slice at voxel resolution and redraws the raster.
func (r *sliceViewRenderer) Refresh() {
	v := r.view
	if v.ct != nil {
		img, err := RenderSlice(v.ct, v.frame, v.Slice(), v.window, v.layers)
		// On an error the view turns black rather than keep a slice of another volume.
		v.sliceImg = img
		if err != nil && v.OnError != nil {
			v.OnError(err)
		}
	}
	r.Layout(v.Size())
	canvas.Refresh(v.raster)
}

func (r *sliceViewRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *sliceViewRenderer) Destroy() {}
