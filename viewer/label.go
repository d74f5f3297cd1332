package viewer

import (
	"image"
	"image/color"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// drawLabel writes text in white on a dark box in the top-left corner of img.
func drawLabel(img draw.Image, text string) {
	face := basicfont.Face7x13
	w := font.MeasureString(face, text).Ceil() + 6
	box := image.Rect(0, 0, w, 17).Intersect(img.Bounds())
	draw.Draw(img, box, image.NewUniform(color.NRGBA{A: 180}), image.Point{}, draw.Over)
	d := font.Drawer{
		Dst:  img,
		Src:  image.NewUniform(color.White),
		Face: face,
		Dot:  fixed.P(3, 13),
	}
	d.DrawString(text)
}
