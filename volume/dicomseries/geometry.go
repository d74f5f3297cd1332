package dicomseries

import (
	"fmt"
	"math"
	"sort"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

// sortAndBuildGrid sorts series in place along the slice normal and returns the grid.
// series must have passed checkConsistent, so the first slice's orientation and size
// apply to all.
func sortAndBuildGrid(series []*slice) (volume.Grid, error) {
	first := series[0]
	row, rowLength := unit(volume.Vec3{first.orientation[0], first.orientation[1], first.orientation[2]})
	column, columnLength := unit(volume.Vec3{first.orientation[3], first.orientation[4], first.orientation[5]})
	if math.Abs(rowLength-1) > 1e-2 || math.Abs(columnLength-1) > 1e-2 || math.Abs(dot(row, column)) > directionTolerance {
		return volume.Grid{}, fmt.Errorf("%s: %s is %v, want two orthogonal unit vectors: %w",
			first.name, elementName(tag.ImageOrientationPatient), first.orientation, ErrMalformed)
	}
	normal := cross(row, column)

	// Sort by position along the normal. Ties keep file name order, and are then
	// rejected as duplicates below.
	sort.SliceStable(series, func(a, b int) bool {
		return dot(series[a].positionLPS, normal) < dot(series[b].positionLPS, normal)
	})
	first = series[0]
	last := series[len(series)-1]

	g := volume.Grid{
		Size:      [3]int{first.columns, first.rows, len(series)},
		SpacingMM: volume.Vec3{first.pixelSpacing[1], first.pixelSpacing[0], 0},
		OriginLPS: first.positionLPS,
	}
	g.AxesLPS[0] = row
	g.AxesLPS[1] = column

	if len(series) == 1 {
		// One image has no slice step, so the normal gives the slice axis, and
		// SpacingBetweenSlices, or else SliceThickness, gives the spacing.
		g.AxesLPS[2] = normal
		g.SpacingMM[2] = first.spacingBetweenSlices
		if g.SpacingMM[2] == 0 {
			g.SpacingMM[2] = first.sliceThickness
		}
		if g.SpacingMM[2] == 0 {
			return volume.Grid{}, fmt.Errorf("%s: the series has one image and neither %s nor %s, so its slice spacing is unknown: %w",
				first.name, elementName(tag.SpacingBetweenSlices), elementName(tag.SliceThickness), ErrMalformed)
		}
		return g, g.Validate()
	}

	sliceAxis, extent := unit(sub(last.positionLPS, first.positionLPS))
	if extent < duplicateToleranceMM {
		return volume.Grid{}, fmt.Errorf("%s and %s: all %d slices share %s %v: %w",
			first.name, last.name, len(series), elementName(tag.ImagePositionPatient), first.positionLPS, ErrMalformed)
	}
	if tilt := math.Abs(dot(sliceAxis, row)) + math.Abs(dot(sliceAxis, column)); tilt > directionTolerance {
		angle := math.Acos(math.Min(1, math.Abs(dot(sliceAxis, normal)))) * 180 / math.Pi
		return volume.Grid{}, fmt.Errorf("slices from %s to %s are stacked %.3g° off their normal (gantry tilt or sheared positions); tilted series are not read yet, so resample the series without tilt first: %w",
			first.name, last.name, angle, ErrUnsupported)
	}
	g.AxesLPS[2] = sliceAxis

	steps, err := sliceSteps(series, sliceAxis, math.Min(g.SpacingMM[0], g.SpacingMM[1]))
	if err != nil {
		return volume.Grid{}, err
	}
	g.SpacingMM[2] = median(steps)
	for n, step := range steps {
		if math.Abs(step-g.SpacingMM[2]) > spacingTolerance*g.SpacingMM[2] {
			a, b := series[n], series[n+1]
			return volume.Grid{}, fmt.Errorf("slice spacing is not uniform: %s at %s %v and %s at %v are %.4g mm apart, but the median step is %.4g mm (more than 1%% off); a missing slice or a mixed series can cause this, and non-uniform series are not read yet: %w",
				a.name, elementName(tag.ImagePositionPatient), a.positionLPS, b.name, b.positionLPS, step, g.SpacingMM[2], ErrUnsupported)
		}
	}
	return g, g.Validate()
}

// sliceSteps returns the distances between neighbouring sorted slices along axis. It
// rejects duplicate positions and positions that stray from the line through the
// first slice along axis by more than 1% of the smallest pixel spacing.
func sliceSteps(series []*slice, axis volume.Vec3, pixelSpacingMM float64) ([]float64, error) {
	first := series[0]
	steps := make([]float64, len(series)-1)
	for n := 1; n < len(series); n++ {
		a, b := series[n-1], series[n]
		steps[n-1] = dot(sub(b.positionLPS, a.positionLPS), axis)
		if steps[n-1] < duplicateToleranceMM {
			return nil, fmt.Errorf("%s and %s have the same slice position (%s %v and %v); remove the duplicate: %w",
				a.name, b.name, elementName(tag.ImagePositionPatient), a.positionLPS, b.positionLPS, ErrMalformed)
		}

		offset := sub(b.positionLPS, first.positionLPS)
		along := dot(offset, axis)
		var across volume.Vec3
		for c := 0; c < 3; c++ {
			across[c] = offset[c] - along*axis[c]
		}
		if drift := math.Sqrt(dot(across, across)); drift > 0.01*pixelSpacingMM {
			return nil, fmt.Errorf("%s: %s %v lies %.3g mm off the line through the first and last slice positions, so the slices do not form a regular grid: %w",
				b.name, elementName(tag.ImagePositionPatient), b.positionLPS, drift, ErrUnsupported)
		}
	}
	return steps, nil
}

func median(values []float64) float64 {
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func dot(a, b volume.Vec3) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func sub(a, b volume.Vec3) volume.Vec3 { return volume.Vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

func cross(a, b volume.Vec3) volume.Vec3 {
	return volume.Vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// unit returns a divided by its length, and the length.
func unit(a volume.Vec3) (volume.Vec3, float64) {
	length := math.Sqrt(dot(a, a))
	if length == 0 {
		return a, 0
	}
	return volume.Vec3{a[0] / length, a[1] / length, a[2] / length}, length
}
