// Package overlays holds the label layers drawn over a CT slice (kidney, protruded
// region, tumor) and blends them into an RGBA image.
//
// A layer's mask lives on the same grid as the CT it is drawn over. Blending works on
// one 2D slice at a time: the caller supplies, for every pixel of the output image, the
// flat voxel offset that the pixel shows, so the same code serves every view
// orientation.
package overlays

import (
	"fmt"
	"image"
	"image/color"

	"protrude/volume"
)

// Style selects how a layer is drawn.
type Style int

const (
	// Fill paints every voxel of the mask.
	Fill Style = iota
	// Outline paints only the mask voxels that have a background neighbour in the slice.
	Outline
)

// Layer is one label layer with its display settings.
type Layer struct {
	// Name is shown in the layer list, such as "Kidney".
	Name string
	// Mask is the label volume. Any non-zero label is drawn.
	Mask *volume.Mask
	// Color is the layer colour. Its alpha is ignored; Opacity sets the blend.
	Color color.NRGBA
	// Opacity is the blend weight in [0, 1].
	Opacity float64
	// Visible turns the layer on and off without losing its settings.
	Visible bool
	// Style is fill or outline.
	Style Style
}

// Names of the standard layers, in drawing order (later layers are drawn on top).
const (
	KidneyName     = "Kidney"
	ProtrusionName = "Protruded region"
	TumorName      = "Tumor"
	BaseTumorName  = "Base network tumor"
)

// DefaultLayers returns the kidney, protruded-region and tumor layers with their
// standard colours, all visible, for masks that may be nil (not computed yet).
func DefaultLayers(kidney, protrusion, tumor *volume.Mask) []*Layer {
	return []*Layer{
		{Name: KidneyName, Mask: kidney, Color: color.NRGBA{R: 40, G: 200, B: 80, A: 255}, Opacity: 0.35, Visible: true},
		{Name: ProtrusionName, Mask: protrusion, Color: color.NRGBA{R: 255, G: 200, B: 0, A: 255}, Opacity: 0.5, Visible: true},
		{Name: TumorName, Mask: tumor, Color: color.NRGBA{R: 230, G: 30, B: 60, A: 255}, Opacity: 0.6, Visible: true},
	}
}

// BaseTumorLayer returns the optional fourth layer: the base network's own tumor output,
// for comparison with the final tumor layer. It starts hidden and drawn as an outline in
// blue, so that it does not hide the tumor fill under it.
func BaseTumorLayer(baseTumor *volume.Mask) *Layer {
	return &Layer{Name: BaseTumorName, Mask: baseTumor, Color: color.NRGBA{R: 60, G: 140, B: 255, A: 255}, Opacity: 1, Visible: false, Style: Outline}
}

// SliceMap maps each pixel of a W×H slice image to the voxel it shows.
// Offsets[y*W+x] is the flat voxel offset, or -1 for a pixel outside the volume.
type SliceMap struct {
	W, H    int
	Offsets []int
}

// Blend draws the visible layers over dst, whose bounds must be W×H pixels at the
// origin. Layers are drawn in order, so later layers end up on top.
func Blend(dst *image.RGBA, sm SliceMap, layers []*Layer) error {
	if b := dst.Bounds(); b.Dx() != sm.W || b.Dy() != sm.H || b.Min != (image.Point{}) {
		return fmt.Errorf("overlays: image bounds %v do not match the %d×%d slice map", b, sm.W, sm.H)
	}
	if len(sm.Offsets) != sm.W*sm.H {
		return fmt.Errorf("overlays: slice map has %d offsets, want %d", len(sm.Offsets), sm.W*sm.H)
	}
	for _, l := range layers {
		if l == nil || !l.Visible || l.Mask == nil || l.Opacity <= 0 {
			continue
		}
		blendLayer(dst, sm, l)
	}
	return nil
}

// blendLayer mixes one layer's colour into the pixels its mask covers.
func blendLayer(dst *image.RGBA, sm SliceMap, l *Layer) {
	alpha := l.Opacity
	if alpha > 1 {
		alpha = 1
	}
	a := uint32(alpha*256 + 0.5)
	inv := 256 - a
	cr, cg, cb := uint32(l.Color.R)*a, uint32(l.Color.G)*a, uint32(l.Color.B)*a
	labels := l.Mask.Labels

	for y := 0; y < sm.H; y++ {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+4*sm.W]
		offs := sm.Offsets[y*sm.W : (y+1)*sm.W]
		for x, off := range offs {
			if off < 0 || labels[off] == 0 {
				continue
			}
			if l.Style == Outline && !isEdge(sm, labels, x, y) {
				continue
			}
			p := row[4*x : 4*x+4 : 4*x+4]
			p[0] = uint8((uint32(p[0])*inv + cr) >> 8)
			p[1] = uint8((uint32(p[1])*inv + cg) >> 8)
			p[2] = uint8((uint32(p[2])*inv + cb) >> 8)
		}
	}
}

// isEdge reports whether the labelled pixel (x, y) has a 4-neighbour in the slice that
// is background or outside the volume.
func isEdge(sm SliceMap, labels []uint8, x, y int) bool {
	for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
		nx, ny := x+d[0], y+d[1]
		if nx < 0 || ny < 0 || nx >= sm.W || ny >= sm.H {
			return true
		}
		off := sm.Offsets[ny*sm.W+nx]
		if off < 0 || labels[off] == 0 {
			return true
		}
	}
	return false
}
