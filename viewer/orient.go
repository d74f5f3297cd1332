package viewer

import (
	"math"
	"sort"
	"strconv"

	"protrude/overlays"
	"protrude/volume"
)

// Orientation is the plane a view shows.
type Orientation int

// The three view orientations. Screen directions, all in radiological convention
// (the viewer faces the patient, so the patient's right is on the screen's left):
//
//	Axial:    columns run towards L, rows towards P (anterior at the top),
//	          slices towards S (slice 0 is the most inferior).
//	Coronal:  columns run towards L, rows towards I (superior at the top),
//	          slices towards P (slice 0 is the most anterior).
//	Sagittal: columns run towards P (anterior on the left), rows towards I,
//	          slices towards R (slice 0 is the patient's leftmost).
//
// In every orientation the slice number grows in the direction the viewer looks,
// so the wheel moves the plane away from the viewer.
const (
	Axial Orientation = iota
	Coronal
	Sagittal
)

// Orientations lists the three orientations in display order.
var Orientations = [3]Orientation{Axial, Coronal, Sagittal}

// String returns the plane name, such as "Axial".
func (o Orientation) String() string {
	switch o {
	case Axial:
		return "Axial"
	case Coronal:
		return "Coronal"
	case Sagittal:
		return "Sagittal"
	}
	return "Orientation(" + strconv.Itoa(int(o)) + ")"
}

// screenAxis is one screen direction as an LPS axis (0 L, 1 P, 2 S) and a sign.
type screenAxis struct {
	lps  int
	sign float64
}

// screenAxes gives, per orientation, the LPS direction of the screen column, row and
// slice axes.
var screenAxes = [3][3]screenAxis{
	Axial:    {{0, +1}, {1, +1}, {2, +1}},
	Coronal:  {{0, +1}, {2, -1}, {1, +1}},
	Sagittal: {{1, +1}, {2, -1}, {0, -1}},
}

// Frame maps the screen pixels of one view orientation to voxels of a grid.
//
// The frame picks, for each LPS axis, the index axis closest to it and whether it runs
// forwards or backwards. The three frames of one grid make the same choice, so their
// crosshairs agree. Slices are not resampled, so an oblique acquisition is shown along
// its nearest index axes, and the orientation letters show the obliquity.
type Frame struct {
	grid   volume.Grid
	orient Orientation
	// colAxis runs left to right on screen, rowAxis top to bottom and sliceAxis through
	// the slices, each as an index axis of the grid. A flip means the screen direction
	// runs from the last index to the first.
	colAxis, rowAxis, sliceAxis int
	colFlip, rowFlip, sliceFlip bool
}

// AxialFrame is the frame of an axial view, for callers that show axial slices only.
type AxialFrame = Frame

// NewAxialFrame returns the axial frame of g.
func NewAxialFrame(g volume.Grid) Frame { return NewFrame(g, Axial) }

// NewFrame returns the frame of g for orientation o.
func NewFrame(g volume.Grid, o Orientation) Frame {
	axisOfLPS := nearestIndexAxes(g)
	f := Frame{grid: g, orient: o}
	pick := func(sa screenAxis) (int, bool) {
		a := axisOfLPS[sa.lps]
		return a, g.AxesLPS[a][sa.lps]*sa.sign < 0
	}
	axes := screenAxes[o]
	f.colAxis, f.colFlip = pick(axes[0])
	f.rowAxis, f.rowFlip = pick(axes[1])
	f.sliceAxis, f.sliceFlip = pick(axes[2])
	return f
}

// nearestIndexAxes returns, for each LPS axis, the index axis of g closest to it. S is
// assigned first, so that a tilted axial stack keeps its slice axis, then L, then P.
func nearestIndexAxes(g volume.Grid) [3]int {
	var axisOfLPS [3]int
	used := [3]bool{}
	for _, lps := range [3]int{2, 0, 1} {
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
		axisOfLPS[lps] = best
	}
	return axisOfLPS
}

// Orientation returns the plane the frame shows.
func (f Frame) Orientation() Orientation { return f.orient }

// Grid returns the voxel grid the frame maps to.
func (f Frame) Grid() volume.Grid { return f.grid }

// Width returns the number of screen columns of a slice.
func (f Frame) Width() int { return f.grid.Size[f.colAxis] }

// Height returns the number of screen rows of a slice.
func (f Frame) Height() int { return f.grid.Size[f.rowAxis] }

// Slices returns the number of slices in this orientation.
func (f Frame) Slices() int { return f.grid.Size[f.sliceAxis] }

// PixelSpacingMM returns the physical size of a screen column and row in mm.
func (f Frame) PixelSpacingMM() (colMM, rowMM float64) {
	return f.grid.SpacingMM[f.colAxis], f.grid.SpacingMM[f.rowAxis]
}

// VoxelIndex returns the voxel index shown at screen column x and row y of slice s.
func (f Frame) VoxelIndex(x, y, s int) [3]int {
	var idx [3]int
	idx[f.colAxis] = flipIndex(x, f.grid.Size[f.colAxis], f.colFlip)
	idx[f.rowAxis] = flipIndex(y, f.grid.Size[f.rowAxis], f.rowFlip)
	idx[f.sliceAxis] = flipIndex(s, f.grid.Size[f.sliceAxis], f.sliceFlip)
	return idx
}

// SliceOfIndex returns the slice number that shows voxel index idx.
func (f Frame) SliceOfIndex(idx [3]int) int {
	return flipIndex(idx[f.sliceAxis], f.grid.Size[f.sliceAxis], f.sliceFlip)
}

// PixelOfIndex returns the screen column and row at which voxel index idx is shown in
// its slice. It is the inverse of VoxelIndex for the two in-plane axes.
func (f Frame) PixelOfIndex(idx [3]int) (x, y int) {
	return flipIndex(idx[f.colAxis], f.grid.Size[f.colAxis], f.colFlip),
		flipIndex(idx[f.rowAxis], f.grid.Size[f.rowAxis], f.rowFlip)
}

// WithSlice returns idx moved to slice s of this orientation, keeping its in-plane
// position. s is clamped to the volume.
func (f Frame) WithSlice(idx [3]int, s int) [3]int {
	s = max(0, min(s, f.Slices()-1))
	idx[f.sliceAxis] = flipIndex(s, f.grid.Size[f.sliceAxis], f.sliceFlip)
	return idx
}

func flipIndex(i, n int, flip bool) int {
	if flip {
		return n - 1 - i
	}
	return i
}

// EdgeLabels are the orientation letters shown at the middle of each edge of a view:
// the patient directions that the screen points to there.
type EdgeLabels struct {
	Left, Right, Top, Bottom string
}

// EdgeLabels returns the orientation letters of the frame, computed from the grid's LPS
// axes: an index axis tilted away from the LPS axes gets two or three letters, the
// strongest first, such as "LA" for a column direction 30° from L towards A.
func (f Frame) EdgeLabels() EdgeLabels {
	right := f.screenDirectionLPS(f.colAxis, f.colFlip)
	down := f.screenDirectionLPS(f.rowAxis, f.rowFlip)
	neg := func(v volume.Vec3) volume.Vec3 { return volume.Vec3{-v[0], -v[1], -v[2]} }
	return EdgeLabels{
		Left:   directionLetters(neg(right)),
		Right:  directionLetters(right),
		Top:    directionLetters(neg(down)),
		Bottom: directionLetters(down),
	}
}

// screenDirectionLPS returns the LPS unit vector along which a screen axis runs.
func (f Frame) screenDirectionLPS(axis int, flip bool) volume.Vec3 {
	d := f.grid.AxesLPS[axis]
	if flip {
		return volume.Vec3{-d[0], -d[1], -d[2]}
	}
	return d
}

// minLetterComponent is the smallest component of a unit direction (cos 78°) that still
// earns a letter, so a tilt of less than 12° from an LPS axis shows a single letter.
const minLetterComponent = 0.2

// directionLetters names the patient direction of the LPS vector d with the letters
// L/R, P/A and S/I of its components, the largest first.
func directionLetters(d volume.Vec3) string {
	order := []int{0, 1, 2}
	sort.SliceStable(order, func(a, b int) bool { return math.Abs(d[order[a]]) > math.Abs(d[order[b]]) })
	letters := [3][2]string{{"L", "R"}, {"P", "A"}, {"S", "I"}}
	out := ""
	for n, c := range order {
		if n > 0 && math.Abs(d[c]) < minLetterComponent {
			break
		}
		if d[c] >= 0 {
			out += letters[c][0]
		} else {
			out += letters[c][1]
		}
	}
	return out
}

// SliceMap returns the voxel offsets shown by every pixel of slice s.
func (f Frame) SliceMap(s int) overlays.SliceMap {
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
