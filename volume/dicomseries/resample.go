package dicomseries

import (
	"math"
	"sort"

	"protrude/volume"
)

// integerTolerance is the distance in voxels below which an in-plane frame offset
// counts as a whole number of voxels, so the frame is copied without interpolation.
const integerTolerance = 1e-6

// resampleInto fills out, on p.grid, from the decoded frames, which are in sorted
// order with rows*columns values each. Output slices run in parallel.
func (p *stackPlan) resampleInto(out *volume.Volume, frames [][]float32, rows, columns int) {
	plane := p.grid.Size[0] * p.grid.Size[1]
	parallelFor(p.grid.Size[2], func(m int) {
		dst := out.Voxels[m*plane : (m+1)*plane]
		z := float64(m) * p.grid.SpacingMM[2]

		// k is the last frame at or below z, within the tolerance.
		k := sort.SearchFloat64s(p.normalMM, z+p.toleranceMM) - 1
		switch {
		case k < 0:
			k = 0
			fallthrough
		case math.Abs(z-p.normalMM[k]) <= p.toleranceMM:
			p.sampleFrame(dst, frames[k], k, rows, columns)
		case k+1 >= len(frames):
			fill(dst, paddingHU)
		case p.normalMM[k+1]-p.normalMM[k] > p.gapMM:
			fill(dst, paddingHU)
		default:
			w := (z - p.normalMM[k]) / (p.normalMM[k+1] - p.normalMM[k])
			above := make([]float32, plane)
			p.sampleFrame(dst, frames[k], k, rows, columns)
			p.sampleFrame(above, frames[k+1], k+1, rows, columns)
			for n := range dst {
				dst[n] = float32((1-w)*float64(dst[n]) + w*float64(above[n]))
			}
		}
	})
}

// sampleFrame writes frame k, shifted by its in-plane offset, into dst on the output
// grid's plane. Output pixels outside the frame are air. A whole-voxel offset is
// copied exactly. Otherwise values are interpolated bilinearly, with air outside
// the frame.
func (p *stackPlan) sampleFrame(dst, src []float32, k, rows, columns int) {
	width, height := p.grid.Size[0], p.grid.Size[1]
	shiftI, shiftJ := p.offsetVoxels[k][0], p.offsetVoxels[k][1]
	wholeI, wholeJ := math.Round(shiftI), math.Round(shiftJ)
	if math.Abs(shiftI-wholeI) < integerTolerance && math.Abs(shiftJ-wholeJ) < integerTolerance {
		di, dj := int(wholeI), int(wholeJ)
		for j := 0; j < height; j++ {
			row := dst[j*width : (j+1)*width]
			sj := j - dj
			if sj < 0 || sj >= rows {
				fill(row, paddingHU)
				continue
			}
			for i := range row {
				si := i - di
				if si < 0 || si >= columns {
					row[i] = paddingHU
				} else {
					row[i] = src[sj*columns+si]
				}
			}
		}
		return
	}

	at := func(i, j int) float64 {
		if i < 0 || j < 0 || i >= columns || j >= rows {
			return paddingHU
		}
		return float64(src[j*columns+i])
	}
	for j := 0; j < height; j++ {
		y := float64(j) - shiftJ
		j0 := int(math.Floor(y))
		fy := y - float64(j0)
		for i := 0; i < width; i++ {
			x := float64(i) - shiftI
			i0 := int(math.Floor(x))
			fx := x - float64(i0)
			if i0 < -1 || j0 < -1 || i0 >= columns || j0 >= rows {
				dst[j*width+i] = paddingHU
				continue
			}
			v := (1-fy)*((1-fx)*at(i0, j0)+fx*at(i0+1, j0)) + fy*((1-fx)*at(i0, j0+1)+fx*at(i0+1, j0+1))
			dst[j*width+i] = float32(v)
		}
	}
}

func fill(values []float32, v float32) {
	for n := range values {
		values[n] = v
	}
}
