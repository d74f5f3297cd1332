package viewer

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// CrosshairColor is the colour of the linked cursor lines.
var CrosshairColor = color.NRGBA{R: 0, G: 200, B: 255, A: 255}

// crosshairGap is the half-length, in device pixels, of the gap that the crosshair
// leaves around the cursor so the voxel under it stays visible.
const crosshairGap = 6

// viewOverlay is the set of marks that composeView draws over the slice image.
type viewOverlay struct {
	// cursorX and cursorY are the cursor's slice pixel, and showCursor is false when
	// the view has no cursor to draw.
	cursorX, cursorY int
	showCursor       bool
	labels           EdgeLabels
	// title is drawn in the top-left corner, such as "Axial 12/40".
	title string
}

// composeView draws the slice image into dst as placed by t, where one screen unit is
// pxPerUnit device pixels, then the crosshair and the letters of ov. Pixels outside the
// slice are black, and so is the whole view when slice is nil or not SliceW×SliceH.
// Slice pixels are sampled by nearest neighbour, so voxel edges and outlines stay sharp
// at any zoom.
func composeView(dst *image.RGBA, slice *image.RGBA, t ViewTransform, pxPerUnit float64, ov viewOverlay) {
	b := dst.Bounds()
	w, h := b.Dx(), b.Dy()
	if slice != nil && (slice.Bounds().Dx() != t.SliceW || slice.Bounds().Dy() != t.SliceH) {
		slice = nil
	}

	// The mapping is separable: each device column maps to one slice column and each
	// device row to one slice row, so two lookup tables replace a per-pixel transform.
	cols := make([]int, w)
	for px := range cols {
		fx, _ := t.SliceOfScreen((float64(px)+0.5)/pxPerUnit, 0)
		cols[px] = sliceCell(fx, t.SliceW)
	}
	for py := 0; py < h; py++ {
		row := dst.Pix[py*dst.Stride : py*dst.Stride+4*w]
		_, fy := t.SliceOfScreen(0, (float64(py)+0.5)/pxPerUnit)
		sy := sliceCell(fy, t.SliceH)
		if sy < 0 || slice == nil {
			clear(row)
			for i := 3; i < len(row); i += 4 {
				row[i] = 255
			}
			continue
		}
		src := slice.Pix[sy*slice.Stride:]
		for px, sx := range cols {
			p := row[4*px : 4*px+4 : 4*px+4]
			if sx < 0 {
				p[0], p[1], p[2], p[3] = 0, 0, 0, 255
				continue
			}
			copy(p, src[4*sx:4*sx+4])
		}
	}

	if ov.showCursor {
		cx, cy := t.ScreenOfSlice(float64(ov.cursorX)+0.5, float64(ov.cursorY)+0.5)
		drawCrosshair(dst, int(math.Floor(cx*pxPerUnit)), int(math.Floor(cy*pxPerUnit)))
	}
	drawEdgeLabels(dst, ov.labels)
	if ov.title != "" {
		drawLabel(dst, ov.title)
	}
}

// sliceCell returns the slice pixel that contains continuous coordinate f, or -1 when
// f is outside [0, n).
func sliceCell(f float64, n int) int {
	if math.IsNaN(f) || f < 0 || f >= float64(n) {
		return -1
	}
	return int(f)
}

// drawCrosshair draws a vertical line through device column x and a horizontal line
// through device row y, each leaving a gap around (x, y).
func drawCrosshair(dst *image.RGBA, x, y int) {
	b := dst.Bounds()
	c := CrosshairColor
	if x >= b.Min.X && x < b.Max.X {
		for py := b.Min.Y; py < b.Max.Y; py++ {
			if py < y-crosshairGap || py > y+crosshairGap {
				dst.SetRGBA(x, py, color.RGBA{R: c.R, G: c.G, B: c.B, A: 255})
			}
		}
	}
	if y >= b.Min.Y && y < b.Max.Y {
		for px := b.Min.X; px < b.Max.X; px++ {
			if px < x-crosshairGap || px > x+crosshairGap {
				dst.SetRGBA(px, y, color.RGBA{R: c.R, G: c.G, B: c.B, A: 255})
			}
		}
	}
}

// drawEdgeLabels writes the orientation letters at the middle of each edge of dst.
func drawEdgeLabels(dst *image.RGBA, l EdgeLabels) {
	b := dst.Bounds()
	face := basicfont.Face7x13
	const margin, ascent, lineHeight = 4, 10, 13
	midX, midY := (b.Min.X+b.Max.X)/2, (b.Min.Y+b.Max.Y)/2
	width := func(s string) int { return font.MeasureString(face, s).Ceil() }

	drawText(dst, l.Left, b.Min.X+margin, midY+ascent/2)
	drawText(dst, l.Right, b.Max.X-margin-width(l.Right), midY+ascent/2)
	drawText(dst, l.Top, midX-width(l.Top)/2, b.Min.Y+margin+ascent)
	drawText(dst, l.Bottom, midX-width(l.Bottom)/2, b.Max.Y-margin-(lineHeight-ascent))
}

// drawText writes s in yellow with a black shadow, baseline at (x, y).
func drawText(dst draw.Image, s string, x, y int) {
	if s == "" {
		return
	}
	d := font.Drawer{Dst: dst, Face: basicfont.Face7x13}
	d.Src = image.NewUniform(color.Black)
	d.Dot = fixed.P(x+1, y+1)
	d.DrawString(s)
	d.Src = image.NewUniform(color.NRGBA{R: 255, G: 220, B: 60, A: 255})
	d.Dot = fixed.P(x, y)
	d.DrawString(s)
}
