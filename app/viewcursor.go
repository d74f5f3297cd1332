package main

import (
	"protrude/overlays"
	"protrude/volume"
)

// defaultViewerLayers returns the window's four layers, all without masks until a run
// finishes: kidney, protruded region and tumor, then the base network's tumor, hidden.
// Keys 1 to 4 toggle them in this order.
func defaultViewerLayers() []*overlays.Layer {
	return append(overlays.DefaultLayers(nil, nil, nil), overlays.BaseTumorLayer(nil))
}

// labelCentreVoxel returns the labelled voxel of m nearest to the centroid of all its
// labelled voxels, in index space, and false when m is nil or empty. For a concave or
// split mask the centroid may lie outside the mask, hence the nearest labelled voxel.
func labelCentreVoxel(m *volume.Mask) ([3]int, bool) {
	if m == nil {
		return [3]int{}, false
	}
	var sum [3]float64
	n := 0
	forEachLabelled(m, func(i, j, k int) {
		sum[0] += float64(i)
		sum[1] += float64(j)
		sum[2] += float64(k)
		n++
	})
	if n == 0 {
		return [3]int{}, false
	}
	c := [3]float64{sum[0] / float64(n), sum[1] / float64(n), sum[2] / float64(n)}

	var best [3]int
	bestD := -1.0
	forEachLabelled(m, func(i, j, k int) {
		di, dj, dk := float64(i)-c[0], float64(j)-c[1], float64(k)-c[2]
		if d := di*di + dj*dj + dk*dk; bestD < 0 || d < bestD {
			best, bestD = [3]int{i, j, k}, d
		}
	})
	return best, true
}

func forEachLabelled(m *volume.Mask, fn func(i, j, k int)) {
	off := 0
	for k := 0; k < m.Size[2]; k++ {
		for j := 0; j < m.Size[1]; j++ {
			for i := 0; i < m.Size[0]; i++ {
				if m.Labels[off] != 0 {
					fn(i, j, k)
				}
				off++
			}
		}
	}
}
