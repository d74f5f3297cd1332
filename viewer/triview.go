package viewer

import (
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"protrude/overlays"
	"protrude/volume"
)

// TriView is a widget with linked axial, coronal and sagittal views of one CT: one
// cursor voxel, shown by the crosshair in each view and choosing each view's slice,
// and one display window. The axial view fills the left part; the coronal view sits
// at the top right and the sagittal view at the bottom right. Any view can be
// maximized to fill the widget.
//
// Call its methods from the UI goroutine.
type TriView struct {
	widget.BaseWidget

	views [3]*SliceView
	// maximized is the orientation that fills the widget, or -1.
	maximized Orientation
	box       *fyne.Container

	// OnCursorChanged is called after a click, drag or wheel notch in any view moved the
	// cursor.
	OnCursorChanged func(idx [3]int)
	// OnWindowChanged is called after a right drag in any view changed the window.
	OnWindowChanged func(WindowLevel)
	// OnHover is called when the pointer moves over a view or leaves it.
	OnHover func(HoverInfo)
	// OnMaximizeChanged is called after Maximize or Restore changed the layout.
	OnMaximizeChanged func()
}

var _ fyne.Widget = (*TriView)(nil)

// NewTriView returns an empty three-view widget. Call SetVolume to show a scan.
func NewTriView() *TriView {
	tv := &TriView{maximized: -1}
	for _, o := range Orientations {
		v := NewOrientedSliceView(o)
		v.OnCursorMoved = func(idx [3]int) {
			tv.SetCursor(idx)
			if tv.OnCursorChanged != nil {
				tv.OnCursorChanged(tv.Cursor())
			}
		}
		v.OnWindowChanged = func(wl WindowLevel) {
			tv.SetWindow(wl)
			if tv.OnWindowChanged != nil {
				tv.OnWindowChanged(wl)
			}
		}
		v.OnHover = func(h HoverInfo) {
			if tv.OnHover != nil {
				tv.OnHover(h)
			}
		}
		v.OnDoubleTapped = func() { tv.ToggleMaximize(o) }
		tv.views[o] = v
	}
	tv.box = container.New(&triLayout{tv: tv}, tv.views[0], tv.views[1], tv.views[2])
	tv.ExtendBaseWidget(tv)
	return tv
}

// View returns the view of orientation o.
func (tv *TriView) View(o Orientation) *SliceView { return tv.views[o] }

// SetVolume shows ct with the given layers in all three views, with the cursor at the
// volume centre.
func (tv *TriView) SetVolume(ct *volume.Volume, layers []*overlays.Layer) {
	for _, v := range tv.views {
		v.SetVolume(ct, layers)
	}
}

// SetLayers replaces the overlay layers of all three views and redraws.
func (tv *TriView) SetLayers(layers []*overlays.Layer) {
	for _, v := range tv.views {
		v.SetLayers(layers)
	}
}

// Cursor returns the shared cursor voxel index.
func (tv *TriView) Cursor() [3]int { return tv.views[Axial].Cursor() }

// SetCursor moves the shared cursor to voxel index idx, clamped to the volume, which
// moves the crosshair and the slice of every view. It does not call OnCursorChanged.
func (tv *TriView) SetCursor(idx [3]int) {
	for _, v := range tv.views {
		v.SetCursor(idx)
	}
}

// SetSlice moves the shared cursor to slice s of the view of orientation o, clamped to
// the volume, keeping its position in that plane. It does not call OnCursorChanged.
func (tv *TriView) SetSlice(o Orientation, s int) {
	v := tv.views[o]
	if v.ct == nil {
		return
	}
	tv.SetCursor(v.frame.WithSlice(v.cursor, s))
}

// SetCursorLPS moves the shared cursor to the voxel nearest to the LPS point p (mm).
func (tv *TriView) SetCursorLPS(p volume.Vec3) {
	v := tv.views[Axial]
	if v.ct == nil {
		return
	}
	c := v.ct.LPSToIndex(p)
	tv.SetCursor([3]int{int(math.Round(c[0])), int(math.Round(c[1])), int(math.Round(c[2]))})
}

// Window returns the shared display window.
func (tv *TriView) Window() WindowLevel { return tv.views[Axial].Window() }

// SetWindow sets the display window of all three views.
func (tv *TriView) SetWindow(wl WindowLevel) {
	for _, v := range tv.views {
		v.SetWindow(wl)
	}
}

// SetCtrlHeld sets whether Ctrl is held, which turns the wheel into zoom.
func (tv *TriView) SetCtrlHeld(held bool) {
	for _, v := range tv.views {
		v.SetCtrlHeld(held)
	}
}

// SetOnPointer sets the OnPointer callback of all three views, for editing tools.
func (tv *TriView) SetOnPointer(fn func(PointerEvent) bool) {
	for _, v := range tv.views {
		v.OnPointer = fn
	}
}

// Maximized returns the orientation that fills the widget, and false when all three
// views are shown.
func (tv *TriView) Maximized() (Orientation, bool) { return tv.maximized, tv.maximized >= 0 }

// Maximize lets the view of orientation o fill the widget.
func (tv *TriView) Maximize(o Orientation) {
	tv.setMaximized(o)
}

// Restore shows all three views again.
func (tv *TriView) Restore() { tv.setMaximized(-1) }

// ToggleMaximize maximizes the view of orientation o, or restores the three views when
// it is already maximized.
func (tv *TriView) ToggleMaximize(o Orientation) {
	if tv.maximized == o {
		tv.Restore()
	} else {
		tv.Maximize(o)
	}
}

func (tv *TriView) setMaximized(o Orientation) {
	if tv.maximized == o {
		return
	}
	tv.maximized = o
	for _, v := range tv.views {
		if o < 0 || v.orient == o {
			v.Show()
		} else {
			v.Hide()
		}
	}
	tv.box.Refresh()
	if tv.OnMaximizeChanged != nil {
		tv.OnMaximizeChanged()
	}
}

// Refresh redraws all three views, such as after a layer's settings changed.
func (tv *TriView) Refresh() {
	for _, v := range tv.views {
		v.Refresh()
	}
}

// CreateRenderer is part of fyne.Widget.
func (tv *TriView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(tv.box)
}

// triLayout places the axial view on the left 55 % of the width and the coronal and
// sagittal views above each other on the right, or the maximized view alone.
type triLayout struct {
	tv *TriView
}

// viewGap is the space between the views, in Fyne units.
const viewGap = 2

func (l *triLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	views := l.tv.views
	if o, ok := l.tv.Maximized(); ok {
		views[o].Move(fyne.NewPos(0, 0))
		views[o].Resize(size)
		return
	}
	leftW := size.Width*0.55 - viewGap/2
	rightX := leftW + viewGap
	rightW := size.Width - rightX
	halfH := (size.Height - viewGap) / 2
	views[Axial].Move(fyne.NewPos(0, 0))
	views[Axial].Resize(fyne.NewSize(leftW, size.Height))
	views[Coronal].Move(fyne.NewPos(rightX, 0))
	views[Coronal].Resize(fyne.NewSize(rightW, halfH))
	views[Sagittal].Move(fyne.NewPos(rightX, halfH+viewGap))
	views[Sagittal].Resize(fyne.NewSize(rightW, size.Height-halfH-viewGap))
}

func (l *triLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	m := l.tv.views[0].MinSize()
	return fyne.NewSize(2*m.Width+viewGap, 2*m.Height+viewGap)
}
