// Package viewer renders CT slices with their overlays and provides the Fyne widgets
// that show them: [SliceView] for one orientation and [TriView] for linked axial,
// coronal and sagittal views.
//
// Rendering is split from display: [RenderSlice] produces the RGBA image of one slice
// at the volume's own resolution, through a [Frame] that maps screen rows and columns
// to voxels in radiological convention. The widget places that image on screen with a
// [ViewTransform], which applies the physical pixel aspect ratio, zoom and pan. The same
// RGBA image feeds the PNG montage of the CLI.
package viewer

import "fmt"

// WindowLevel is a display window in Hounsfield units: values below
// LevelHU - WidthHU/2 are black and values above LevelHU + WidthHU/2 are white.
type WindowLevel struct {
	Name    string
	WidthHU float64
	LevelHU float64
}

// Window presets, named by width/level in HU. The network window is the HU range the
// models see, [-90, 210].
var (
	AbdomenWindow    = WindowLevel{Name: "Abdomen 400/40", WidthHU: 400, LevelHU: 40}
	SoftTissueWindow = WindowLevel{Name: "Soft tissue 350/50", WidthHU: 350, LevelHU: 50}
	LiverWindow      = WindowLevel{Name: "Liver 150/30", WidthHU: 150, LevelHU: 30}
	BoneWindow       = WindowLevel{Name: "Bone 1800/400", WidthHU: 1800, LevelHU: 400}
	NetworkWindow    = WindowLevel{Name: "Network 300/60 (-90 to 210)", WidthHU: 300, LevelHU: 60}
)

// Presets lists the window presets offered in the GUI, default first.
var Presets = []WindowLevel{AbdomenWindow, SoftTissueWindow, LiverWindow, BoneWindow, NetworkWindow}

// String returns the preset name, or width/level when the window has no name.
func (w WindowLevel) String() string {
	if w.Name != "" {
		return w.Name
	}
	return fmt.Sprintf("W %g / L %g HU", w.WidthHU, w.LevelHU)
}

// grayLUT maps HU to an 8-bit gray value for this window.
type grayLUT struct {
	lowHU, scale float32
}

func (w WindowLevel) lut() grayLUT {
	width := w.WidthHU
	if width < 1 {
		width = 1
	}
	return grayLUT{lowHU: float32(w.LevelHU - width/2), scale: float32(255 / width)}
}

func (l grayLUT) gray(hu float32) uint8 {
	v := (hu - l.lowHU) * l.scale
	switch {
	case v <= 0 || v != v: // NaN renders black
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
