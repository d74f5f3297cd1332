package edit

import (
	"encoding/binary"
	"fmt"
	"slices"

	"protrude/volume"
)

// DefaultHistoryDepth is the number of steps a new [History] keeps before it drops the
// oldest one.
const DefaultHistoryDepth = 100

// minHistoryDepth is the smallest depth [NewHistory] accepts.
const minHistoryDepth = 1

// Step is one undoable edit with the label shown in the Edit menu, such as
// "Brush radius 3 mm". It stores only the voxels that the edit changed, as a sparse
// diff per mask, never a copy of a volume.
type Step struct {
	// Label names the edit for the user.
	Label string
	diffs []maskDiff
}

// SizeBytes returns the memory the step's diffs use for their encoded voxel data, not
// counting the fixed overhead of the Go values that hold them (a few hundred bytes).
func (s *Step) SizeBytes() int {
	n := 0
	for _, d := range s.diffs {
		n += len(d.runs) + len(d.oldValues) + len(d.newValues)
	}
	return n
}

// ChangedVoxels returns the number of voxels the step changed, summed over its masks.
func (s *Step) ChangedVoxels() int {
	n := 0
	for _, d := range s.diffs {
		n += d.count
	}
	return n
}

// maskDiff is the change of one mask, encoded compactly.
//
// runs lists the changed flat offsets in increasing order as varint pairs (gap, length):
// gap is the distance from the end of the previous run (or from offset 0), and length
// is the number of consecutive changed offsets. oldValues and newValues are run-length
// encoded label sequences, one label per changed offset in the same order, as pairs
// (label byte, varint count).
type maskDiff struct {
	mask      *volume.Mask
	count     int
	runs      []byte
	oldValues []byte
	newValues []byte
}

// voxelChange is one changed voxel before encoding.
type voxelChange struct {
	offset   int
	old, new uint8
}

// encodeDiff sorts changes by offset and encodes them. Every offset must appear once.
func encodeDiff(m *volume.Mask, changes []voxelChange) maskDiff {
	byOffset := func(a, b voxelChange) int { return a.offset - b.offset }
	if !slices.IsSortedFunc(changes, byOffset) {
		slices.SortFunc(changes, byOffset)
	}
	d := maskDiff{mask: m, count: len(changes)}
	var old, new labelRuns

	end := 0
	for n := 0; n < len(changes); {
		start := changes[n].offset
		length := 1
		for n+length < len(changes) && changes[n+length].offset == start+length {
			length++
		}
		d.runs = binary.AppendUvarint(d.runs, uint64(start-end))
		d.runs = binary.AppendUvarint(d.runs, uint64(length))
		for _, c := range changes[n : n+length] {
			old.add(c.old)
			new.add(c.new)
		}
		end = start + length
		n += length
	}
	d.oldValues = old.finish()
	d.newValues = new.finish()
	return d
}

// labelRuns builds the run-length encoding of a label sequence.
type labelRuns struct {
	out   []byte
	label uint8
	count int
}

func (r *labelRuns) add(label uint8) {
	if r.count > 0 && label == r.label {
		r.count++
		return
	}
	r.flush()
	r.label, r.count = label, 1
}

func (r *labelRuns) flush() {
	if r.count > 0 {
		r.out = append(r.out, r.label)
		r.out = binary.AppendUvarint(r.out, uint64(r.count))
	}
}

func (r *labelRuns) finish() []byte {
	r.flush()
	return slices.Clip(r.out)
}

// apply writes the old labels (undo) or the new labels (redo) of the diff into its mask.
func (d *maskDiff) apply(undo bool) {
	values := d.newValues
	if undo {
		values = d.oldValues
	}
	labels := d.mask.Labels

	// The encodings were made by encodeDiff, so they are well formed and the offsets
	// lie inside the mask, whose size never changes.
	var label uint8
	remaining := 0
	offset := 0
	runs := d.runs
	for len(runs) > 0 {
		gap, n := binary.Uvarint(runs)
		runs = runs[n:]
		length, n := binary.Uvarint(runs)
		runs = runs[n:]
		offset += int(gap)
		for end := offset + int(length); offset < end; offset++ {
			if remaining == 0 {
				label = values[0]
				count, n := binary.Uvarint(values[1:])
				values = values[1+n:]
				remaining = int(count)
			}
			labels[offset] = label
			remaining--
		}
	}
}

// History is a bounded, labelled undo and redo history of mask edits.
//
// Every change to a mask that the history covers must go through the history, such as
// through an [Editor], because undo writes back the stored old labels without checking
// the mask's current content. After any other change to such a mask, call [History.Clear].
// A step also keeps a pointer to each mask it changed. So a caller that swaps a layer's
// mask for a new object must clear the history too, or undo would write into the old
// object. [Editor.Replace] changes the labels in place and needs no clear.
type History struct {
	depth int
	undo  []*Step
	redo  []*Step
	// serial counts the mask changes made through the history, and versions maps each
	// mask changed since the last Clear to the serial of its latest change.
	serial   uint64
	versions map[*volume.Mask]uint64
}

// NewHistory returns an empty history that keeps at most depth undo steps.
func NewHistory(depth int) (*History, error) {
	if depth < minHistoryDepth {
		return nil, fmt.Errorf("edit: invalid history depth %d, want at least %d", depth, minHistoryDepth)
	}
	return &History{depth: depth}, nil
}

// Depth returns the maximum number of undo steps the history keeps.
func (h *History) Depth() int { return h.depth }

// push adds a step that has already been applied to its masks. It clears the redo list
// and drops the oldest step when the history is full.
func (h *History) push(s *Step) {
	h.redo = nil
	if len(h.undo) == h.depth {
		h.undo[0] = nil
		h.undo = h.undo[1:]
	}
	h.undo = append(h.undo, s)
	h.bumpVersions(s)
}

// bumpVersions gives every mask that step s changes a new version.
func (h *History) bumpVersions(s *Step) {
	if h.versions == nil {
		h.versions = make(map[*volume.Mask]uint64)
	}
	for _, d := range s.diffs {
		h.serial++
		h.versions[d.mask] = h.serial
	}
}

// MaskVersion returns a number that changes whenever a step is added, undone or redone
// that changes m, so a caller such as an autosave can tell whether m changed since it
// last looked. It returns 0 for a mask that no step has changed since the last
// [History.Clear]. Versions are never reused, so a version read before a Clear differs
// from every version read after it, except 0.
func (h *History) MaskVersion(m *volume.Mask) uint64 { return h.versions[m] }

// Undo reverts the most recent step and returns its label, or returns ok false when
// there is nothing to undo.
func (h *History) Undo() (label string, ok bool) {
	if len(h.undo) == 0 {
		return "", false
	}
	s := h.undo[len(h.undo)-1]
	h.undo = h.undo[:len(h.undo)-1]
	for i := len(s.diffs) - 1; i >= 0; i-- {
		s.diffs[i].apply(true)
	}
	h.bumpVersions(s)
	h.redo = append(h.redo, s)
	return s.Label, true
}

// Redo applies again the most recently undone step and returns its label, or returns
// ok false when there is nothing to redo.
func (h *History) Redo() (label string, ok bool) {
	if len(h.redo) == 0 {
		return "", false
	}
	s := h.redo[len(h.redo)-1]
	h.redo = h.redo[:len(h.redo)-1]
	for i := range s.diffs {
		s.diffs[i].apply(false)
	}
	h.bumpVersions(s)
	h.undo = append(h.undo, s)
	return s.Label, true
}

// UndoLabels returns the labels of the undo steps, oldest first, so the last one is what
// [History.Undo] reverts next.
func (h *History) UndoLabels() []string { return stepLabels(h.undo) }

// RedoLabels returns the labels of the redo steps, so the last one is what [History.Redo]
// applies next.
func (h *History) RedoLabels() []string { return stepLabels(h.redo) }

// RelabelLast replaces the label of the step that [History.Undo] reverts next, such
// as to name the layer it changed. It does nothing when there is no undo step.
func (h *History) RelabelLast(label string) {
	if len(h.undo) > 0 {
		h.undo[len(h.undo)-1].Label = label
	}
}

// Steps returns the undo steps, oldest first. The caller must not change them.
func (h *History) Steps() []*Step { return slices.Clone(h.undo) }

// Clear drops every undo and redo step.
// It also drops the mask versions, so that the history no longer keeps those masks
// in memory.
func (h *History) Clear() {
	h.undo = nil
	h.redo = nil
	h.versions = nil
}

func stepLabels(steps []*Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Label
	}
	return out
}
