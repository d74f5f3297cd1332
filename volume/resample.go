package volume

import (
	"math"
	"runtime"
	"sync"
)

// sizeRoundingSlack is subtracted from extent/spacing before rounding up in
// [IsotropicGridLPS], so that a box whose extent is a whole number of spacings, up to
// float jitter from the file format, always gets the same number of voxels.
const sizeRoundingSlack = 1e-3

// snapTolerance is the distance in index units below which a continuous source index
// counts as lying exactly on a voxel centre. It keeps jitter of order 1e-12 from the
// index composition away from the interpolation weights, so an identity resample
// copies its input bit for bit.
const snapTolerance = 1e-9

// IsotropicGridLPS returns the canonical grid used for inference: axes exactly
// [IdentityAxesLPS] (i→L, j→P, k→S), spacingMM on every axis, covering the LPS bounding
// box of the centres of g's voxels (all 8 corners), with the origin at the box's minimum
// corner.
//
// The size along each axis is ceil(extent/spacingMM - 1e-3) + 1, so the grid covers the
// whole box (every input voxel centre lies between two grid voxel centres) and reaches
// beyond its far edge by less than one spacing. The slack gives the same grid for the
// same scan read from two formats whose geometry differs by float jitter.
//
// g should pass [Grid.Validate] and spacingMM must be positive; otherwise the result
// is not a valid grid.
func IsotropicGridLPS(g Grid, spacingMM float64) Grid {
	minLPS := Vec3{math.Inf(1), math.Inf(1), math.Inf(1)}
	maxLPS := Vec3{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for corner := 0; corner < 8; corner++ {
		var index Vec3
		for a := 0; a < 3; a++ {
			if corner&(1<<a) != 0 {
				index[a] = float64(g.Size[a] - 1)
			}
		}
		p := g.IndexToLPS(index)
		for c := 0; c < 3; c++ {
			minLPS[c] = math.Min(minLPS[c], p[c])
			maxLPS[c] = math.Max(maxLPS[c], p[c])
		}
	}

	out := Grid{
		SpacingMM: Vec3{spacingMM, spacingMM, spacingMM},
		OriginLPS: minLPS,
		AxesLPS:   IdentityAxesLPS,
	}
	for c := 0; c < 3; c++ {
		extent := maxLPS[c] - minLPS[c]
		n := math.Ceil(extent/spacingMM-sizeRoundingSlack) + 1
		if !(n < MaxGridSide) { // also true for NaN
			n = MaxGridSide
		}
		out.Size[c] = int(n)
	}
	return out
}

// MaxGridSide is the largest size along one axis that [IsotropicGridLPS] returns. A
// larger extent, such as one from a corrupt spacing, saturates at this value, so the
// size never overflows and callers can reject the grid by its voxel count.
const MaxGridSide = 1 << 24

// indexMap is the affine map from a destination voxel index to a continuous source
// index: src = base + i*column[0] + j*column[1] + k*column[2].
type indexMap struct {
	base   Vec3
	column [3]Vec3
}

// newIndexMap composes dst index → LPS → src continuous index. Both steps are affine,
// so the composition is sampled at the origin and the three unit index steps.
func newIndexMap(src, dst Grid) indexMap {
	m := indexMap{base: src.LPSToIndex(dst.IndexToLPS(Vec3{}))}
	for a := 0; a < 3; a++ {
		var unit Vec3
		unit[a] = 1
		at := src.LPSToIndex(dst.IndexToLPS(unit))
		for b := 0; b < 3; b++ {
			m.column[a][b] = at[b] - m.base[b]
		}
	}
	return m
}

// at returns the source continuous index for destination index (i, j, k).
func (m *indexMap) at(i, j, k int) Vec3 {
	fi, fj, fk := float64(i), float64(j), float64(k)
	var c Vec3
	for b := 0; b < 3; b++ {
		c[b] = m.base[b] + fi*m.column[0][b] + fj*m.column[1][b] + fk*m.column[2][b]
	}
	return c
}

// insideSource reports whether continuous index c lies in [-0.5, size-0.5] on every
// axis, the region covered by the source voxels. NaN, which a zero spacing produces,
// counts as outside.
func insideSource(c Vec3, size [3]int) bool {
	for b := 0; b < 3; b++ {
		if !(c[b] >= -0.5 && c[b] <= float64(size[b])-0.5) {
			return false
		}
	}
	return true
}

// forEachSlab calls fn on contiguous ranges [k0, k1) of the k axis, one goroutine per
// range, using up to GOMAXPROCS goroutines, and waits for all of them.
func forEachSlab(sizeK int, fn func(k0, k1 int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > sizeK {
		workers = sizeK
	}
	if workers <= 1 {
		fn(0, sizeK)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		k0 := sizeK * w / workers
		k1 := sizeK * (w + 1) / workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(k0, k1)
		}()
	}
	wg.Wait()
}

// clampIndex limits i to [0, n-1].
func clampIndex(i, n int) int {
	if i < 0 {
		return 0
	}
	if i >= n {
		return n - 1
	}
	return i
}

// linearNeighbours returns the two source indices along one axis that bracket the
// continuous index c, clamped to the border, and the weight of the upper one.
func linearNeighbours(c float64, n int) (lo, hi int, weight float64) {
	floor := math.Floor(c)
	weight = c - floor
	lo = int(floor)
	if weight < snapTolerance {
		weight = 0
	} else if weight > 1-snapTolerance {
		lo++
		weight = 0
	}
	return clampIndex(lo, n), clampIndex(lo+1, n), weight
}

// lerp interpolates from a (w = 0) to b (w = 1). A zero weight returns a unchanged, so
// exact copies stay exact even when b is infinite.
func lerp(a, b, w float64) float64 {
	if w == 0 {
		return a
	}
	return a + (b-a)*w
}

// ResampleLinear samples src at every voxel centre of dst with trilinear interpolation,
// going through patient space: dst index → LPS → src continuous index.
//
// A point whose src continuous index lies in [-0.5, size-0.5] on every axis is inside,
// and in the half voxel beyond the outermost centres the border voxels are repeated.
// Points further out get outside. The work is split into k-slabs, one goroutine per
// available CPU. len(src.Voxels) must equal src.NumVoxels().
func ResampleLinear(src *Volume, dst Grid, outside float32) *Volume {
	out := NewVolume(dst)
	m := newIndexMap(src.Grid, dst)
	size := src.Size
	strideJ := size[0]
	strideK := size[0] * size[1]

	forEachSlab(dst.Size[2], func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := 0; j < dst.Size[1]; j++ {
				offset := dst.Offset(0, j, k)
				for i := 0; i < dst.Size[0]; i++ {
					c := m.at(i, j, k)
					if !insideSource(c, size) {
						out.Voxels[offset+i] = outside
						continue
					}
					i0, i1, wi := linearNeighbours(c[0], size[0])
					j0, j1, wj := linearNeighbours(c[1], size[1])
					k0s, k1s, wk := linearNeighbours(c[2], size[2])

					sample := func(ii, jj, kk int) float64 {
						return float64(src.Voxels[ii+jj*strideJ+kk*strideK])
					}
					c00 := lerp(sample(i0, j0, k0s), sample(i1, j0, k0s), wi)
					c10 := lerp(sample(i0, j1, k0s), sample(i1, j1, k0s), wi)
					c01 := lerp(sample(i0, j0, k1s), sample(i1, j0, k1s), wi)
					c11 := lerp(sample(i0, j1, k1s), sample(i1, j1, k1s), wi)
					front := lerp(c00, c10, wj)
					back := lerp(c01, c11, wj)
					out.Voxels[offset+i] = float32(lerp(front, back, wk))
				}
			}
		}
	})
	return out
}

// ResampleNearest samples the mask src at every voxel centre of dst, taking the label of
// the nearest source voxel. It uses the same mapping, edge rule and parallel split as
// [ResampleLinear], and points outside src get label 0. An index exactly halfway between
// two voxel centres takes the higher one. len(src.Labels) must equal src.NumVoxels().
func ResampleNearest(src *Mask, dst Grid) *Mask {
	out := NewMask(dst)
	m := newIndexMap(src.Grid, dst)
	size := src.Size

	forEachSlab(dst.Size[2], func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := 0; j < dst.Size[1]; j++ {
				offset := dst.Offset(0, j, k)
				for i := 0; i < dst.Size[0]; i++ {
					c := m.at(i, j, k)
					if !insideSource(c, size) {
						continue
					}
					si := clampIndex(int(math.Floor(c[0]+0.5)), size[0])
					sj := clampIndex(int(math.Floor(c[1]+0.5)), size[1])
					sk := clampIndex(int(math.Floor(c[2]+0.5)), size[2])
					out.Labels[offset+i] = src.Labels[src.Offset(si, sj, sk)]
				}
			}
		}
	})
	return out
}
