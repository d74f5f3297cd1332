package edit

import (
	"errors"
	"fmt"
	"math"

	"protrude/volume"
)

// Shape selects the region a brush covers around the cursor.
type Shape int

const (
	// Disc paints a disc of voxels in the slice at the cursor, whose plane holds
	// [Brush.SliceAxis] fixed.
	Disc Shape = iota
	// Sphere paints a ball of voxels in 3D.
	Sphere
)

// Brush is the setting of a brush or eraser stroke.
type Brush struct {
	// RadiusMM is the brush radius in mm. A voxel is painted when its centre lies within
	// RadiusMM of the cursor path, measured in patient space. The voxel nearest the cursor
	// is always painted, so a radius below half a voxel still paints one voxel.
	RadiusMM float64
	// Shape is Disc or Sphere.
	Shape Shape
	// SliceAxis is the index axis (0, 1 or 2) held fixed by the slice plane of a Disc
	// stroke. A Sphere stroke ignores it.
	SliceAxis int
	// Label is the label the stroke writes. Zero erases.
	Label uint8
}

// stepLabel returns the history label of a stroke with this brush, such as
// "Brush radius 3 mm" or "Erase sphere radius 2.5 mm".
func (b Brush) stepLabel() string {
	tool := "Brush"
	if b.Label == 0 {
		tool = "Erase"
	}
	if b.Shape == Sphere {
		tool += " sphere"
	}
	return fmt.Sprintf("%s radius %g mm", tool, b.RadiusMM)
}

// distanceToleranceMM2 absorbs rounding in squared distances, so that a voxel centre
// exactly RadiusMM from the cursor path is painted.
const distanceToleranceMM2 = 1e-9

// stroke is a brush stroke in progress. A stroke writes one label, so each voxel changes
// at most once during it and changes lists every changed voxel once.
type stroke struct {
	mask    *volume.Mask
	brush   Brush
	slice   int // index along brush.SliceAxis of a Disc stroke
	last    volume.Vec3
	changes []voxelChange
}

// BeginStroke starts a stroke on m at the continuous voxel index at (the mouse press)
// and paints the brush there. A stroke already in progress ends first. A Disc stroke
// stays in the slice that contains at, whatever later positions are.
func (e *Editor) BeginStroke(m *volume.Mask, b Brush, at volume.Vec3) error {
	e.EndStroke()
	if err := checkMask(m); err != nil {
		return err
	}
	if !(b.RadiusMM > 0) || math.IsInf(b.RadiusMM, 0) {
		return fmt.Errorf("edit: invalid brush radius %g mm, want a finite value > 0", b.RadiusMM)
	}
	if b.Shape != Disc && b.Shape != Sphere {
		return fmt.Errorf("edit: invalid brush shape %d, want Disc (0) or Sphere (1)", b.Shape)
	}
	if err := checkSliceAxis(b.SliceAxis); err != nil {
		return err
	}
	if err := checkPosition(at); err != nil {
		return err
	}

	s := &stroke{mask: m, brush: b, last: at}
	if b.Shape == Disc {
		s.slice = nearestIndex(at[b.SliceAxis])
		if s.slice < 0 || s.slice >= m.Size[b.SliceAxis] {
			return fmt.Errorf("edit: stroke starts at index %v, outside the %d slices along axis %d", at, m.Size[b.SliceAxis], b.SliceAxis)
		}
	}
	e.stroke = s
	s.paintSegment(at, at)
	return nil
}

// StrokeTo extends the stroke in progress to the continuous voxel index at (a mouse
// drag), painting every voxel within the brush radius of the segment from the previous
// position, so fast drags leave no gaps.
func (e *Editor) StrokeTo(at volume.Vec3) error {
	if e.stroke == nil {
		return errors.New("edit: no stroke in progress, call BeginStroke first")
	}
	if err := checkPosition(at); err != nil {
		return err
	}
	e.stroke.paintSegment(e.stroke.last, at)
	e.stroke.last = at
	return nil
}

// EndStroke ends the stroke in progress (the mouse release) and records it as one step.
// It reports whether a step was recorded, which is false when no stroke was in progress
// or the stroke changed no voxel.
func (e *Editor) EndStroke() bool {
	s := e.stroke
	if s == nil {
		return false
	}
	e.stroke = nil
	if len(s.changes) == 0 {
		return false
	}
	e.record(s.brush.stepLabel(), s.mask, s.changes)
	return true
}

// CancelStroke restores the voxels the stroke in progress changed and records nothing.
func (e *Editor) CancelStroke() {
	s := e.stroke
	if s == nil {
		return
	}
	e.stroke = nil
	for _, c := range s.changes {
		s.mask.Labels[c.offset] = c.old
	}
}

// StrokeInProgress reports whether a stroke has begun and not yet ended.
func (e *Editor) StrokeInProgress() bool { return e.stroke != nil }

// paintSegment paints the capsule of radius RadiusMM around the segment p0-p1, or for
// a Disc its cross-section in the stroke's slice.
func (s *stroke) paintSegment(p0, p1 volume.Vec3) {
	m := s.mask
	b := s.brush
	sp := m.SpacingMM
	if b.Shape == Disc {
		p0[b.SliceAxis] = float64(s.slice)
		p1[b.SliceAxis] = float64(s.slice)
	}

	// Index range of the capsule's bounding box, clipped to the grid.
	var lo, hi [3]int
	for a := 0; a < 3; a++ {
		reach := b.RadiusMM / sp[a]
		lo[a] = max(0, int(math.Floor(min(p0[a], p1[a])-reach)))
		hi[a] = min(m.Size[a]-1, int(math.Ceil(max(p0[a], p1[a])+reach)))
	}
	if b.Shape == Disc {
		lo[b.SliceAxis], hi[b.SliceAxis] = s.slice, s.slice
	}

	// The segment in mm, relative to p0: a voxel at mm offset x from p0 is within the
	// radius when its distance to the closest point t*d, t in [0, 1], is.
	var d volume.Vec3
	for a := 0; a < 3; a++ {
		d[a] = (p1[a] - p0[a]) * sp[a]
	}
	dd := d[0]*d[0] + d[1]*d[1] + d[2]*d[2]
	r2 := b.RadiusMM*b.RadiusMM + distanceToleranceMM2

	for k := lo[2]; k <= hi[2]; k++ {
		for j := lo[1]; j <= hi[1]; j++ {
			for i := lo[0]; i <= hi[0]; i++ {
				x := volume.Vec3{(float64(i) - p0[0]) * sp[0], (float64(j) - p0[1]) * sp[1], (float64(k) - p0[2]) * sp[2]}
				t := 0.0
				if dd > 0 {
					t = min(1, max(0, (x[0]*d[0]+x[1]*d[1]+x[2]*d[2])/dd))
				}
				e0, e1, e2 := x[0]-t*d[0], x[1]-t*d[1], x[2]-t*d[2]
				if e0*e0+e1*e1+e2*e2 <= r2 {
					s.set(m.Offset(i, j, k))
				}
			}
		}
	}

	// The voxel nearest the end of the segment, for radii below half a voxel.
	i, j, k := nearestIndex(p1[0]), nearestIndex(p1[1]), nearestIndex(p1[2])
	if m.Contains(i, j, k) {
		s.set(m.Offset(i, j, k))
	}
}

// set writes the stroke's label at offset and records the old label when it changes.
func (s *stroke) set(offset int) {
	old := s.mask.Labels[offset]
	if old == s.brush.Label {
		return
	}
	s.mask.Labels[offset] = s.brush.Label
	s.changes = append(s.changes, voxelChange{offset: offset, old: old, new: s.brush.Label})
}

// nearestIndex returns the integer index of the voxel whose extent [i-0.5, i+0.5)
// contains the continuous index x.
func nearestIndex(x float64) int { return int(math.Floor(x + 0.5)) }

// maxPositionIndex bounds cursor coordinates, so that index arithmetic cannot overflow.
const maxPositionIndex = 1 << 30

// checkPosition rejects a cursor position that is not finite or absurdly far away.
func checkPosition(at volume.Vec3) error {
	for a := 0; a < 3; a++ {
		if math.IsNaN(at[a]) || math.Abs(at[a]) > maxPositionIndex {
			return fmt.Errorf("edit: invalid cursor index %v, want finite values within ±%d", at, maxPositionIndex)
		}
	}
	return nil
}
