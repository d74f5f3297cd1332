package edit

import "protrude/overlays"

// TopmostLayerAt returns the index in layers of the layer drawn on top at the flat voxel
// offset, or -1 when no layer is drawn there. Layers are drawn in order, later ones on
// top, so this is the last layer that is visible, has a mask and an opacity above zero,
// and has a non-zero label at offset. A Ctrl-click selects this layer for editing.
//
// An offset outside a layer's mask counts as background, so a negative offset (a pixel
// outside the volume in an overlays.SliceMap) returns -1.
func TopmostLayerAt(layers []*overlays.Layer, offset int) int {
	for n := len(layers) - 1; n >= 0; n-- {
		l := layers[n]
		if l == nil || !l.Visible || l.Mask == nil || l.Opacity <= 0 {
			continue
		}
		if offset < 0 || offset >= len(l.Mask.Labels) {
			continue
		}
		if l.Mask.Labels[offset] != 0 {
			return n
		}
	}
	return -1
}
