package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"protrude/volume"
	"protrude/volume/components"
)

// ProtuberanceDurations is the wall time of each stage of [Pipeline.RunProtuberance].
type ProtuberanceDurations struct {
	Resample     time.Duration
	Protuberance time.Duration
	ResampleBack time.Duration
}

// ProtuberanceResult is the output of [Pipeline.RunProtuberance].
type ProtuberanceResult struct {
	// Protrusion is on the organ mask's grid, with label 1 where the protrusion
	// probability, resampled linearly to that grid, is at or above the manifest's
	// protrusion threshold.
	Protrusion *volume.Mask
	// Grid is the canonical grid: [volume.IsotropicGridLPS] of the mask's grid at the
	// manifest spacing.
	Grid volume.Grid
	// Box is the region of Grid where the network ran: the smallest box of Grid voxels
	// that covers the LPS bounding box of the centres of the mask's non-zero voxels,
	// grown by the manifest's crop margin and clamped to Grid.
	Box Box
	// Probability is the protrusion probability inside Box. Its grid is Grid cropped
	// to Box, and the probability is 0 everywhere else on Grid.
	Probability *volume.Volume

	Durations ProtuberanceDurations
	Patches   int
	Device    DeviceInfo
}

// RunProtuberance runs the protuberance network alone on a binary organ mask, whose
// non-zero voxels are the organ, and returns the protruded regions:
//
//  1. Resample the mask as a 0/1 float image to the canonical grid with trilinear
//     interpolation, as if it were a probability map, 0 beyond the mask's grid.
//  2. Take the box around the organ: see [ProtuberanceResult.Box].
//  3. Run the protuberance network by sliding window inside the box.
//  4. Resample the probability back to the mask's grid with trilinear interpolation
//     and threshold it.
//
// The result equals running steps 1 and 4 on whole grids, but only the part of each
// grid near the organ is resampled, so memory stays small for a small organ on a large
// scan. It returns an error for an empty mask, and for a mask so small that no
// canonical voxel centre gets a value above 0.
//
// progress, when not nil, is called at the start and end of each stage and after each
// patch. When ctx is cancelled, it stops before the next patch and returns ctx.Err().
func (p *Pipeline) RunProtuberance(ctx context.Context, organ *volume.Mask, progress func(Progress)) (*ProtuberanceResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.protuberance == nil {
		return nil, errors.New("inference: run on a closed pipeline")
	}
	if err := organ.Grid.Validate(); err != nil {
		return nil, fmt.Errorf("inference: organ mask: %w", err)
	}
	if len(organ.Labels) != organ.NumVoxels() {
		return nil, fmt.Errorf("inference: organ mask has %d labels, want %d for size %v", len(organ.Labels), organ.NumVoxels(), organ.Size)
	}
	report := func(stage Stage, done, total int, fraction float64) {
		if progress != nil {
			progress(Progress{Stage: stage, Done: done, Total: total, Fraction: fraction})
		}
	}

	m := p.bundle.Manifest
	spacingMM := m.Preprocessing.SpacingMMIsotropic()
	result := &ProtuberanceResult{Device: p.device}

	// Step 1: crop the mask to its bounding box plus one voxel of background, which
	// gives the same interpolated values as the whole mask, and resample that.
	report(StageResample, 0, 1, 0)
	start := time.Now()
	organBox := components.BoundingBox(organ)
	if organBox.Empty() {
		return nil, errors.New("inference: the organ mask is empty: it has no non-zero voxel")
	}
	organCrop := cropMaskAsFloat(organ, growBox(Box(organBox), 1, organ.Size))
	result.Grid = volume.IsotropicGridLPS(organ.Grid, spacingMM)

	// Step 2: the box around the organ's voxel centres, grown by the margin.
	marginVoxels := int(math.Ceil(m.Inference.CropMarginMM/spacingMM - 1e-9))
	result.Box = growBox(centresBox(organ, Box(organBox), result.Grid), marginVoxels, result.Grid.Size)
	if n := boxVoxels(result.Box); n > MaxGridVoxels {
		return nil, fmt.Errorf("inference: the organ's bounding box would have %.3g million voxels on the %g mm grid, more than the limit of %d million",
			n/1e6, spacingMM, MaxGridVoxels/1_000_000)
	}
	boxGrid := subGrid(result.Grid, result.Box)
	organProbability := volume.ResampleLinear(organCrop, boxGrid, 0)
	if !slices.ContainsFunc(organProbability.Voxels, func(v float32) bool { return v > 0 }) {
		return nil, fmt.Errorf("inference: no voxel of the %g mm grid falls inside the organ mask (%d voxels of %.3g×%.3g×%.3g mm): the organ is too small for this model",
			spacingMM, countNonZero(organ), organ.SpacingMM[0], organ.SpacingMM[1], organ.SpacingMM[2])
	}
	result.Durations.Resample = time.Since(start)
	report(StageResample, 1, 1, 0.05)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Step 3: the protuberance network inside the box.
	patch := m.Inference.PatchSize3()
	overlap := m.Inference.Overlap
	boxSize := result.Box.Size()
	dims := [3]int{boxSize[2], boxSize[1], boxSize[0]}
	result.Patches = CountPatches(dims, patch, overlap)
	report(StageProtuberance, 0, result.Patches, 0.05)
	start = time.Now()
	protrusion, err := SlidingWindow(ctx, p.protuberance,
		Tensor{Channels: 1, Dims: dims, Data: organProbability.Voxels},
		WindowOptions{PatchSize: patch, Overlap: overlap, PadValues: []float32{0}, OutputChannels: 1},
		func(done, total int) { report(StageProtuberance, done, total, 0.05+0.9*float64(done)/float64(total)) })
	if err != nil {
		return nil, wrapStageError(ctx, StageProtuberance, err)
	}
	result.Probability = &volume.Volume{Grid: boxGrid, Voxels: protrusion.Data}
	result.Durations.Protuberance = time.Since(start)

	// Step 4: back to the mask's grid. Padding the box with one canonical voxel of
	// zeros reproduces, at the box's edge, the fall-off to the zeros around it.
	report(StageResampleBack, 0, 1, 0.95)
	start = time.Now()
	padded := growBox(result.Box, 1, result.Grid.Size)
	paddedProbability := volume.NewVolume(subGrid(result.Grid, padded))
	offset := [3]int{result.Box.Min[0] - padded.Min[0], result.Box.Min[1] - padded.Min[1], result.Box.Min[2] - padded.Min[2]}
	pasteBox(paddedProbability, Box{Min: offset, Max: [3]int{offset[0] + boxSize[0], offset[1] + boxSize[1], offset[2] + boxSize[2]}}, protrusion.Data)
	result.Protrusion = volume.NewMask(organ.Grid)
	back := coveringBox(paddedProbability.Grid, organ.Grid)
	if !back.Empty() {
		resampled := volume.ResampleLinear(paddedProbability, subGrid(organ.Grid, back), 0)
		threshold := float32(m.Inference.Thresholds.Protrusion)
		backSize := back.Size()
		n := 0
		for k := back.Min[2]; k < back.Max[2]; k++ {
			for j := back.Min[1]; j < back.Max[1]; j++ {
				row := result.Protrusion.Labels[organ.Offset(back.Min[0], j, k):]
				for i := 0; i < backSize[0]; i, n = i+1, n+1 {
					if resampled.Voxels[n] >= threshold {
						row[i] = 1
					}
				}
			}
		}
	}
	result.Durations.ResampleBack = time.Since(start)
	report(StageResampleBack, 1, 1, 1)
	return result, nil
}

// growBox returns b grown by margin voxels on every side and clamped to [0, size).
func growBox(b Box, margin int, size [3]int) Box {
	var out Box
	for a := 0; a < 3; a++ {
		out.Min[a] = max(b.Min[a]-margin, 0)
		out.Max[a] = min(b.Max[a]+margin, size[a])
	}
	return out
}

// subGrid returns the part of g inside box as a grid of its own: the same spacing and
// axes, with the origin at the centre of voxel box.Min.
func subGrid(g volume.Grid, box Box) volume.Grid {
	sub := g
	sub.Size = box.Size()
	sub.OriginLPS = g.IndexToLPS(volume.Vec3{float64(box.Min[0]), float64(box.Min[1]), float64(box.Min[2])})
	return sub
}

// cropMaskAsFloat returns the voxels of m inside box as a volume on the cropped grid,
// 1 where the label is non-zero and 0 elsewhere.
func cropMaskAsFloat(m *volume.Mask, box Box) *volume.Volume {
	out := volume.NewVolume(subGrid(m.Grid, box))
	n := 0
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			offset := m.Offset(box.Min[0], j, k)
			for _, l := range m.Labels[offset : offset+box.Max[0]-box.Min[0]] {
				if l != 0 {
					out.Voxels[n] = 1
				}
				n++
			}
		}
	}
	return out
}

// coveringBox returns the box of dst voxels whose centres can receive a value from
// src in [volume.ResampleLinear]: those within src's voxel region, the continuous
// indices [-0.5, size-0.5] on every axis, plus one voxel of slack for rounding. The
// box is clamped to dst and may be empty.
func coveringBox(src, dst volume.Grid) Box {
	lo := volume.Vec3{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := volume.Vec3{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for corner := 0; corner < 8; corner++ {
		var index volume.Vec3
		for a := 0; a < 3; a++ {
			index[a] = -0.5
			if corner&(1<<a) != 0 {
				index[a] = float64(src.Size[a]) - 0.5
			}
		}
		c := dst.LPSToIndex(src.IndexToLPS(index))
		for a := 0; a < 3; a++ {
			lo[a] = math.Min(lo[a], c[a])
			hi[a] = math.Max(hi[a], c[a])
		}
	}
	var box Box
	for a := 0; a < 3; a++ {
		box.Min[a] = int(max(math.Floor(lo[a])-1, 0))
		box.Max[a] = int(min(math.Ceil(hi[a])+2, float64(dst.Size[a])))
	}
	if box.Empty() {
		return Box{}
	}
	return box
}

// centresBox returns the smallest box of dst voxels whose centres span the LPS
// bounding box of the centres of m's non-zero voxels, which all lie in box. A centre
// within 1e-6 voxels of a dst centre counts as on it, so that float jitter does not
// add a voxel. The map to dst is affine, so the first and last non-zero voxel of each
// row suffice.
func centresBox(m *volume.Mask, box Box, dst volume.Grid) Box {
	lo := volume.Vec3{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := volume.Vec3{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	include := func(i, j, k int) {
		c := dst.LPSToIndex(m.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)}))
		for a := 0; a < 3; a++ {
			lo[a] = math.Min(lo[a], c[a])
			hi[a] = math.Max(hi[a], c[a])
		}
	}
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			offset := m.Offset(0, j, k)
			row := m.Labels[offset+box.Min[0] : offset+box.Max[0]]
			first := slices.IndexFunc(row, func(l uint8) bool { return l != 0 })
			if first < 0 {
				continue
			}
			last := len(row) - 1
			for row[last] == 0 {
				last--
			}
			include(box.Min[0]+first, j, k)
			include(box.Min[0]+last, j, k)
		}
	}

	var out Box
	for a := 0; a < 3; a++ {
		out.Min[a] = int(max(math.Floor(lo[a]+1e-6), 0))
		out.Max[a] = int(min(math.Ceil(hi[a]-1e-6)+1, float64(dst.Size[a])))
	}
	return out
}

// boxVoxels returns the voxel count of b as a float64, which cannot overflow.
func boxVoxels(b Box) float64 {
	s := b.Size()
	return float64(s[0]) * float64(s[1]) * float64(s[2])
}

func countNonZero(m *volume.Mask) int {
	n := 0
	for _, l := range m.Labels {
		if l != 0 {
			n++
		}
	}
	return n
}
