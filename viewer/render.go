package viewer

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/disintegration/imaging"

	"protrude/overlays"
	"protrude/volume"
)

// RenderAxial returns axial slice s of ct in window wl with the layers blended on top,
// at one pixel per voxel. Every layer mask must be on ct's grid.
// It is RenderSlice under its older name.
func RenderAxial(ct *volume.Volume, f AxialFrame, s int, wl WindowLevel, layers []*overlays.Layer) (*image.RGBA, error) {
	return RenderSlice(ct, f, s, wl, layers)
}

// RenderSlice returns slice s of frame f through ct in window wl with the layers
// blended on top, at one pixel per voxel. Every layer mask must be on ct's grid.
func RenderSlice(ct *volume.Volume, f Frame, s int, wl WindowLevel, layers []*overlays.Layer) (*image.RGBA, error) {
	for _, l := range layers {
		if l != nil && l.Mask != nil && l.Mask.Size != ct.Size {
			return nil, fmt.Errorf("viewer: layer %q has size %v, want the CT size %v", l.Name, l.Mask.Size, ct.Size)
		}
	}
	sm := f.SliceMap(s)
	img := image.NewRGBA(image.Rect(0, 0, sm.W, sm.H))
	windowSlice(img, sm, ct.Voxels, wl.lut())
	if err := overlays.Blend(img, sm, layers); err != nil {
		return nil, err
	}
	return img, nil
}

// windowSlice writes the windowed gray values of the voxels in sm into img.
func windowSlice(img *image.RGBA, sm overlays.SliceMap, voxels []float32, lut grayLUT) {
	for y := 0; y < sm.H; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*sm.W]
		for x, off := range sm.Offsets[y*sm.W : (y+1)*sm.W] {
			var g uint8
			if off >= 0 {
				g = lut.gray(voxels[off])
			}
			p := row[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = g, g, g, 255
		}
	}
}

// ScaleToAspect resizes a slice image so that its pixels are square in patient space,
// with pxPerMM screen pixels per millimetre. It uses linear interpolation.
func ScaleToAspect(img image.Image, colMM, rowMM, pxPerMM float64) *image.NRGBA {
	w := int(float64(img.Bounds().Dx())*colMM*pxPerMM + 0.5)
	h := int(float64(img.Bounds().Dy())*rowMM*pxPerMM + 0.5)
	return imaging.Resize(img, max(w, 1), max(h, 1), imaging.Linear)
}

// Montage renders the given axial slices side by side in rows of cols tiles, each tile
// scaled to tileMM millimetres of patient space per tile-pixel, with the slice number
// in the top-left corner of each tile.
func Montage(ct *volume.Volume, f AxialFrame, slices []int, wl WindowLevel, layers []*overlays.Layer, cols int, pxPerMM float64) (*image.NRGBA, error) {
	if len(slices) == 0 {
		return nil, fmt.Errorf("viewer: montage needs at least one slice")
	}
	cols = max(1, min(cols, len(slices)))
	rows := (len(slices) + cols - 1) / cols
	colMM, rowMM := f.PixelSpacingMM()

	var tiles []*image.NRGBA
	for _, s := range slices {
		img, err := RenderSlice(ct, f, s, wl, layers)
		if err != nil {
			return nil, err
		}
		tile := ScaleToAspect(img, colMM, rowMM, pxPerMM)
		drawLabel(tile, fmt.Sprintf("%d", s))
		tiles = append(tiles, tile)
	}

	tw, th := tiles[0].Bounds().Dx(), tiles[0].Bounds().Dy()
	out := imaging.New(cols*tw, rows*th, color.NRGBA{A: 255})
	for i, t := range tiles {
		at := image.Pt((i%cols)*tw, (i/cols)*th)
		draw.Draw(out, t.Bounds().Add(at), t, image.Point{}, draw.Src)
	}
	return out, nil
}
