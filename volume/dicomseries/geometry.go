package dicomseries

import (
	"fmt"
	"math"
	"sort"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

// MaxVoxels is the largest number of voxels a loaded volume, and the stack of
// source slices it is resampled from, may each have: 2^30 voxels, 4 GiB of float32.
// Larger series fail before any pixel data is read.
const MaxVoxels = 1 << 30

// stackPlan places the sorted frames of a stack on the output grid.
type stackPlan struct {
	grid volume.Grid
	// direct is set when frame k is output slice k unchanged, so frames are decoded
	// straight into the volume.
	direct bool
	// normalMM[k] is the position of frame k along AxesLPS[2], relative to the grid
	// origin, in mm.
	normalMM []float64
	// offsetVoxels[k] is the position of frame k's first pixel relative to the grid
	// origin along AxesLPS[0] and AxesLPS[1], in voxels. It is non-zero only for
	// gantry tilt.
	offsetVoxels [][2]float64
	// gapMM is the smallest step between frames that counts as a gap: output slices
	// inside a gap are air, never interpolated.
	gapMM float64
	// toleranceMM is the distance along the normal within which an output slice
	// takes one frame's values without interpolation.
	toleranceMM float64
	warnings    []string
}

// planStack sorts series in place along the slice normal and returns the output
// grid. series must have passed checkConsistent, so the first slice's orientation
// and size apply to all.
//
// Frames that lie on a uniform grid, within 1% of the slice spacing, are used as
// they are, with spacing (last - first) / (n - 1). Otherwise the output grid has
// the median step as spacing and starts at the first frame, and each output slice
// is interpolated linearly along the normal from the two frames around it. A step
// wider than twice the median is a gap: the output slices inside it are air
// (paddingHU). Gantry tilt, where frame positions step at an angle to the normal,
// is resampled to a rectangular grid along the normal that covers every frame.
func planStack(series []*slice) (*stackPlan, error) {
	first := series[0]
	row, rowLength := unit(volume.Vec3{first.orientation[0], first.orientation[1], first.orientation[2]})
	column, columnLength := unit(volume.Vec3{first.orientation[3], first.orientation[4], first.orientation[5]})
	if math.Abs(rowLength-1) > 1e-2 || math.Abs(columnLength-1) > 1e-2 || math.Abs(dot(row, column)) > directionTolerance {
		return nil, fmt.Errorf("%s: %s is %v, want two orthogonal unit vectors: %w",
			first.name, elementName(tag.ImageOrientationPatient), first.orientation, ErrMalformed)
	}
	normal := cross(row, column)

	// Sort by position along the normal. Ties keep file name order, and are then
	// rejected as duplicates below.
	sort.SliceStable(series, func(a, b int) bool {
		return dot(series[a].positionLPS, normal) < dot(series[b].positionLPS, normal)
	})
	first = series[0]

	p := &stackPlan{grid: volume.Grid{
		Size:      [3]int{first.columns, first.rows, len(series)},
		SpacingMM: volume.Vec3{first.pixelSpacing[1], first.pixelSpacing[0], 0},
		OriginLPS: first.positionLPS,
		AxesLPS:   [3]volume.Vec3{row, column, normal},
	}}
	if err := checkVoxelCount(p.grid.Size, "the series"); err != nil {
		return nil, err
	}

	if len(series) == 1 {
		// One image has no slice step, so SpacingBetweenSlices, or else
		// SliceThickness, gives the spacing.
		p.direct = true
		p.grid.SpacingMM[2] = first.spacingBetweenSlices
		if p.grid.SpacingMM[2] == 0 {
			p.grid.SpacingMM[2] = first.sliceThickness
		}
		if p.grid.SpacingMM[2] == 0 {
			return nil, fmt.Errorf("%s: the series has one image and neither %s nor %s, so its slice spacing is unknown: %w",
				first.name, elementName(tag.SpacingBetweenSlices), elementName(tag.SliceThickness), ErrMalformed)
		}
		return p, p.grid.Validate()
	}

	// Positions along the normal and in-plane offsets, relative to the first frame.
	n := len(series)
	p.normalMM = make([]float64, n)
	offsetsMM := make([][2]float64, n)
	for k, s := range series {
		d := sub(s.positionLPS, first.positionLPS)
		p.normalMM[k] = dot(d, normal)
		offsetsMM[k] = [2]float64{dot(d, row), dot(d, column)}
		if k > 0 && p.normalMM[k]-p.normalMM[k-1] < duplicateToleranceMM {
			a := series[k-1]
			return nil, fmt.Errorf("%s and %s have the same slice position (%s %v and %v); remove the duplicate: %w",
				a.name, s.name, elementName(tag.ImagePositionPatient), a.positionLPS, s.positionLPS, ErrMalformed)
		}
	}
	extentMM := p.normalMM[n-1]

	// The in-plane offsets must grow linearly along the normal: zero without tilt,
	// a constant shear per mm with it.
	pixelMM := math.Min(p.grid.SpacingMM[0], p.grid.SpacingMM[1])
	shear := [2]float64{offsetsMM[n-1][0] / extentMM, offsetsMM[n-1][1] / extentMM}
	for k, s := range series {
		du := offsetsMM[k][0] - shear[0]*p.normalMM[k]
		dv := offsetsMM[k][1] - shear[1]*p.normalMM[k]
		if drift := math.Hypot(du, dv); drift > 0.01*pixelMM {
			return nil, fmt.Errorf("%s: %s %v lies %.3g mm off the line through the first and last slice positions, so the slices do not form a regular grid: %w",
				s.name, elementName(tag.ImagePositionPatient), s.positionLPS, drift, ErrUnsupported)
		}
	}
	tilted := math.Hypot(offsetsMM[n-1][0], offsetsMM[n-1][1]) > 0.01*pixelMM

	steps := make([]float64, n-1)
	for k := range steps {
		steps[k] = p.normalMM[k+1] - p.normalMM[k]
	}
	meanStep := extentMM / float64(n-1)
	uniform := true
	for k := range series {
		if math.Abs(p.normalMM[k]-float64(k)*meanStep) > spacingTolerance*meanStep {
			uniform = false
		}
	}
	if uniform && !tilted {
		p.direct = true
		p.grid.SpacingMM[2] = meanStep
		return p, p.grid.Validate()
	}

	spacing := median(steps)
	if uniform {
		spacing = meanStep
	}
	p.grid.SpacingMM[2] = spacing
	// Saturate before converting, so that a corrupt position far away gives a
	// count above MaxVoxels instead of an overflow.
	slices := math.Min(math.Floor(extentMM/spacing+spacingTolerance)+1, MaxVoxels+1)
	p.grid.Size[2] = int(slices)
	p.toleranceMM = spacingTolerance * spacing
	p.gapMM = 2 * spacing * (1 + spacingTolerance)
	p.offsetVoxels = make([][2]float64, n)

	if tilted {
		p.placeTilted(series, offsetsMM)
	}
	if err := checkVoxelCount(p.grid.Size, "the resampled volume"); err != nil {
		return nil, err
	}
	if !uniform {
		p.warnings = append(p.warnings, spacingWarnings(series, p.normalMM, spacing, p.gapMM)...)
	}
	return p, p.grid.Validate()
}

// placeTilted widens the grid in plane to cover every frame of a tilted stack and
// sets each frame's offset from the new origin.
func (p *stackPlan) placeTilted(series []*slice, offsetsMM [][2]float64) {
	g := &p.grid
	var low, high [2]float64
	for _, o := range offsetsMM {
		for a := 0; a < 2; a++ {
			low[a] = math.Min(low[a], o[a])
			high[a] = math.Max(high[a], o[a])
		}
	}
	for a := 0; a < 2; a++ {
		g.Size[a] += int(math.Ceil((high[a]-low[a])/g.SpacingMM[a] - 1e-6))
		for c := 0; c < 3; c++ {
			g.OriginLPS[c] += low[a] * g.AxesLPS[a][c]
		}
	}
	for k, o := range offsetsMM {
		p.offsetVoxels[k] = [2]float64{(o[0] - low[0]) / g.SpacingMM[0], (o[1] - low[1]) / g.SpacingMM[1]}
	}

	n := len(series)
	stepAxis, _ := unit(sub(series[n-1].positionLPS, series[0].positionLPS))
	angle := math.Acos(math.Min(1, math.Abs(dot(stepAxis, g.AxesLPS[2])))) * 180 / math.Pi
	p.warnings = append(p.warnings, fmt.Sprintf("gantry tilt: slice positions step %.3g° off the slice normal, so the volume was resampled to a rectangular %d×%d×%d grid along the normal",
		angle, g.Size[0], g.Size[1], g.Size[2]))
}

// spacingWarnings describes gaps and irregular steps between sorted frames.
func spacingWarnings(series []*slice, normalMM []float64, spacing, gapMM float64) []string {
	var warnings []string
	minStep, maxStep := math.Inf(1), math.Inf(-1)
	irregular := 0
	for k := 0; k+1 < len(series); k++ {
		step := normalMM[k+1] - normalMM[k]
		if step > gapMM {
			air := int(math.Ceil(step/spacing-spacingTolerance)) - 1
			warnings = append(warnings, fmt.Sprintf("gap of %.4g mm between %s and %s (the median slice step is %.4g mm): about %d slices in the gap were filled with air (%d HU), not interpolated",
				step, series[k].name, series[k+1].name, spacing, air, paddingHU))
			continue
		}
		if math.Abs(step-spacing) > spacingTolerance*spacing {
			irregular++
			minStep = math.Min(minStep, step)
			maxStep = math.Max(maxStep, step)
		}
	}
	if irregular > 0 {
		warnings = append(warnings, fmt.Sprintf("slice spacing is not uniform: %d steps between %.4g and %.4g mm differ from the median %.4g mm by more than 1%%, so slices were interpolated linearly along the slice normal",
			irregular, minStep, maxStep, spacing))
	} else if len(warnings) == 0 {
		warnings = append(warnings, fmt.Sprintf("slice positions drift from a uniform %.4g mm grid by more than 1%% of the spacing, so slices were interpolated linearly along the slice normal", spacing))
	}
	return warnings
}

// checkVoxelCount rejects grids with more than MaxVoxels voxels before any memory is
// allocated for them.
func checkVoxelCount(size [3]int, what string) error {
	voxels := int64(size[0]) * int64(size[1]) * int64(size[2])
	if voxels > MaxVoxels {
		return fmt.Errorf("%s would have %d×%d×%d = %d voxels (%.1f GiB as float32), more than the limit of %d voxels; crop or subsample the series first: %w",
			what, size[0], size[1], size[2], voxels, float64(voxels)*4/(1<<30), MaxVoxels, ErrUnsupported)
	}
	return nil
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
