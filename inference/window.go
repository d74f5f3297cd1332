package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Tensor is a float32 image with channels, laid out as [Channels, D, H, W] with W
// fastest: the value of channel c at (d, h, w) is at
// Data[((c*D+d)*H+h)*W+w], with Dims = [D, H, W].
//
// On the canonical inference grid, D runs along k (+S), H along j (+P) and W along i
// (+L), so one channel of a Tensor has the flat order of a volume.Volume on that grid.
type Tensor struct {
	Channels int
	Dims     [3]int
	Data     []float32
}

// NumVoxels returns the number of voxels in one channel, D*H*W.
func (t Tensor) NumVoxels() int { return t.Dims[0] * t.Dims[1] * t.Dims[2] }

// Channel returns the values of channel c, sharing memory with t.Data.
func (t Tensor) Channel(c int) []float32 {
	n := t.NumVoxels()
	return t.Data[c*n : (c+1)*n]
}

func (t Tensor) validate(name string) error {
	if t.Channels <= 0 {
		return fmt.Errorf("%s has %d channels, want > 0", name, t.Channels)
	}
	for a, n := range t.Dims {
		if n <= 0 {
			return fmt.Errorf("%s has dims %v: dimension %d is %d, want > 0", name, t.Dims, a, n)
		}
	}
	if want := t.Channels * t.NumVoxels(); len(t.Data) != want {
		return fmt.Errorf("%s has %d values, want %d for %d channels of %v", name, len(t.Data), want, t.Channels, t.Dims)
	}
	return nil
}

// Predictor runs a network on one patch. The input is laid out as
// [input channels, P0, P1, P2] and the output as [output channels, P0, P1, P2], W
// fastest, for the fixed patch size (P0, P1, P2) of the network. The caller reads the
// returned slice before the next call and does not keep it, so an implementation may
// reuse one output buffer.
type Predictor interface {
	PredictPatch(ctx context.Context, patch []float32) ([]float32, error)
}

// PredictorFunc adapts a function to [Predictor].
type PredictorFunc func(ctx context.Context, patch []float32) ([]float32, error)

// PredictPatch calls f.
func (f PredictorFunc) PredictPatch(ctx context.Context, patch []float32) ([]float32, error) {
	return f(ctx, patch)
}

// WindowOptions configures [SlidingWindow].
type WindowOptions struct {
	// PatchSize is the network's fixed spatial input size, ordered D, H, W.
	PatchSize [3]int
	// Overlap is the fraction of a patch shared with its neighbour, in [0, 1).
	Overlap float64
	// PadValues has one value per input channel. It fills the part of a patch that lies
	// beyond the input, on axes shorter than the patch: -1 for normalised CT, 0 for
	// probabilities.
	PadValues []float32
	// OutputChannels is the number of channels the predictor returns.
	OutputChannels int
}

// MinImportance is the smallest weight of the Gaussian importance map, relative to its
// centre. Without it, a voxel covered only by patch corners would get a weight of about
// 1e-10 and the blend would amplify rounding there.
const MinImportance = 1e-3

// PatchStarts returns the start indices of the patches along one axis of length size
// for patch length patch. Starts are spaced by stride = max(1, floor(patch*(1-overlap))),
// and the last patch ends exactly at size, so every index is covered. An axis no longer
// than the patch has the single start 0. Starts are strictly increasing.
func PatchStarts(size, patch int, overlap float64) []int {
	if size <= patch {
		return []int{0}
	}
	// The 1e-9 keeps products such as 10*0.9 = 8.999… from losing a whole voxel.
	stride := max(1, int(math.Floor(float64(patch)*(1-overlap)+1e-9)))
	var starts []int
	for s := 0; ; s += stride {
		if s+patch >= size {
			starts = append(starts, size-patch)
			return starts
		}
		starts = append(starts, s)
	}
}

// CountPatches returns the number of patches [SlidingWindow] runs over a volume of
// dims (D, H, W).
func CountPatches(dims, patch [3]int, overlap float64) int {
	n := 1
	for a := 0; a < 3; a++ {
		n *= len(PatchStarts(dims[a], patch[a], overlap))
	}
	return n
}

// SlidingWindow runs predictor over input patch by patch and blends the patch outputs
// into one tensor with the spatial dims of input and opts.OutputChannels channels.
//
// Patches start at [PatchStarts] on each axis and are visited D-major, then H, then W.
// An axis shorter than the patch is padded at its far end with opts.PadValues, and the
// padded part of the output is dropped. Each patch output is weighted by a Gaussian
// importance map with sigma = P/8 per axis, centred on the patch and clamped below at
// [MinImportance], and every voxel gets the weighted sum divided by the sum of weights.
// Sums are kept in float64 over a slab of one patch depth, so a predictor that returns
// the same value for a voxel in every patch yields exactly that value.
//
// Worked example: input [C=1, D=40, H=100, W=70], PatchSize (32, 64, 96), overlap 0.25.
// Starts along D are 0, 8 (stride 24, the last patch aligned to 40). Along H they are 0,
// 36 (stride 48). W is shorter than 96, so it has the start 0, patches carry 26 columns
// of padding, and the output keeps the first 70. That makes 2×2×1 = 4 predictor calls,
// each with a [1, 32, 64, 96] patch, and the output is [OutputChannels, 40, 100, 70].
//
// progress, when not nil, is called after every patch with the number done and the
// total. ctx is checked before every patch, and its error is returned unchanged when it
// is done. Memory beyond input and output is
// (OutputChannels+1) * min(P0, D) * H * W float64 values plus one patch.
func SlidingWindow(ctx context.Context, predictor Predictor, input Tensor, opts WindowOptions, progress func(done, total int)) (Tensor, error) {
	if err := input.validate("inference: sliding window input"); err != nil {
		return Tensor{}, err
	}
	if err := opts.validate(input.Channels); err != nil {
		return Tensor{}, err
	}

	dims, patch := input.Dims, opts.PatchSize
	var starts [3][]int
	for a := 0; a < 3; a++ {
		starts[a] = PatchStarts(dims[a], patch[a], opts.Overlap)
	}
	total := len(starts[0]) * len(starts[1]) * len(starts[2])

	b := newBlender(dims, patch, opts.OutputChannels)
	patchVoxels := patch[0] * patch[1] * patch[2]
	patchData := make([]float32, input.Channels*patchVoxels)
	wantOutput := opts.OutputChannels * patchVoxels

	done := 0
	for _, d0 := range starts[0] {
		b.advanceTo(d0)
		for _, h0 := range starts[1] {
			for _, w0 := range starts[2] {
				if err := ctx.Err(); err != nil {
					return Tensor{}, err
				}
				origin := [3]int{d0, h0, w0}
				extractPatch(input, origin, patch, opts.PadValues, patchData)

				prediction, err := predictor.PredictPatch(ctx, patchData)
				if err != nil {
					if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
						return Tensor{}, err
					}
					return Tensor{}, fmt.Errorf("inference: sliding window: patch %d of %d at (d, h, w) = %v: %w", done+1, total, origin, err)
				}
				if len(prediction) != wantOutput {
					return Tensor{}, fmt.Errorf("inference: sliding window: patch %d of %d at %v: predictor returned %d values, want %d for %d channels of %v",
						done+1, total, origin, len(prediction), wantOutput, opts.OutputChannels, patch)
				}
				b.add(prediction, origin)

				done++
				if progress != nil {
					progress(done, total)
				}
			}
		}
	}
	b.advanceTo(dims[0])
	return b.out, nil
}

func (o WindowOptions) validate(inputChannels int) error {
	for a, p := range o.PatchSize {
		if p <= 0 {
			return fmt.Errorf("inference: sliding window: invalid patch size %v: dimension %d is %d, want > 0", o.PatchSize, a, p)
		}
	}
	if !(o.Overlap >= 0 && o.Overlap < 1) {
		return fmt.Errorf("inference: sliding window: invalid overlap %g, want a value in [0, 1)", o.Overlap)
	}
	if len(o.PadValues) != inputChannels {
		return fmt.Errorf("inference: sliding window: %d pad values for %d input channels, want one per channel", len(o.PadValues), inputChannels)
	}
	if o.OutputChannels <= 0 {
		return fmt.Errorf("inference: sliding window: invalid output channel count %d, want > 0", o.OutputChannels)
	}
	return nil
}

// extractPatch copies the patch of input at origin (d, h, w) into dst, laid out as
// [Channels, P0, P1, P2], and fills the part beyond the input with pad[c].
func extractPatch(input Tensor, origin, patch [3]int, pad []float32, dst []float32) {
	D, H, W := input.Dims[0], input.Dims[1], input.Dims[2]
	n := 0
	for c := 0; c < input.Channels; c++ {
		channel := input.Channel(c)
		for pd := 0; pd < patch[0]; pd++ {
			d := origin[0] + pd
			for ph := 0; ph < patch[1]; ph++ {
				h := origin[1] + ph
				row := dst[n : n+patch[2]]
				n += patch[2]
				if d >= D || h >= H {
					fill(row, pad[c])
					continue
				}
				offset := (d*H+h)*W + origin[2]
				copied := copy(row, channel[offset:offset+min(patch[2], W-origin[2])])
				fill(row[copied:], pad[c])
			}
		}
	}
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// blender accumulates weighted patch outputs over a slab of rows [slabStart,
// slabStart+slabDepth) along D. Patches arrive D-major with non-decreasing D starts, so
// rows before the current D start receive no more patches and can be finished.
type blender struct {
	dims       [3]int
	patch      [3]int
	channels   int
	importance []float64 // [P0, P1, P2], W fastest
	slabStart  int
	slabDepth  int
	sums       []float64 // [channels, slabDepth, H, W]
	weights    []float64 // [slabDepth, H, W]
	out        Tensor
}

func newBlender(dims, patch [3]int, channels int) *blender {
	depth := min(patch[0], dims[0])
	plane := dims[1] * dims[2]
	return &blender{
		dims:       dims,
		patch:      patch,
		channels:   channels,
		importance: gaussianImportance(patch),
		slabDepth:  depth,
		sums:       make([]float64, channels*depth*plane),
		weights:    make([]float64, depth*plane),
		out: Tensor{
			Channels: channels,
			Dims:     dims,
			Data:     make([]float32, channels*dims[0]*plane),
		},
	}
}

// gaussianImportance returns the importance map for one patch, laid out [P0, P1, P2]:
// the product of one Gaussian per axis with sigma = P/8 centred at (P-1)/2, scaled so
// the centre would be 1, and clamped below at MinImportance.
func gaussianImportance(patch [3]int) []float64 {
	var axes [3][]float64
	for a := 0; a < 3; a++ {
		p := patch[a]
		sigma := float64(p) / 8
		centre := float64(p-1) / 2
		axes[a] = make([]float64, p)
		for x := 0; x < p; x++ {
			t := (float64(x) - centre) / sigma
			axes[a][x] = math.Exp(-0.5 * t * t)
		}
	}
	m := make([]float64, 0, patch[0]*patch[1]*patch[2])
	for _, gd := range axes[0] {
		for _, gh := range axes[1] {
			for _, gw := range axes[2] {
				m = append(m, max(gd*gh*gw, MinImportance))
			}
		}
	}
	return m
}

// advanceTo finishes the rows before d and moves the slab to start at d. d must not be
// below the current slab start, nor more than slabDepth beyond it.
func (b *blender) advanceTo(d int) {
	if d <= b.slabStart {
		return
	}
	plane := b.dims[1] * b.dims[2]
	finished := min(d, b.slabStart+b.slabDepth) - b.slabStart

	for r := 0; r < finished; r++ {
		row := b.slabStart + r
		if row >= b.dims[0] {
			break
		}
		weights := b.weights[r*plane : (r+1)*plane]
		for c := 0; c < b.channels; c++ {
			sums := b.sums[(c*b.slabDepth+r)*plane : (c*b.slabDepth+r+1)*plane]
			dst := b.out.Channel(c)[row*plane : (row+1)*plane]
			for i, w := range weights {
				dst[i] = float32(sums[i] / w)
			}
		}
	}

	// Move the unfinished rows to the front of the slab and clear the rest.
	unfinished := b.slabDepth - finished
	shift := func(s []float64) {
		copy(s[:unfinished*plane], s[finished*plane:])
		clear(s[unfinished*plane:])
	}
	shift(b.weights)
	for c := 0; c < b.channels; c++ {
		shift(b.sums[c*b.slabDepth*plane : (c+1)*b.slabDepth*plane])
	}
	b.slabStart = d
}

// add accumulates one patch output, laid out [channels, P0, P1, P2], at origin.
func (b *blender) add(prediction []float32, origin [3]int) {
	D, H, W := b.dims[0], b.dims[1], b.dims[2]
	P0, P1, P2 := b.patch[0], b.patch[1], b.patch[2]
	plane := H * W
	patchVoxels := P0 * P1 * P2
	depth := min(P0, D-origin[0])
	height := min(P1, H-origin[1])
	width := min(P2, W-origin[2])

	for pd := 0; pd < depth; pd++ {
		r := origin[0] + pd - b.slabStart
		for ph := 0; ph < height; ph++ {
			src := (pd*P1 + ph) * P2
			dst := r*plane + (origin[1]+ph)*W + origin[2]
			importance := b.importance[src : src+width]
			weights := b.weights[dst : dst+width]
			for i, w := range importance {
				weights[i] += w
			}
			for c := 0; c < b.channels; c++ {
				values := prediction[c*patchVoxels+src : c*patchVoxels+src+width]
				sums := b.sums[c*b.slabDepth*plane+dst : c*b.slabDepth*plane+dst+width]
				for i, w := range importance {
					sums[i] += w * float64(values[i])
				}
			}
		}
	}
}
