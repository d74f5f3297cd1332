package viewer

import (
	"image"
	"image/color"
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
	Slice  int
	// Index is the voxel index (i, j, k) in the volume's own grid.
	Index [3]int
	// PositionLPS is the voxel centre in patient space, mm.
	PositionLPS volume.Vec3
	HU          float32
}

// SliceView is a widget that shows one axial CT slice with its overlay layers.
// The mouse wheel moves through the slices. Call its methods from the UI goroutine
// (inside fyne.Do when working from another goroutine).
type SliceView struct {
	widget.BaseWidget

	ct     *volume.Volume
	frame  AxialFrame
	layers []*overlays.Layer
	slice  int
	window WindowLevel

	// OnSliceChanged is called after the slice changes by the wheel or SetSlice.
	OnSliceChanged func(slice int)
	// OnHover is called when the pointer moves over the view or leaves it.
	OnHover func(HoverInfo)
	// OnPointer is called with the pointer position whenever it moves over the view,
	// and with inside false when it leaves.
	OnPointer func(pos fyne.Position, inside bool)
	// OnError is called when a slice cannot be rendered.
	OnError func(error)

	img *canvas.Image
	// imagePos and imageSize are the slice image's position and size inside the
	// widget, in widget coordinates.
	imagePos  fyne.Position
	imageSize fyne.Size
}

var (
	_ fyne.Widget         = (*SliceView)(nil)
	_ fyne.Scrollable     = (*SliceView)(nil)
	_ desktop.Hoverable   = (*SliceView)(nil)
	_ fyne.WidgetRenderer = (*sliceViewRenderer)(nil)
)

// NewSliceView returns an empty view. Call SetVolume to show a scan.
func NewSliceView() *SliceView {
	v := &SliceView{window: AbdomenWindow}
	v.img = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 1, 1)))
	v.img.FillMode = canvas.ImageFillStretch
	v.img.ScaleMode = canvas.ImageScaleSmooth
	v.ExtendBaseWidget(v)
	return v
}

// SetVolume shows ct with the given layers, starting at the middle slice.
func (v *SliceView) SetVolume(ct *volume.Volume, layers []*overlays.Layer) {
	v.ct = ct
	v.layers = layers
	v.frame = NewAxialFrame(ct.Grid)
	v.slice = v.frame.Slices() / 2
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

// Slices returns the number of axial slices, 0 when no volume is shown.
func (v *SliceView) Slices() int {
	if v.ct == nil {
		return 0
	}
	return v.frame.Slices()
}

// Slice returns the current slice number, 0 being the most inferior.
func (v *SliceView) Slice() int { return v.slice }

// Frame returns the axial frame of the shown volume.
func (v *SliceView) Frame() AxialFrame { return v.frame }

// SetSlice moves to slice s, clamped to the volume.
func (v *SliceView) SetSlice(s int) {
	if v.ct == nil {
		return
	}
	s = max(0, min(s, v.frame.Slices()-1))
	if s == v.slice {
		return
	}
	v.slice = s
	v.Refresh()
	v.notifySlice()
}

func (v *SliceView) notifySlice() {
	if v.OnSliceChanged != nil {
		v.OnSliceChanged(v.slice)
	}
}

// Scrolled moves one slice per wheel notch: up goes superior, down inferior.
func (v *SliceView) Scrolled(ev *fyne.ScrollEvent) {
	switch {
	case ev.Scrolled.DY > 0:
		v.SetSlice(v.slice + 1)
	case ev.Scrolled.DY < 0:
		v.SetSlice(v.slice - 1)
	}
}

// MouseIn is part of desktop.Hoverable.
func (v *SliceView) MouseIn(ev *desktop.MouseEvent) { v.MouseMoved(ev) }

// MouseMoved reports the voxel under the pointer through OnHover.
func (v *SliceView) MouseMoved(ev *desktop.MouseEvent) {
	if v.OnPointer != nil {
		v.OnPointer(ev.Position, true)
	}
	if v.OnHover != nil {
		v.OnHover(v.HoverAt(ev.Position))
	}
}

// MouseOut is part of desktop.Hoverable.
func (v *SliceView) MouseOut() {
	if v.OnPointer != nil {
		v.OnPointer(fyne.Position{}, false)
	}
	if v.OnHover != nil {
		v.OnHover(HoverInfo{})
	}
}

// HoverAt returns the voxel shown at widget position p.
func (v *SliceView) HoverAt(p fyne.Position) HoverInfo {
	if v.ct == nil || v.imageSize.Width <= 0 || v.imageSize.Height <= 0 {
		return HoverInfo{}
	}
	fx := float64(p.X-v.imagePos.X) / float64(v.imageSize.Width) * float64(v.frame.Width())
	fy := float64(p.Y-v.imagePos.Y) / float64(v.imageSize.Height) * float64(v.frame.Height())
	x, y := int(math.Floor(fx)), int(math.Floor(fy))
	if x < 0 || y < 0 || x >= v.frame.Width() || y >= v.frame.Height() {
		return HoverInfo{}
	}
	idx := v.frame.VoxelIndex(x, y, v.slice)
	return HoverInfo{
		Inside:      true,
		Slice:       v.slice,
		Index:       idx,
		PositionLPS: v.ct.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])}),
		HU:          v.ct.At(idx[0], idx[1], idx[2]),
	}
}

// CreateRenderer is part of fyne.Widget.
func (v *SliceView) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Black)
	return &sliceViewRenderer{view: v, background: bg, objects: []fyne.CanvasObject{bg, v.img}}
}

type sliceViewRenderer struct {
	view       *SliceView
	background *canvas.Rectangle
	objects    []fyne.CanvasObject
}

func (r *sliceViewRenderer) Layout(size fyne.Size) {
	r.background.Resize(size)
	v := r.view
	if v.ct == nil {
		v.img.Resize(fyne.NewSize(0, 0))
		return
	}
	colMM, rowMM := v.frame.PixelSpacingMM()
	widthMM := float32(float64(v.frame.Width()) * colMM)
	heightMM := float32(float64(v.frame.Height()) * rowMM)
	scale := min(size.Width/widthMM, size.Height/heightMM)
	v.imageSize = fyne.NewSize(widthMM*scale, heightMM*scale)
	v.imagePos = fyne.NewPos((size.Width-v.imageSize.Width)/2, (size.Height-v.imageSize.Height)/2)
	v.img.Move(v.imagePos)
	v.img.Resize(v.imageSize)
}

func (r *sliceViewRenderer) MinSize() fyne.Size { return fyne.NewSize(256, 256) }

func (r *sliceViewRenderer) Refresh() {
	v := r.view
	if v.ct != nil {
		img, err := RenderAxial(v.ct, v.frame, v.slice, v.window, v.layers)
		if err != nil {
			if v.OnError != nil {
				v.OnError(err)
			}
		} else {
			v.img.Image = img
		}
	}
	r.Layout(v.Size())
	canvas.Refresh(v.img)
	r.background.Refresh()
}

func (r *sliceViewRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *sliceViewRenderer) Destroy() {}
