// Package edit changes label masks by hand: brush and eraser strokes, in-slice flood
// fill and deletion of a connected component, with a bounded undo and redo history.
//
// # Coordinates
//
// Positions are voxel indices of the mask's grid (see package volume). A cursor position
// is a continuous index, whose integer values are voxel centres. Distances, such as a
// brush radius, are in mm, measured with the grid's spacing along each index axis, so
// anisotropic voxels paint a round disc or sphere in patient space. A slice plane is
// named by the index axis held fixed, as in [Brush.SliceAxis] and
// [FillOptions.SliceAxis]. [NearestAxis] finds that axis for the axial, coronal or
// sagittal plane of a grid.
//
// # History
//
// Every edit through an [Editor] is one step of its [History], labelled for the Edit
// menu ("Brush radius 3 mm", "Fill", "Delete component"). A stroke, from
// [Editor.BeginStroke] to [Editor.EndStroke], is one step however long it is. A step
// stores only the changed voxels: their offsets as run-length encoded varints and their
// old and new labels as run-length encoded bytes. An edit that changes no voxel adds no
// step.
//
// Nothing here is safe for concurrent use. The caller, such as the GUI, serialises edits
// and redraws after each call.
package edit

import (
	"errors"
	"fmt"
	"math"

	"protrude/volume"
)

// Editor applies edits to masks and records each one in its History.
type Editor struct {
	// History holds the steps of the edits made through this editor.
	History *History
	stroke  *stroke
}

// NewEditor returns an editor with an empty history of the given depth, such as
// [DefaultHistoryDepth].
func NewEditor(depth int) (*Editor, error) {
	h, err := NewHistory(depth)
	if err != nil {
		return nil, err
	}
	return &Editor{History: h}, nil
}

// Undo ends a stroke in progress, then reverts the most recent step. It returns the
// step's label, or ok false when there is nothing to undo.
func (e *Editor) Undo() (label string, ok bool) {
	e.EndStroke()
	return e.History.Undo()
}

// Redo ends a stroke in progress, then applies again the most recently undone step. A
// stroke that ended here clears the redo list, as every new step does.
func (e *Editor) Redo() (label string, ok bool) {
	e.EndStroke()
	return e.History.Redo()
}

// Replace sets the labels of m to newLabels as one step, such as "Re-run fusion", and
// returns the number of changed voxels. newLabels must have one label per voxel of m,
// and the editor does not keep it.
func (e *Editor) Replace(label string, m *volume.Mask, newLabels []uint8) (int, error) {
	return e.ReplaceAll(label, []Replacement{{Mask: m, Labels: newLabels}})
}

// Replacement is the new content of one mask for [Editor.ReplaceAll].
type Replacement struct {
	// Mask is the mask to change in place.
	Mask *volume.Mask
	// Labels has one new label per voxel of Mask.
	Labels []uint8
}

// ReplaceAll sets the labels of several masks as one step, such as "Re-run fusion" when
// it changes the tumor and protruded-region layers together, so that one undo restores
// them all. It checks every replacement before it changes any mask, and returns the
// number of changed voxels over all masks.
func (e *Editor) ReplaceAll(label string, replacements []Replacement) (int, error) {
	e.EndStroke()
	for n, r := range replacements {
		if err := checkMask(r.Mask); err != nil {
			return 0, fmt.Errorf("edit: replace %q, mask %d: %w", label, n, err)
		}
		if len(r.Labels) != len(r.Mask.Labels) {
			return 0, fmt.Errorf("edit: replace %q: %d new labels, want %d for mask size %v", label, len(r.Labels), len(r.Mask.Labels), r.Mask.Size)
		}
		for _, earlier := range replacements[:n] {
			if earlier.Mask == r.Mask {
				return 0, fmt.Errorf("edit: replace %q: mask %d appears twice", label, n)
			}
		}
	}

	step := &Step{Label: label}
	total := 0
	for _, r := range replacements {
		var changes []voxelChange
		for offset, l := range r.Labels {
			if old := r.Mask.Labels[offset]; old != l {
				changes = append(changes, voxelChange{offset: offset, old: old, new: l})
				r.Mask.Labels[offset] = l
			}
		}
		if len(changes) > 0 {
			step.diffs = append(step.diffs, encodeDiff(r.Mask, changes))
			total += len(changes)
		}
	}
	if total > 0 {
		e.History.push(step)
	}
	return total, nil
}

// record pushes a step for changes that are already applied to m, unless there are none.
func (e *Editor) record(label string, m *volume.Mask, changes []voxelChange) {
	if len(changes) == 0 {
		return
	}
	e.History.push(&Step{Label: label, diffs: []maskDiff{encodeDiff(m, changes)}})
}

// NearestAxis returns the index axis of g whose direction is closest to being parallel
// to directionLPS. The axial plane of g holds NearestAxis(g, volume.Vec3{0, 0, 1}) fixed,
// the coronal plane {0, 1, 0} and the sagittal plane {1, 0, 0}. For an oblique grid two
// directions can give the same axis.
func NearestAxis(g volume.Grid, directionLPS volume.Vec3) int {
	best, bestDot := 0, -1.0
	for a := 0; a < 3; a++ {
		d := math.Abs(g.AxesLPS[a][0]*directionLPS[0] + g.AxesLPS[a][1]*directionLPS[1] + g.AxesLPS[a][2]*directionLPS[2])
		if d > bestDot {
			best, bestDot = a, d
		}
	}
	return best
}

// ErrNoComponent is returned by [Editor.DeleteComponent] for a background voxel.
var ErrNoComponent = errors.New("edit: no labelled voxel at the clicked position")

// checkMask rejects a nil mask and one whose label count does not match its grid.
func checkMask(m *volume.Mask) error {
	if m == nil {
		return errors.New("edit: no mask selected")
	}
	for a := 0; a < 3; a++ {
		if m.Size[a] <= 0 {
			return fmt.Errorf("edit: invalid mask size %v, want every axis > 0", m.Size)
		}
		if !(m.SpacingMM[a] > 0) || math.IsInf(m.SpacingMM[a], 0) {
			return fmt.Errorf("edit: invalid mask spacing %v mm, want finite values > 0", m.SpacingMM)
		}
	}
	if len(m.Labels) != m.NumVoxels() {
		return fmt.Errorf("edit: mask has %d labels, want %d for size %v", len(m.Labels), m.NumVoxels(), m.Size)
	}
	return nil
}

// checkSliceAxis rejects an axis other than 0, 1 or 2.
func checkSliceAxis(axis int) error {
	if axis < 0 || axis > 2 {
		return fmt.Errorf("edit: invalid slice axis %d, want 0 (i), 1 (j) or 2 (k)", axis)
	}
	return nil
}

// inPlaneAxes returns the two index axes that vary within a slice at fixed axis, in
// increasing order.
func inPlaneAxes(axis int) (u, v int) {
	switch axis {
	case 0:
		return 1, 2
	case 1:
		return 0, 2
	default:
		return 0, 1
	}
}
