package viewer

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"protrude/overlays"
	"protrude/volume"
)

// phantomSlices returns a 40×30×3 volume with 2×1×1 mm voxels: a soft-tissue disc with
// a brighter blob, and a kidney-like mask with a tumor on its edge.
func phantomSlices() (*volume.Volume, []*overlays.Layer) {
	g := volume.Grid{Size: [3]int{40, 30, 3}, SpacingMM: volume.Vec3{2, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	ct := volume.NewVolume(g)
	kidney, protrusion, tumor := volume.NewMask(g), volume.NewMask(g), volume.NewMask(g)
	for k := 0; k < 3; k++ {
		for j := 0; j < 30; j++ {
			for i := 0; i < 40; i++ {
				x, y := float64(i-20)*2, float64(j-15)
				off := g.Offset(i, j, k)
				ct.Voxels[off] = -1000
				if x*x/1600+y*y/196 < 1 {
					ct.Voxels[off] = 40
				}
				kx, ky := x-10, y
				if kx*kx/100+ky*ky/36 < 1 {
					kidney.Labels[off] = 1
					ct.Voxels[off] = 30
				}
				tx, ty := x-20, y
				if tx*tx+ty*ty < 16 {
					tumor.Labels[off] = 1
					kidney.Labels[off] = 1
					if kx*kx/100+ky*ky/36 >= 1 {
						protrusion.Labels[off] = 1
					}
				}
			}
		}
	}
	return ct, overlays.DefaultLayers(kidney, protrusion, tumor)
}

func TestSliceViewGoldenFill(t *testing.T) {
	test.NewTempApp(t)
	ct, layers := phantomSlices()
	v := NewSliceView()
	w := test.NewWindow(v)
	defer w.Close()
	w.Resize(fyne.NewSize(300, 200))
	v.SetVolume(ct, layers)
	test.AssertImageMatches(t, "sliceview_fill.png", w.Canvas().Capture())
}

func TestSliceViewGoldenOutline(t *testing.T) {
	test.NewTempApp(t)
	ct, layers := phantomSlices()
	for _, l := range layers {
		l.Style = overlays.Outline
		l.Opacity = 1
	}
	v := NewSliceView()
	w := test.NewWindow(v)
	defer w.Close()
	w.Resize(fyne.NewSize(300, 200))
	v.SetVolume(ct, layers)
	test.AssertImageMatches(t, "sliceview_outline.png", w.Canvas().Capture())
}

func TestSliceViewScrollAndHover(t *testing.T) {
	test.NewTempApp(t)
	ct, layers := phantomSlices()
	v := NewSliceView()
	w := test.NewWindow(v)
	defer w.Close()
	w.Resize(fyne.NewSize(300, 200))
	v.SetVolume(ct, layers)

	var changed []int
	v.OnSliceChanged = func(s int) { changed = append(changed, s) }
	if got := v.Slice(); got != 1 {
		t.Fatalf("initial slice = %d, want the middle slice 1", got)
	}
	v.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: 1}})
	v.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: 1}}) // clamped at the last slice
	if got := v.Slice(); got != 2 {
		t.Errorf("slice after two wheel-ups = %d, want 2 (clamped)", got)
	}
	v.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: -1}})
	if len(changed) != 2 || changed[0] != 2 || changed[1] != 1 {
		t.Errorf("OnSliceChanged calls = %v, want [2 1]", changed)
	}

	var got HoverInfo
	v.OnHover = func(h HoverInfo) { got = h }
	centre := fyne.NewPos(v.Size().Width/2+1, v.Size().Height/2+1)
	v.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: centre}})
	if !got.Inside || got.Index != [3]int{20, 15, 1} {
		t.Errorf("hover at the image centre = %+v, want voxel (20, 15, 1)", got)
	}
	if got.HU != 40 {
		t.Errorf("hover HU = %g, want 40", got.HU)
	}
	v.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(0, 0)}})
	if got.Inside {
		t.Errorf("hover at the widget corner = %+v, want outside the image", got)
	}
}
