package edit

import (
	"errors"
	"fmt"
	"math"

	"protrude/volume"
)

// FillConnectivity is the in-plane neighbourhood of a flood fill: 4 or 8.
type FillConnectivity int

const (
	// Fill4 links pixels that share an edge in the slice.
	Fill4 FillConnectivity = 4
	// Fill8 also links pixels that share only a corner.
	Fill8 FillConnectivity = 8
)

// DefaultFillMaxAreaMM2 is the largest region a fill changes when FillOptions.MaxAreaMM2
// is zero: 200 cm², a disc about 16 cm across. It is an estimate, chosen to exceed the
// cross-section of a kidney with a large tumor while stopping a leak. A click outside a
// closed contour on a 512×512 slice with 0.8 mm pixels would fill about 1680 cm², so it
// fails instead of painting the slice.
const DefaultFillMaxAreaMM2 = 20000

// ErrFillTooLarge is wrapped by the error of a fill whose region exceeds its area limit.
var ErrFillTooLarge = errors.New("edit: fill region exceeds the area limit")

// FillOptions is the setting of a flood fill.
type FillOptions struct {
	// SliceAxis is the index axis (0, 1 or 2) held fixed by the slice plane.
	SliceAxis int
	// Connectivity is Fill4 or Fill8.
	Connectivity FillConnectivity
	// Label is the label the fill writes. Zero erases the region.
	Label uint8
	// MaxAreaMM2 is the largest region area, in mm², that the fill changes. A larger
	// region fails with ErrFillTooLarge and changes nothing. Zero means
	// DefaultFillMaxAreaMM2, and +Inf removes the limit.
	MaxAreaMM2 float64
}

// Fill sets to opt.Label the region of the slice through seed whose voxels have the
// seed's label and are linked to it in the plane, and records it as the step "Fill". It
// returns the number of changed voxels, which is 0 when the seed already has opt.Label.
//
// The region is found before any voxel changes, so it costs one byte and at most one
// int32 per pixel of the slice. A region larger than the area limit returns an error
// that wraps ErrFillTooLarge and leaves the mask unchanged.
func (e *Editor) Fill(m *volume.Mask, seed [3]int, opt FillOptions) (int, error) {
	e.EndStroke()
	if err := checkMask(m); err != nil {
		return 0, err
	}
	if err := checkSliceAxis(opt.SliceAxis); err != nil {
		return 0, err
	}
	if opt.Connectivity != Fill4 && opt.Connectivity != Fill8 {
		return 0, fmt.Errorf("edit: invalid fill connectivity %d, want 4 or 8", opt.Connectivity)
	}
	maxArea := opt.MaxAreaMM2
	if maxArea == 0 {
		maxArea = DefaultFillMaxAreaMM2
	}
	if !(maxArea > 0) {
		return 0, fmt.Errorf("edit: invalid fill area limit %g mm², want > 0", opt.MaxAreaMM2)
	}
	if !m.Contains(seed[0], seed[1], seed[2]) {
		return 0, fmt.Errorf("edit: fill seed %v is outside the mask of size %v", seed, m.Size)
	}
	target := m.Labels[m.Offset(seed[0], seed[1], seed[2])]
	if target == opt.Label {
		return 0, nil
	}

	u, v := inPlaneAxes(opt.SliceAxis)
	region := floodSlice(m, seed, u, v, opt.Connectivity, target)
	pixelMM2 := m.SpacingMM[u] * m.SpacingMM[v]
	if area := float64(len(region)) * pixelMM2; area > maxArea && !math.IsInf(maxArea, 1) {
		return 0, fmt.Errorf("%w: %d voxels cover %.0f mm², more than the limit of %.0f mm²; close the contour or raise the limit", ErrFillTooLarge, len(region), area, maxArea)
	}

	changes := make([]voxelChange, len(region))
	for n, offset := range region {
		changes[n] = voxelChange{offset: offset, old: target, new: opt.Label}
		m.Labels[offset] = opt.Label
	}
	e.record("Fill", m, changes)
	return len(changes), nil
}

// floodSlice returns, in increasing order, the flat offsets of the voxels of the slice through seed (axes u
// and v vary) that have label target and are linked to seed under conn. It uses an
// explicit stack, so no region shape can exhaust the goroutine stack.
func floodSlice(m *volume.Mask, seed [3]int, u, v int, conn FillConnectivity, target uint8) []int {
	width, height := m.Size[u], m.Size[v]
	strides := [3]int{1, m.Size[0], m.Size[0] * m.Size[1]}
	seedPixel := [2]int{seed[u], seed[v]}
	base := m.Offset(seed[0], seed[1], seed[2]) - seedPixel[0]*strides[u] - seedPixel[1]*strides[v]
	offsetOf := func(x, y int) int { return base + x*strides[u] + y*strides[v] }

	neighbours := [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}}
	if conn == Fill8 {
		neighbours = append(neighbours, [2]int{1, 1}, [2]int{1, -1}, [2]int{-1, 1}, [2]int{-1, -1})
	}

	visited := make([]bool, width*height)
	stack := []int32{int32(seedPixel[0] + width*seedPixel[1])}
	visited[stack[0]] = true
	size := 0
	for len(stack) > 0 {
		p := int(stack[len(stack)-1])
		stack = stack[:len(stack)-1]
		size++
		x, y := p%width, p/width
		for _, d := range neighbours {
			nx, ny := x+d[0], y+d[1]
			if nx < 0 || ny < 0 || nx >= width || ny >= height {
				continue
			}
			q := nx + width*ny
			if visited[q] || m.Labels[offsetOf(nx, ny)] != target {
				continue
			}
			visited[q] = true
			stack = append(stack, int32(q))
		}
	}

	// Collect the region in raster order, which is increasing flat offset because u < v,
	// so the history step needs no sort.
	region := make([]int, 0, size)
	for p, in := range visited {
		if in {
			region = append(region, offsetOf(p%width, p/width))
		}
	}
	return region
}
