package lesions

import (
	"math"

	"protrude/volume/components"
)

// maxDiametersMM returns the maximum distance in mm between two voxel centres of each
// component of l, exactly.
//
// # Method
//
// A voxel that lies strictly between two voxels of its component on any line is never
// an end of a maximum distance, because the distance from a fixed point is convex along
// the line. So only voxels that are the first or last voxel of their component along
// all three index axes remain as candidates, a superset of the vertices of the convex
// hull that is usually a small part of the surface. Repeated farthest-point searches
// give a first lower bound. The candidates are then grouped into cells, and two cells
// are compared point by point only when the largest distance between their bounding
// boxes exceeds the best distance found so far.
//
// NOTE: For a component whose candidates all lie near one sphere the pruning helps
// little, and the cost grows as the square of the candidate count.
func maxDiametersMM(l *components.Labeling) []float64 {
	out := make([]float64, len(l.Components))
	if len(l.Components) == 0 {
		return out
	}
	candidates := extremeVoxels(l)
	for c, points := range candidates {
		out[c] = math.Sqrt(maxSquaredDistance(points))
	}
	return out
}

// point is a voxel centre in mm, relative to voxel (0, 0, 0) along the index axes. Grid
// axes are orthonormal, so distances between points equal distances in patient space.
type point [3]float64

// extremeVoxels returns, per component, the centres of the voxels that are the first or
// last voxel of their component on their line along each of the three index axes.
func extremeVoxels(l *components.Labeling) [][]point {
	size := l.Box.Size()
	strides := [3]int{1, size[0], size[0] * size[1]}

	// flags has bit a set for a voxel that is the first or last voxel of its component on
	// its line along axis a. Gaps and other components may lie in between.
	flags := make([]uint8, len(l.Labels))
	first := make([]int, len(l.Components)+1)
	last := make([]int, len(l.Components)+1)
	for n := range first {
		first[n] = -1
	}
	var touched []int32
	for a := 0; a < 3; a++ {
		b, c := (a+1)%3, (a+2)%3
		for y := 0; y < size[c]; y++ {
			for x := 0; x < size[b]; x++ {
				start := x*strides[b] + y*strides[c]
				for s, offset := 0, start; s < size[a]; s, offset = s+1, offset+strides[a] {
					label := l.Labels[offset]
					if label == 0 {
						continue
					}
					if first[label] < 0 {
						first[label] = offset
						touched = append(touched, label)
					}
					last[label] = offset
				}
				for _, label := range touched {
					flags[first[label]] |= 1 << a
					flags[last[label]] |= 1 << a
					first[label] = -1
				}
				touched = touched[:0]
			}
		}
	}

	spacing := l.Grid.SpacingMM
	out := make([][]point, len(l.Components))
	n := 0
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			for i := 0; i < size[0]; i, n = i+1, n+1 {
				if flags[n] != 7 {
					continue
				}
				c := l.Labels[n] - 1
				out[c] = append(out[c], point{
					float64(l.Box.Min[0]+i) * spacing[0],
					float64(l.Box.Min[1]+j) * spacing[1],
					float64(l.Box.Min[2]+k) * spacing[2],
				})
			}
		}
	}
	return out
}

// cellsPerAxis is the number of cells along the longest side of the candidates'
// bounding box. The cells are cubes, so the shorter sides get fewer of them.
const cellsPerAxis = 16

// cell is a group of candidate points with their bounding box.
type cell struct {
	points   []point
	min, max point
}

// maxSquaredDistance returns the largest squared distance between two of points, or 0
// for fewer than two.
func maxSquaredDistance(points []point) float64 {
	if len(points) < 2 {
		return 0
	}

	// Lower bound: farthest point from a start, then from that point, while it grows.
	best := 0.0
	from := points[0]
	for round := 0; round < 4; round++ {
		far, d := farthest(points, from)
		if d <= best {
			break
		}
		best = d
		from = far
	}

	cells := groupIntoCells(points)
	for a := range cells {
		for b := a; b < len(cells); b++ {
			if maxBoxSquaredDistance(&cells[a], &cells[b]) <= best {
				continue
			}
			for _, p := range cells[a].points {
				for _, q := range cells[b].points {
					if d := squaredDistance(p, q); d > best {
						best = d
					}
				}
			}
		}
	}
	return best
}

// groupIntoCells sorts points into a grid of cubic cells over their bounding box and
// returns the non-empty cells.
func groupIntoCells(points []point) []cell {
	lo, hi := points[0], points[0]
	for _, p := range points {
		for a := 0; a < 3; a++ {
			lo[a] = min(lo[a], p[a])
			hi[a] = max(hi[a], p[a])
		}
	}
	edge := max(hi[0]-lo[0], hi[1]-lo[1], hi[2]-lo[2]) / cellsPerAxis
	if edge <= 0 {
		return []cell{{points: points, min: lo, max: hi}}
	}
	var counts [3]int
	for a := 0; a < 3; a++ {
		counts[a] = min(cellsPerAxis, int((hi[a]-lo[a])/edge)) + 1
	}

	index := make(map[int]int)
	var cells []cell
	for _, p := range points {
		var key int
		for a := 2; a >= 0; a-- {
			key = key*counts[a] + min(counts[a]-1, int((p[a]-lo[a])/edge))
		}
		n, ok := index[key]
		if !ok {
			n = len(cells)
			index[key] = n
			cells = append(cells, cell{min: p, max: p})
		}
		c := &cells[n]
		c.points = append(c.points, p)
		for a := 0; a < 3; a++ {
			c.min[a] = min(c.min[a], p[a])
			c.max[a] = max(c.max[a], p[a])
		}
	}
	return cells
}

// farthest returns the point of points farthest from p and its squared distance.
func farthest(points []point, p point) (point, float64) {
	best, bestD := points[0], -1.0
	for _, q := range points {
		if d := squaredDistance(p, q); d > bestD {
			best, bestD = q, d
		}
	}
	return best, bestD
}

// maxBoxSquaredDistance returns the largest squared distance between a point in the
// bounding box of a and a point in the bounding box of b.
func maxBoxSquaredDistance(a, b *cell) float64 {
	sum := 0.0
	for k := 0; k < 3; k++ {
		d := max(a.max[k]-b.min[k], b.max[k]-a.min[k])
		sum += d * d
	}
	return sum
}

func squaredDistance(p, q point) float64 {
	dx, dy, dz := p[0]-q[0], p[1]-q[1], p[2]-q[2]
	return dx*dx + dy*dy + dz*dz
}
