package edit

import (
	"fmt"

	"protrude/volume"
	"protrude/volume/components"
)

// DeleteComponent sets to zero the connected component of non-zero voxels that contains
// seed, under 26-connectivity and whatever their labels, and records the step
// "Delete component". It returns the number of changed voxels, or an error wrapping
// ErrNoComponent when seed is background.
//
// It labels the whole mask with components.Label, which costs one int32 per voxel of
// the foreground's bounding box.
func (e *Editor) DeleteComponent(m *volume.Mask, seed [3]int) (int, error) {
	e.EndStroke()
	if err := checkMask(m); err != nil {
		return 0, err
	}
	if !m.Contains(seed[0], seed[1], seed[2]) {
		return 0, fmt.Errorf("edit: delete component: seed %v is outside the mask of size %v", seed, m.Size)
	}
	if m.Labels[m.Offset(seed[0], seed[1], seed[2])] == 0 {
		return 0, fmt.Errorf("%w: voxel %v is background", ErrNoComponent, seed)
	}

	labeling, err := components.Label(m, components.Connectivity26)
	if err != nil {
		return 0, fmt.Errorf("edit: delete component: %w", err)
	}
	c := labeling.ComponentAt(seed[0], seed[1], seed[2])
	box := labeling.Components[c].BoundingBox
	changes := make([]voxelChange, 0, labeling.Components[c].VoxelCount)
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				if labeling.ComponentAt(i, j, k) != c {
					continue
				}
				offset := m.Offset(i, j, k)
				changes = append(changes, voxelChange{offset: offset, old: m.Labels[offset], new: 0})
				m.Labels[offset] = 0
			}
		}
	}
	e.record("Delete component", m, changes)
	return len(changes), nil
}
