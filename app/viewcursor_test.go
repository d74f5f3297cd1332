package main

import (
	"testing"

	"protrude/volume"
)

func TestLabelCentreVoxel(t *testing.T) {
	g := volume.Grid{Size: [3]int{10, 8, 6}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	if _, ok := labelCentreVoxel(volume.NewMask(g)); ok {
		t.Error("labelCentreVoxel of an empty mask reported a voxel")
	}
	if _, ok := labelCentreVoxel(nil); ok {
		t.Error("labelCentreVoxel of a nil mask reported a voxel")
	}

	// A 3×3×3 block centred on (6, 4, 2).
	m := volume.NewMask(g)
	for k := 1; k <= 3; k++ {
		for j := 3; j <= 5; j++ {
			for i := 5; i <= 7; i++ {
				m.Labels[g.Offset(i, j, k)] = 1
			}
		}
	}
	if got, ok := labelCentreVoxel(m); !ok || got != [3]int{6, 4, 2} {
		t.Errorf("centre of a block around (6, 4, 2) = %v, %v", got, ok)
	}

	// Two single voxels: the centroid (4.5, 0, 0) is unlabelled, so the first of the
	// two nearest labelled voxels is returned.
	m = volume.NewMask(g)
	m.Labels[g.Offset(0, 0, 0)] = 1
	m.Labels[g.Offset(9, 0, 0)] = 1
	if got, ok := labelCentreVoxel(m); !ok || got != [3]int{0, 0, 0} {
		t.Errorf("centre of two voxels at i 0 and 9 = %v, %v, want the labelled voxel (0, 0, 0)", got, ok)
	}
}
