// Package components labels the connected components of a mask, such as the separate
// tumors of a tumor mask.
//
// # Connectivity
//
// Two foreground voxels are neighbours under [Connectivity26] when their indices differ
// by at most 1 along every axis, so voxels that share only an edge or a corner join.
// Under [Connectivity6] they must differ by 1 along exactly one axis, sharing a face.
// A component is a maximal set of foreground voxels linked by neighbour steps.
//
// # Method
//
// [Label] makes two raster passes over the bounding box of the foreground, with a
// union-find forest over provisional labels. It never recurses, so a component of any
// shape costs no stack, and memory is one int32 per voxel of the bounding box plus one
// per provisional label.
package components

import (
	"fmt"
	"math"

	"protrude/volume"
)

// Connectivity is the neighbourhood that links foreground voxels: 6 or 26.
type Connectivity int

const (
	// Connectivity6 links voxels that share a face.
	Connectivity6 Connectivity = 6
	// Connectivity26 links voxels that share a face, an edge or a corner.
	Connectivity26 Connectivity = 26
)

// Box is a half-open range of voxel indices [Min, Max) along i, j and k.
type Box struct {
	Min, Max [3]int
}

// Empty reports whether the box contains no voxel.
func (b Box) Empty() bool {
	return b.Max[0] <= b.Min[0] || b.Max[1] <= b.Min[1] || b.Max[2] <= b.Min[2]
}

// Size returns the number of voxels along i, j and k, or zeros for an empty box.
func (b Box) Size() [3]int {
	if b.Empty() {
		return [3]int{}
	}
	return [3]int{b.Max[0] - b.Min[0], b.Max[1] - b.Min[1], b.Max[2] - b.Min[2]}
}

// Contains reports whether the integer voxel index (i, j, k) lies in the box.
func (b Box) Contains(i, j, k int) bool {
	return i >= b.Min[0] && i < b.Max[0] && j >= b.Min[1] && j < b.Max[1] && k >= b.Min[2] && k < b.Max[2]
}

// Intersect returns the voxels that lie in both boxes, an empty Box when none do.
func (b Box) Intersect(c Box) Box {
	var out Box
	for a := 0; a < 3; a++ {
		out.Min[a] = max(b.Min[a], c.Min[a])
		out.Max[a] = min(b.Max[a], c.Max[a])
	}
	if out.Empty() {
		return Box{}
	}
	return out
}

// Component is one connected set of foreground voxels.
type Component struct {
	// VoxelCount is the number of voxels in the component.
	VoxelCount int
	// BoundingBox is the smallest box of voxel indices that contains the component.
	BoundingBox Box
	// VolumeML is VoxelCount times the voxel volume of the grid, in millilitres.
	VolumeML float64
}

// Labeling is the output of [Label]: a component number for every foreground voxel.
type Labeling struct {
	// Grid is the grid of the labelled mask.
	Grid volume.Grid
	// Box is the bounding box of all foreground voxels, and empty when there are none.
	// Labels covers this box only, because every voxel outside it is background.
	Box Box
	// Labels has one value per voxel of Box, i fastest: 0 for background and n for a
	// voxel of Components[n-1].
	Labels []int32
	// Components are ordered by their first voxel in the mask's flat order (i fastest,
	// then j, then k).
	Components []Component
}

// ComponentAt returns the index in Components of the component that contains voxel
// (i, j, k), or -1 for a background voxel or an index outside the grid.
func (l *Labeling) ComponentAt(i, j, k int) int {
	if !l.Box.Contains(i, j, k) {
		return -1
	}
	size := l.Box.Size()
	offset := (i - l.Box.Min[0]) + size[0]*((j-l.Box.Min[1])+size[1]*(k-l.Box.Min[2]))
	return int(l.Labels[offset]) - 1
}

// BoundingBox returns the smallest box that contains every non-zero voxel of m, or an
// empty Box when m has none. len(m.Labels) must equal m.NumVoxels().
func BoundingBox(m *volume.Mask) Box {
	size := m.Size
	lo := size
	hi := [3]int{-1, -1, -1}
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			row := m.Labels[m.Offset(0, j, k) : m.Offset(0, j, k)+size[0]]
			first := -1
			last := -1
			for i, l := range row {
				if l != 0 {
					if first < 0 {
						first = i
					}
					last = i
				}
			}
			if first < 0 {
				continue
			}
			lo[0], hi[0] = min(lo[0], first), max(hi[0], last)
			lo[1], hi[1] = min(lo[1], j), max(hi[1], j)
			lo[2], hi[2] = min(lo[2], k), max(hi[2], k)
		}
	}
	if hi[0] < 0 {
		return Box{}
	}
	return Box{Min: lo, Max: [3]int{hi[0] + 1, hi[1] + 1, hi[2] + 1}}
}

// maxBoxVoxels bounds the bounding box of the foreground, so that voxel offsets and
// provisional labels fit in int32.
const maxBoxVoxels = math.MaxInt32

// Label finds the connected components of the non-zero voxels of m under conn.
// It returns an error when m's label count does not match its grid, when conn is
// neither 6 nor 26, or when the foreground's bounding box has more than 2^31-1 voxels.
func Label(m *volume.Mask, conn Connectivity) (*Labeling, error) {
	if conn != Connectivity6 && conn != Connectivity26 {
		return nil, fmt.Errorf("components: unsupported connectivity %d, want 6 or 26", conn)
	}
	for a := 0; a < 3; a++ {
		if m.Size[a] < 0 {
			return nil, fmt.Errorf("components: invalid mask size %v", m.Size)
		}
	}
	if len(m.Labels) != m.NumVoxels() {
		return nil, fmt.Errorf("components: mask has %d labels, want %d for size %v", len(m.Labels), m.NumVoxels(), m.Size)
	}

	out := &Labeling{Grid: m.Grid}
	box := BoundingBox(m)
	if box.Empty() {
		return out, nil
	}
	size := box.Size()
	if n := float64(size[0]) * float64(size[1]) * float64(size[2]); n > maxBoxVoxels {
		return nil, fmt.Errorf("components: the foreground's bounding box has %v voxels (%.3g), more than the limit of %d", size, n, maxBoxVoxels)
	}
	out.Box = box
	out.Labels = make([]int32, size[0]*size[1]*size[2])

	// Pass 1: give each foreground voxel the label of an earlier neighbour, or a new
	// provisional label, and record in the forest that the labels of all its earlier
	// neighbours belong to one component.
	neighbours := earlierNeighbours(conn)
	forest := unionFind{parent: []int32{0}} // label 0 is background
	n := 0
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			src := m.Offset(box.Min[0], box.Min[1]+j, box.Min[2]+k)
			for i := 0; i < size[0]; i, n, src = i+1, n+1, src+1 {
				if m.Labels[src] == 0 {
					continue
				}
				var label int32
				for _, d := range neighbours {
					ni, nj, nk := i+d[0], j+d[1], k+d[2]
					if ni < 0 || ni >= size[0] || nj < 0 || nj >= size[1] || nk < 0 {
						continue
					}
					other := out.Labels[ni+size[0]*(nj+size[1]*nk)]
					if other == 0 {
						continue
					}
					if label == 0 {
						label = other
					} else if other != label {
						forest.union(label, other)
					}
				}
				if label == 0 {
					label = forest.add()
				}
				out.Labels[n] = label
			}
		}
	}

	// Pass 2: replace each provisional label by its component's number, numbering
	// components in the order their first voxel appears, and measure them.
	number := make([]int32, len(forest.parent))
	voxelML := m.SpacingMM[0] * m.SpacingMM[1] * m.SpacingMM[2] / 1000
	n = 0
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			for i := 0; i < size[0]; i, n = i+1, n+1 {
				label := out.Labels[n]
				if label == 0 {
					continue
				}
				root := forest.find(label)
				if number[root] == 0 {
					out.Components = append(out.Components, Component{BoundingBox: Box{Min: [3]int{math.MaxInt, math.MaxInt, math.MaxInt}}})
					number[root] = int32(len(out.Components))
				}
				out.Labels[n] = number[root]
				c := &out.Components[number[root]-1]
				c.VoxelCount++
				index := [3]int{box.Min[0] + i, box.Min[1] + j, box.Min[2] + k}
				for a := 0; a < 3; a++ {
					c.BoundingBox.Min[a] = min(c.BoundingBox.Min[a], index[a])
					c.BoundingBox.Max[a] = max(c.BoundingBox.Max[a], index[a]+1)
				}
			}
		}
	}
	for c := range out.Components {
		out.Components[c].VolumeML = float64(out.Components[c].VoxelCount) * voxelML
	}
	return out, nil
}

// earlierNeighbours returns the offsets (di, dj, dk) of the neighbours that a raster
// scan, i fastest, visits before the voxel itself: 3 for 6-connectivity, 13 for 26.
func earlierNeighbours(conn Connectivity) [][3]int {
	var out [][3]int
	for dk := -1; dk <= 0; dk++ {
		for dj := -1; dj <= 1; dj++ {
			for di := -1; di <= 1; di++ {
				earlier := dk < 0 || (dk == 0 && dj < 0) || (dk == 0 && dj == 0 && di < 0)
				if !earlier {
					continue
				}
				steps := abs(di) + abs(dj) + abs(dk)
				if conn == Connectivity6 && steps != 1 {
					continue
				}
				out = append(out, [3]int{di, dj, dk})
			}
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// unionFind is a disjoint-set forest over provisional labels. The root of a set is
// always its smallest label.
type unionFind struct {
	parent []int32
}

// add creates a new set and returns its label.
func (u *unionFind) add() int32 {
	label := int32(len(u.parent))
	u.parent = append(u.parent, label)
	return label
}

// find returns the root of x's set and halves the path on the way.
func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// union merges the sets of a and b.
func (u *unionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if ra < rb {
		u.parent[rb] = ra
	} else {
		u.parent[ra] = rb
	}
}
