package edit

import (
	"testing"

	"protrude/overlays"
	"protrude/volume"
)

func TestTopmostLayerAt(t *testing.T) {
	g := anisotropicGrid([3]int{4, 1, 1})
	kidney := volume.NewMask(g)
	tumor := volume.NewMask(g)
	kidney.Labels = []uint8{1, 1, 1, 0}
	tumor.Labels = []uint8{0, 1, 1, 0}
	layers := overlays.DefaultLayers(kidney, nil, tumor)
	hidden := overlays.DefaultLayers(kidney, nil, tumor)
	hidden[2].Visible = false
	transparent := overlays.DefaultLayers(kidney, nil, tumor)
	transparent[2].Opacity = 0

	cases := []struct {
		name   string
		layers []*overlays.Layer
		offset int
		want   int
	}{
		{"kidney only", layers, 0, 0},
		{"tumor over kidney", layers, 1, 2},
		{"background", layers, 3, -1},
		{"outside the volume", layers, -1, -1},
		{"past the end", layers, 4, -1},
		{"hidden tumor", hidden, 1, 0},
		{"transparent tumor", transparent, 2, 0},
		{"no layers", nil, 1, -1},
	}
	for _, c := range cases {
		if got := TopmostLayerAt(c.layers, c.offset); got != c.want {
			t.Errorf("%s: offset %d gives layer %d, want %d", c.name, c.offset, got, c.want)
		}
	}
}
