package viewer

import (
	"testing"

	"protrude/overlays"
	"protrude/volume"
)

// BenchmarkRenderAxial512 measures one slice redraw at 512×512: windowing and blending
// three filled overlays into the RGBA image, without the screen update.
func BenchmarkRenderAxial512(b *testing.B) {
	g := volume.Grid{Size: [3]int{512, 512, 3}, SpacingMM: volume.Vec3{0.7, 0.7, 1}, AxesLPS: volume.IdentityAxesLPS}
	ct := volume.NewVolume(g)
	for i := range ct.Voxels {
		ct.Voxels[i] = float32(i%400 - 100)
	}
	masks := [3]*volume.Mask{volume.NewMask(g), volume.NewMask(g), volume.NewMask(g)}
	for i := range masks[0].Labels {
		x, y := i%512, (i/512)%512
		if x > 100 && x < 400 && y > 100 && y < 400 {
			masks[0].Labels[i] = 1
		}
		if x > 200 && x < 300 && y > 200 && y < 300 {
			masks[1].Labels[i] = 1
			masks[2].Labels[i] = 1
		}
	}
	layers := overlays.DefaultLayers(masks[0], masks[1], masks[2])
	f := NewAxialFrame(g)
	b.ResetTimer()
	for b.Loop() {
		if _, err := RenderAxial(ct, f, 1, AbdomenWindow, layers); err != nil {
			b.Fatal(err)
		}
	}
}
