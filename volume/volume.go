// Package volume holds 3D images and masks on a regular grid in DICOM patient space.
//
// # Conventions
//
// Patient space is DICOM LPS: +x points to the patient's left, +y to the posterior
// and +z to the superior, in millimetres. A grid has a size in voxels along its three
// index axes (i, j, k), a spacing in mm along each axis, the LPS position of the centre
// of voxel (0, 0, 0), and one unit direction vector in LPS for each index axis.
//
// Voxels are stored with i fastest: the flat offset of (i, j, k) is
// i + j*Size[0] + k*Size[0]*Size[1]. Index coordinates are continuous: the integer
// index (i, j, k) is the centre of that voxel, and the voxel covers [i-0.5, i+0.5).
//
// Every conversion between index and patient coordinates goes through
// [Grid.IndexToLPS] and [Grid.LPSToIndex].
package volume

import (
	"fmt"
	"math"
)

// Vec3 is a point or vector in LPS patient space, in mm, or a continuous voxel index.
type Vec3 [3]float64

// Grid is the geometry of a volume: size, spacing and placement in LPS patient space.
type Grid struct {
	// Size is the number of voxels along i, j and k.
	Size [3]int
	// SpacingMM is the distance between voxel centres along i, j and k.
	SpacingMM Vec3
	// OriginLPS is the patient position of the centre of voxel (0, 0, 0).
	OriginLPS Vec3
	// AxesLPS[a] is the unit vector in LPS along which index axis a increases.
	AxesLPS [3]Vec3
}

// Volume is a scalar image, such as CT in Hounsfield units, on a Grid.
type Volume struct {
	Grid
	// Voxels has Size[0]*Size[1]*Size[2] values, i fastest.
	Voxels []float32
}

// Int16Volume is a scalar image stored as 16-bit integers, such as CT in whole
// Hounsfield units. It takes half the memory of a Volume, so a conversion that
// needs no arithmetic can copy stored values through it unchanged.
type Int16Volume struct {
	Grid
	// Voxels has Size[0]*Size[1]*Size[2] values, i fastest.
	Voxels []int16
}

// Mask is a label image on a Grid. Zero is background.
type Mask struct {
	Grid
	// Labels has Size[0]*Size[1]*Size[2] values, i fastest.
	Labels []uint8
}

// NumVoxels returns the number of voxels in the grid.
func (g Grid) NumVoxels() int { return g.Size[0] * g.Size[1] * g.Size[2] }

// Offset returns the flat offset of the integer voxel index (i, j, k).
func (g Grid) Offset(i, j, k int) int { return i + g.Size[0]*(j+g.Size[1]*k) }

// Index returns the voxel index (i, j, k) of the flat offset, the inverse of Offset.
func (g Grid) Index(offset int) (i, j, k int) {
	return offset % g.Size[0], offset / g.Size[0] % g.Size[1], offset / (g.Size[0] * g.Size[1])
}

// Contains reports whether (i, j, k) is a valid integer voxel index.
func (g Grid) Contains(i, j, k int) bool {
	return i >= 0 && j >= 0 && k >= 0 && i < g.Size[0] && j < g.Size[1] && k < g.Size[2]
}

// IndexToLPS converts a continuous voxel index to a patient position in mm.
func (g Grid) IndexToLPS(index Vec3) Vec3 {
	p := g.OriginLPS
	for a := 0; a < 3; a++ {
		step := index[a] * g.SpacingMM[a]
		for c := 0; c < 3; c++ {
			p[c] += step * g.AxesLPS[a][c]
		}
	}
	return p
}

// LPSToIndex converts a patient position in mm to a continuous voxel index.
// It assumes orthonormal axes, which [Grid.Validate] checks.
func (g Grid) LPSToIndex(p Vec3) Vec3 {
	d := Vec3{p[0] - g.OriginLPS[0], p[1] - g.OriginLPS[1], p[2] - g.OriginLPS[2]}
	var index Vec3
	for a := 0; a < 3; a++ {
		index[a] = (d[0]*g.AxesLPS[a][0] + d[1]*g.AxesLPS[a][1] + d[2]*g.AxesLPS[a][2]) / g.SpacingMM[a]
	}
	return index
}

// AffineLPS returns the 4×4 matrix that maps a homogeneous voxel index (i, j, k, 1)
// to an LPS position in mm. Column a holds AxesLPS[a] scaled by SpacingMM[a].
func (g Grid) AffineLPS() [4][4]float64 {
	var m [4][4]float64
	for c := 0; c < 3; c++ {
		for a := 0; a < 3; a++ {
			m[c][a] = g.AxesLPS[a][c] * g.SpacingMM[a]
		}
		m[c][3] = g.OriginLPS[c]
	}
	m[3][3] = 1
	return m
}

// orthonormalTolerance bounds the error allowed in axis lengths and dot products.
const orthonormalTolerance = 1e-4

// Validate checks that the grid has a positive size and spacing and orthonormal axes.
func (g Grid) Validate() error {
	for a := 0; a < 3; a++ {
		if g.Size[a] <= 0 {
			return fmt.Errorf("volume: invalid grid: size along axis %d is %d, want > 0", a, g.Size[a])
		}
		if !(g.SpacingMM[a] > 0) || math.IsInf(g.SpacingMM[a], 0) {
			return fmt.Errorf("volume: invalid grid: spacing along axis %d is %g mm, want a finite value > 0", a, g.SpacingMM[a])
		}
		if n := norm(g.AxesLPS[a]); math.Abs(n-1) > orthonormalTolerance {
			return fmt.Errorf("volume: invalid grid: direction of axis %d has length %g, want 1", a, n)
		}
		for c := 0; c < 3; c++ {
			if math.IsNaN(g.OriginLPS[c]) || math.IsInf(g.OriginLPS[c], 0) {
				return fmt.Errorf("volume: invalid grid: origin %v is not finite", g.OriginLPS)
			}
		}
	}
	for a := 0; a < 3; a++ {
		for b := a + 1; b < 3; b++ {
			if d := dot(g.AxesLPS[a], g.AxesLPS[b]); math.Abs(d) > orthonormalTolerance {
				return fmt.Errorf("volume: invalid grid: directions of axes %d and %d are not orthogonal (dot product %g)", a, b, d)
			}
		}
	}
	return nil
}

// NewVolume returns a zero-filled volume on g.
func NewVolume(g Grid) *Volume { return &Volume{Grid: g, Voxels: make([]float32, g.NumVoxels())} }

// NewMask returns an empty mask on g.
func NewMask(g Grid) *Mask { return &Mask{Grid: g, Labels: make([]uint8, g.NumVoxels())} }

// At returns the value of voxel (i, j, k).
func (v *Volume) At(i, j, k int) float32 { return v.Voxels[v.Offset(i, j, k)] }

// At returns the label of voxel (i, j, k).
func (m *Mask) At(i, j, k int) uint8 { return m.Labels[m.Offset(i, j, k)] }

// IdentityAxesLPS is the axis set whose index axes i, j, k point to L, P and S.
var IdentityAxesLPS = [3]Vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

func dot(a, b Vec3) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func norm(a Vec3) float64 { return math.Sqrt(dot(a, a)) }

// GridToleranceMM is the largest difference between corresponding entries of two
// grids' LPS affines, in mm, at which [CheckSameGrid] treats the grids as equal.
const GridToleranceMM = 1e-3

// CheckSameGrid returns an error unless a and b have the same size and LPS affines
// whose entries differ by at most GridToleranceMM. The error gives both grids and has
// no package prefix, so callers can wrap it with the names of the two files.
func CheckSameGrid(a, b Grid) error {
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
