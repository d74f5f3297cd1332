package nifti

import (
	"fmt"
	"math"

	"protrude/volume"
)

// GridToleranceMM is the largest difference between corresponding entries of two
// grids' LPS affines, in mm, at which [ReadMaskOnGrid] treats the grids as equal. It
// equals metrics.GridToleranceMM, so a mask that this package accepts also passes
// metrics.CheckSameGrid.
const GridToleranceMM = 1e-3

// checkSameGrid returns an error unless a and b have the same size and LPS affines
// whose entries differ by at most GridToleranceMM, with the same message as
// metrics.CheckSameGrid. Package metrics cannot be imported here, because it
// imports volume/components, whose tests import this package.
func checkSameGrid(a, b volume.Grid) error {
	if a.Size != b.Size {
		return fmt.Errorf("grid sizes differ: %v and %v voxels", a.Size, b.Size)
	}
	affineA, affineB := a.AffineLPS(), b.AffineLPS()
	worst := 0.0
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			worst = max(worst, math.Abs(affineA[r][c]-affineB[r][c]))
		}
	}
	if !(worst <= GridToleranceMM) {
		return fmt.Errorf("grid affines differ by up to %.3g mm, more than %g mm: spacing %v and %v mm, origin %v and %v (LPS mm), axes %v and %v",
			worst, GridToleranceMM, a.SpacingMM, b.SpacingMM, a.OriginLPS, b.OriginLPS, a.AxesLPS, b.AxesLPS)
	}
	return nil
}
