package inference

import (
	"fmt"

	"protrude/volume"
	"protrude/volume/components"
)

// FilterTumorComponents applies rule to tumor in place and returns the number of
// components it removed. kidney must share tumor's grid; it is read only when
// rule.TumorMustTouchKidney is set. Components are 26-connected, as in the metrics
// and the lesion list.
func FilterTumorComponents(tumor, kidney *volume.Mask, rule Postprocessing) (int, error) {
	if rule.MinTumorComponentML <= 0 && !rule.TumorMustTouchKidney {
		return 0, nil
	}
	if rule.TumorMustTouchKidney && (kidney == nil || kidney.Size != tumor.Size || len(kidney.Labels) != len(tumor.Labels)) {
		return 0, fmt.Errorf("inference: tumor postprocessing needs a kidney mask of size %v", tumor.Size)
	}
	labeling, err := components.Label(tumor, components.Connectivity26)
	if err != nil {
		return 0, fmt.Errorf("inference: tumor postprocessing: %w", err)
	}
	if len(labeling.Components) == 0 {
		return 0, nil
	}

	keep := make([]bool, len(labeling.Components))
	for n, c := range labeling.Components {
		keep[n] = c.VolumeML >= rule.MinTumorComponentML
	}
	if rule.TumorMustTouchKidney {
		touches := make([]bool, len(labeling.Components))
		forEachLabelled(labeling, func(i, j, k, n int) {
			if keep[n] && !touches[n] && kidneyNear(kidney, i, j, k) {
				touches[n] = true
			}
		})
		for n := range keep {
			keep[n] = keep[n] && touches[n]
		}
	}

	removed := 0
	for _, keepComponent := range keep {
		if !keepComponent {
			removed++
		}
	}
	if removed == 0 {
		return 0, nil
	}
	forEachLabelled(labeling, func(i, j, k, n int) {
		if !keep[n] {
			tumor.Labels[tumor.Offset(i, j, k)] = 0
		}
	})
	return removed, nil
}

// forEachLabelled calls visit with the grid index and component index of every
// foreground voxel of labeling.
func forEachLabelled(labeling *components.Labeling, visit func(i, j, k, component int)) {
	box := labeling.Box
	offset := 0
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				if label := labeling.Labels[offset]; label != 0 {
					visit(i, j, k, int(label)-1)
				}
				offset++
			}
		}
	}
}

// kidneyNear reports whether voxel (i, j, k) or one of its 26 neighbours is kidney.
func kidneyNear(kidney *volume.Mask, i, j, k int) bool {
	for dk := -1; dk <= 1; dk++ {
		for dj := -1; dj <= 1; dj++ {
			for di := -1; di <= 1; di++ {
				if kidney.Contains(i+di, j+dj, k+dk) && kidney.Labels[kidney.Offset(i+di, j+dj, k+dk)] != 0 {
					return true
				}
			}
		}
	}
	return false
}
