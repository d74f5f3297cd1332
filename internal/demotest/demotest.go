// Package demotest gives tests a small real input: a cube of the embedded demo phantom
// around its tumor, on which the shipped networks run one patch each.
package demotest

import (
	"path/filepath"
	"runtime"
	"testing"

	"protrude/volume"
	"protrude/volume/nifti"
)

// tumorLabel is the tumor's label in the demo's truth file (1 is kidney).
const tumorLabel = 2

// Cube size: 60 voxels of 1.5 mm, a 90 mm cube, which fits in one 96³ patch of the
// shipped bundle at its 1 mm spacing.
const (
	cubeVoxels    = 60
	cubeSpacingMM = 1.5
)

// TumorCube returns the demo phantom resampled with trilinear interpolation to a
// 90 mm cube at 1.5 mm centred on the centroid of its tumor. The cube contains the
// tumor and part of the left kidney. It fails t when the demo files cannot be read.
func TumorCube(t testing.TB) *volume.Volume {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("demotest: cannot locate the repository from the source file")
	}
	demo := filepath.Join(filepath.Dir(file), "..", "..", "assets", "demo")
	ct, _, err := nifti.Read(filepath.Join(demo, "phantom_demo.nii.gz"))
	if err != nil {
		t.Fatalf("demotest: read the demo CT: %v", err)
	}
	truth, _, err := nifti.ReadMask(filepath.Join(demo, "phantom_demo_truth.nii.gz"))
	if err != nil {
		t.Fatalf("demotest: read the demo labels: %v", err)
	}

	// The tumor's centroid in LPS mm.
	var sum volume.Vec3
	n := 0
	for offset, l := range truth.Labels {
		if l != tumorLabel {
			continue
		}
		i, j, k := offset%truth.Size[0], (offset/truth.Size[0])%truth.Size[1], offset/(truth.Size[0]*truth.Size[1])
		p := truth.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
		for a := 0; a < 3; a++ {
			sum[a] += p[a]
		}
		n++
	}
	if n == 0 {
		t.Fatalf("demotest: the demo labels have no tumor (label %d)", tumorLabel)
	}

	g := volume.Grid{
		Size:      [3]int{cubeVoxels, cubeVoxels, cubeVoxels},
		SpacingMM: volume.Vec3{cubeSpacingMM, cubeSpacingMM, cubeSpacingMM},
		AxesLPS:   ct.AxesLPS,
	}
	for a := 0; a < 3; a++ {
		g.OriginLPS[a] = sum[a]/float64(n) - cubeSpacingMM*(cubeVoxels-1)/2
	}
	return volume.ResampleLinear(ct, g, -1024)
}
