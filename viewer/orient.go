package viewer

import (
	"math"

	"protrude/overlays"
	"protrude/volume"
)

// AxialFrame maps an axial screen slice to voxels of a grid, in radiological
// convention: the patient's right on the screen's left, anterior at the top.
//
// The frame picks, for each of the LPS axes, the index axis closest to it and whether
// it runs forwards or backwards. Slices are not resampled, so an oblique acquisition is
// shown along its nearest index axes.
type AxialFrame struct {
	grid volume.Grid
	// colAxis runs left to right on screen (towards the patient's left, +L),
	// rowAxis top to bottom (towards posterior, +P) and sliceAxis through the
	// slices, slice 0 being the most inferior.
	colAxis, rowAxis, sliceAxis int
	colFlip, rowFlip, sliceFlip bool
}

// NewAxialFrame returns the axial frame of g.
func NewAxialFrame(g volume.Grid) AxialFrame {
	f := AxialFrame{grid: g}
	used := [3]bool{}
	pick := func(lps int) (int, bool) {
		best, bestAbs := -1, -1.0
		for a := 0; a < 3; a++ {
			if used[a] {
				continue
			}
			if c := math.Abs(g.AxesLPS[a][lps]); c > bestAbs {
				best, bestAbs = a, c
			}
		}
		used[best] = true
		return best, g.AxesLPS[best][lps] < 0
	}
	// The slice axis is chosen first, so that a tilted axial stack stays axial.
	f.sliceAxis, f.sliceFlip = pick(2)
	f.colAxis, f.colFlip = pick(0)
	f.rowAxis, f.rowFlip = pick(1)
	return f
}

// Width returns the number of screen columns of an axial slice.
func (f AxialFrame) Width() int { return f.grid.Size[f.colAxis] }

// Height returns the number of screen rows of an axial slice.
func (f AxialFrame) Height() int { return f.grid.Size[f.rowAxis] }

// Slices returns the number of axial slices.
func (f AxialFrame) Slices() int { return f.grid.Size[f.sliceAxis] }

// PixelSpacingMM returns the physical size of a screen column and row in mm.
func (f AxialFrame) PixelSpacingMM() (colMM, rowMM float64) {
	return f.grid.SpacingMM[f.colAxis], f.grid.SpacingMM[f.rowAxis]
}

// VoxelIndex returns the voxel index shown at screen column x and row y of slice s.
func (f AxialFrame) VoxelIndex(x, y, s int) [3]int {
	var idx [3]int
	idx[f.colAxis] = flipIndex(x, f.grid.Size[f.colAxis], f.colFlip)
	idx[f.rowAxis] = flipIndex(y, f.grid.Size[f.rowAxis], f.rowFlip)
	idx[f.sliceAxis] = flipIndex(s, f.grid.Size[f.sliceAxis], f.sliceFlip)
	return idx
}

// SliceOfIndex returns the axial slice number that shows voxel index idx.
func (f AxialFrame) SliceOfIndex(idx [3]int) int {
	return flipIndex(idx[f.sliceAxis], f.grid.Size[f.sliceAxis], f.sliceFlip)
}

func flipIndex(i, n int, flip bool) int {
	if flip {
		return n - 1 - i
	}
	return i
}

// SliceMap returns the voxel offsets shown by every pixel of slice s.
func (f AxialFrame) SliceMap(s int) overlays.SliceMap {
	w, h := f.Width(), f.Height()
	sm := overlays.SliceMap{W: w, H: h, Offsets: make([]int, w*h)}
	if s < 0 || s >= f.Slices() {
		for i := range sm.Offsets {
			sm.Offsets[i] = -1
		}
		return sm
	}
	g := f.grid
	strides := [3]int{1, g.Size[0], g.Size[0] * g.Size[1]}
	base := flipIndex(s, g.Size[f.sliceAxis], f.sliceFlip) * strides[f.sliceAxis]
	colStep, rowStep := strides[f.colAxis], strides[f.rowAxis]
	col0, row0 := 0, 0
	if f.colFlip {
		col0, colStep = (w-1)*colStep, -colStep
	}
	if f.rowFlip {
		row0, rowStep = (h-1)*rowStep, -rowStep
	}
	for y := 0; y < h; y++ {
		off := base + row0 + y*rowStep + col0
		row := sm.Offsets[y*w : (y+1)*w]
		for x := range row {
			row[x] = off
			off += colStep
		}
	}
	return sm
}
