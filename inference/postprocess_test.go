package inference

import (
	"testing"

	"protrude/volume"
)

// postprocessGrid is 20×20×20 voxels of 2 mm: 0.008 mL per voxel.
func postprocessGrid() volume.Grid {
	return volume.Grid{Size: [3]int{20, 20, 20}, SpacingMM: volume.Vec3{2, 2, 2}, AxesLPS: [3]volume.Vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}
}

func paintCube(m *volume.Mask, min [3]int, side int) {
	for k := min[2]; k < min[2]+side; k++ {
		for j := min[1]; j < min[1]+side; j++ {
			for i := min[0]; i < min[0]+side; i++ {
				m.Labels[m.Offset(i, j, k)] = 1
			}
		}
	}
}

func countLabelled(m *volume.Mask) int {
	n := 0
	for _, l := range m.Labels {
		if l != 0 {
			n++
		}
	}
	return n
}

func TestFilterTumorComponents(t *testing.T) {
	g := postprocessGrid()
	kidney := volume.NewMask(g)
	paintCube(kidney, [3]int{2, 2, 2}, 6) // voxels 2..7

	build := func() *volume.Mask {
		tumor := volume.NewMask(g)
		paintCube(tumor, [3]int{8, 2, 2}, 3)    // 27 voxels = 0.216 mL, next to the kidney (i = 8 touches i = 7)
		paintCube(tumor, [3]int{15, 15, 15}, 3) // 27 voxels, far from the kidney
		paintCube(tumor, [3]int{4, 15, 4}, 1)   // 1 voxel = 0.008 mL, far from the kidney
		paintCube(tumor, [3]int{3, 3, 3}, 1)    // 1 voxel inside the kidney
		return tumor
	}
	cases := []struct {
		name        string
		rule        Postprocessing
		wantRemoved int
		wantVoxels  int
	}{
		{"zero rule keeps everything", Postprocessing{}, 0, 56},
		{"min 0.1 mL drops the single voxels", Postprocessing{MinTumorComponentML: 0.1}, 2, 54},
		{"min 0.216 mL keeps the 27-voxel cubes", Postprocessing{MinTumorComponentML: 0.216}, 2, 54},
		{"touch kidney drops the far ones", Postprocessing{TumorMustTouchKidney: true}, 2, 28},
		{"both rules", Postprocessing{MinTumorComponentML: 0.1, TumorMustTouchKidney: true}, 3, 27},
	}
	for _, c := range cases {
		tumor := build()
		removed, err := FilterTumorComponents(tumor, kidney, c.rule)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if removed != c.wantRemoved || countLabelled(tumor) != c.wantVoxels {
			t.Errorf("%s: removed %d components, %d voxels left; want %d and %d", c.name, removed, countLabelled(tumor),
				c.wantRemoved, c.wantVoxels)
		}
	}
}

func TestFilterTumorComponentsNeedsAMatchingKidney(t *testing.T) {
	tumor := volume.NewMask(postprocessGrid())
	paintCube(tumor, [3]int{1, 1, 1}, 2)
	small := volume.NewMask(volume.Grid{Size: [3]int{4, 4, 4}, SpacingMM: volume.Vec3{1, 1, 1}})
	if _, err := FilterTumorComponents(tumor, small, Postprocessing{TumorMustTouchKidney: true}); err == nil {
		t.Fatal("a kidney mask of another size was accepted")
	}
	if _, err := FilterTumorComponents(tumor, nil, Postprocessing{TumorMustTouchKidney: true}); err == nil {
		t.Fatal("a missing kidney mask was accepted")
	}
}
