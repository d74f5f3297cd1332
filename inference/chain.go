package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"protrude/volume"
)

// OutsideHU is the CT value given to canonical-grid voxels that lie outside the scan:
// air, which the HU window maps to -1.
const OutsideHU = -1024

// Stage names one step of [Pipeline.Run] in [Progress] reports.
type Stage string

const (
	StageResample     Stage = "resample"
	StageBase         Stage = "base"
	StageProtuberance Stage = "protuberance"
	StageFusion       Stage = "fusion"
	StageResampleBack Stage = "resample back"
)

// Progress is one report from [Pipeline.Run].
type Progress struct {
	Stage Stage
	// Done and Total count patches in the network stages, and are 0 or 1 of 1 in the
	// resampling stages.
	Done, Total int
	// Fraction estimates the overall progress in [0, 1] and never decreases. The stages
	// get fixed shares: resample 2%, base 78%, protuberance and fusion 18% together,
	// resample back 2%. These shares are a guess, not a measurement.
	Fraction float64
}

const (
	fractionResampled = 0.02
	fractionBaseDone  = 0.80
	fractionChainDone = 0.98
)

// Box is a half-open range of voxel indices [Min, Max) along i, j and k.
type Box struct {
	Min, Max [3]int
}

// Empty reports whether the box contains no voxel.
func (b Box) Empty() bool {
	return b.Max[0] <= b.Min[0] || b.Max[1] <= b.Min[1] || b.Max[2] <= b.Min[2]
}

// Size returns the number of voxels along i, j and k.
func (b Box) Size() [3]int {
	return [3]int{b.Max[0] - b.Min[0], b.Max[1] - b.Min[1], b.Max[2] - b.Min[2]}
}

// StageDurations is the wall time of each stage of [Pipeline.Run].
type StageDurations struct {
	Resample     time.Duration
	Base         time.Duration
	Protuberance time.Duration
	Fusion       time.Duration
	ResampleBack time.Duration
}

// PatchCounts is the number of patches each network ran on.
type PatchCounts struct {
	Base         int
	Protuberance int
	Fusion       int
}

// Result is the output of [Pipeline.Run].
type Result struct {
	// Kidney, Protrusion and Tumor are on the input CT grid, with label 1 where the
	// probability resampled to that grid is at or above the manifest threshold. Tumor
	// comes from the fusion network. BaseTumor is the base network's own tumor output,
	// thresholded the same way, for comparison.
	Kidney, Protrusion, Tumor, BaseTumor *volume.Mask

	// InputGrid is the grid of the input CT, which the masks are on.
	InputGrid volume.Grid
	// Grid is the canonical grid the networks ran on: [volume.IsotropicGridLPS] of the
	// input grid at the manifest spacing.
	Grid volume.Grid
	// Image is the CT resampled to Grid and mapped from the HU window to [-1, 1], as the
	// base and fusion networks see it. [Pipeline.Rerun] reads it, with the base
	// network's probabilities, so that a re-run does not resample or run the base
	// network again.
	Image *volume.Volume
	// The probabilities are on Grid. ProtrusionProbability and TumorProbability are 0
	// outside KidneyBox.
	KidneyProbability     *volume.Volume
	BaseTumorProbability  *volume.Volume
	ProtrusionProbability *volume.Volume
	TumorProbability      *volume.Volume
	// KidneyBox is the region of Grid where the protuberance and fusion networks ran:
	// the bounding box of kidney probability >= threshold, grown by the manifest's
	// crop margin and clamped to Grid. It is empty when no kidney was found. After a
	// [Pipeline.Rerun] from a protrusion edit it also covers the edited protrusion,
	// grown by the same margin.
	KidneyBox Box

	Durations StageDurations
	Patches   PatchCounts
	Device    DeviceInfo
	// Warnings are findings the user should see, such as that no kidney was found.
	Warnings []string
}

// MaxGridVoxels bounds the voxel count of the grid the networks run on. The chain keeps
// about six float32 volumes of that size, so the limit caps its memory near 10 GB; it
// admits a 500 × 500 × 1600 mm field of view at 1 mm.
const MaxGridVoxels = 400_000_000

// WarningNoKidney is added to [Result.Warnings] when no voxel reaches the kidney
// threshold, so the protuberance and fusion networks did not run.
const WarningNoKidney = "the base net found no kidney"

// Pipeline runs the three networks of a bundle on CT volumes. Run may be called many
// times, and calls are serialized. Close releases the ONNX Runtime sessions.
type Pipeline struct {
	mu           sync.Mutex
	bundle       *Bundle
	base         *Session
	protuberance *Session
	fusion       *Session
	device       DeviceInfo
}

// NewPipeline creates ONNX Runtime sessions for the three networks of b. The base
// network's session decides the device: with DeviceAuto, a fallback to the CPU there
// puts all three on the CPU, and the reason is in [Pipeline.Device].
func NewPipeline(b *Bundle, device Device) (*Pipeline, error) {
	patch := b.Manifest.Inference.PatchSize3()
	ioFor := func(spec ModelSpec) SessionIO {
		return SessionIO{
			InputName:      spec.Inputs[0].Name,
			InputChannels:  spec.Inputs[0].Channels,
			OutputName:     spec.Outputs[0].Name,
			OutputChannels: spec.Outputs[0].Channels,
			PatchSize:      patch,
		}
	}

	p := &Pipeline{bundle: b}
	var err error
	p.base, p.device, err = NewSession(b.Base.ONNX, ioFor(b.Base.Spec), device)
	if err != nil {
		return nil, fmt.Errorf("inference: bundle %q: model %q: %w", b.Name, ModelBase, err)
	}

	// The other sessions use the device the base session got, so a CUDA failure
	// on them is an error even under DeviceAuto.
	if p.protuberance, _, err = NewSession(b.Protuberance.ONNX, ioFor(b.Protuberance.Spec), p.device.Used); err != nil {
		p.Close()
		return nil, fmt.Errorf("inference: bundle %q: model %q: %w", b.Name, ModelProtuberance, err)
	}
	if p.fusion, _, err = NewSession(b.Fusion.ONNX, ioFor(b.Fusion.Spec), p.device.Used); err != nil {
		p.Close()
		return nil, fmt.Errorf("inference: bundle %q: model %q: %w", b.Name, ModelFusion, err)
	}
	return p, nil
}

// Device returns the device selection made by [NewPipeline].
func (p *Pipeline) Device() DeviceInfo { return p.device }

// Bundle returns the bundle the pipeline runs.
func (p *Pipeline) Bundle() *Bundle { return p.bundle }

// Close releases the sessions, after a Run in progress has returned. It is safe to
// call more than once.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()

	var errs []error
	for _, s := range []**Session{&p.base, &p.protuberance, &p.fusion} {
		if *s != nil {
			errs = append(errs, (*s).Close())
			*s = nil
		}
	}
	return errors.Join(errs...)
}

// Run segments kidney, protrusions and tumors in ct, a CT volume in Hounsfield units:
//
//  1. Resample ct to the canonical grid with trilinear interpolation, OutsideHU
//     beyond the scan, and map the HU window to [-1, 1].
//  2. Run the base network over the whole canonical volume for kidney and tumor
//     probabilities.
//  3. Take the kidney box: see [Result.KidneyBox]. When it is empty, skip steps 4 and 5
//     and add [WarningNoKidney].
//  4. Run the protuberance network on the kidney probability inside the box.
//  5. Run the fusion network on [image, clip(base tumor + protrusion, 0, 1)] inside
//     the box for the final tumor probability.
//  6. Resample the probabilities to ct's grid with trilinear interpolation and
//     threshold them.
//
// progress, when not nil, is called at the start and end of each stage and after each
// patch. When ctx is cancelled, Run stops before the next patch and returns ctx.Err().
func (p *Pipeline) Run(ctx context.Context, ct *volume.Volume, progress func(Progress)) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.base == nil {
		return nil, errors.New("inference: run on a closed pipeline")
	}
	if err := ct.Grid.Validate(); err != nil {
		return nil, fmt.Errorf("inference: input CT: %w", err)
	}
	if len(ct.Voxels) != ct.NumVoxels() {
		return nil, fmt.Errorf("inference: input CT has %d voxels, want %d for size %v", len(ct.Voxels), ct.NumVoxels(), ct.Size)
	}
	report := func(stage Stage, done, total int, fraction float64) {
		if progress != nil {
			progress(Progress{Stage: stage, Done: done, Total: total, Fraction: fraction})
		}
	}

	m := p.bundle.Manifest
	patch := m.Inference.PatchSize3()
	overlap := m.Inference.Overlap
	thresholds := m.Inference.Thresholds
	result := &Result{Device: p.device, InputGrid: ct.Grid}

	// Step 1: canonical grid and normalised image.
	report(StageResample, 0, 1, 0)
	start := time.Now()
	result.Grid = volume.IsotropicGridLPS(ct.Grid, m.Preprocessing.SpacingMMIsotropic())
	if n := float64(result.Grid.Size[0]) * float64(result.Grid.Size[1]) * float64(result.Grid.Size[2]); n > MaxGridVoxels {
		return nil, fmt.Errorf("inference: the %g mm grid for this scan would have %d×%d×%d voxels (%.3g million), more than the limit of %d million: "+
			"check the scan's spacing (%.4g×%.4g×%.4g mm) and size %v, or crop it to the abdomen",
			m.Preprocessing.SpacingMMIsotropic(), result.Grid.Size[0], result.Grid.Size[1], result.Grid.Size[2], n/1e6,
			MaxGridVoxels/1_000_000, ct.SpacingMM[0], ct.SpacingMM[1], ct.SpacingMM[2], ct.Size)
	}
	image := volume.ResampleLinear(ct, result.Grid, OutsideHU)
	normalizeHUWindow(image.Voxels, m.Preprocessing.HUWindow[0], m.Preprocessing.HUWindow[1])
	result.Image = image
	result.Durations.Resample = time.Since(start)
	report(StageResample, 1, 1, fractionResampled)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Step 2: base network over the whole volume.
	size := result.Grid.Size
	dims := [3]int{size[2], size[1], size[0]}
	result.Patches.Base = CountPatches(dims, patch, overlap)
	report(StageBase, 0, result.Patches.Base, fractionResampled)
	start = time.Now()
	baseOut, err := SlidingWindow(ctx, p.base,
		Tensor{Channels: 1, Dims: dims, Data: image.Voxels},
		WindowOptions{PatchSize: patch, Overlap: overlap, PadValues: []float32{-1}, OutputChannels: 2},
		func(done, total int) {
			report(StageBase, done, total, fractionResampled+(fractionBaseDone-fractionResampled)*float64(done)/float64(total))
		})
	if err != nil {
		return nil, wrapStageError(ctx, StageBase, err)
	}
	result.Durations.Base = time.Since(start)
	result.KidneyProbability = &volume.Volume{Grid: result.Grid, Voxels: baseOut.Channel(0)}
	result.BaseTumorProbability = &volume.Volume{Grid: result.Grid, Voxels: baseOut.Channel(1)}

	// Step 3: kidney box.
	marginVoxels := int(math.Ceil(m.Inference.CropMarginMM/m.Preprocessing.SpacingMMIsotropic() - 1e-9))
	result.KidneyBox = thresholdBox(result.KidneyProbability, float32(thresholds.Kidney), marginVoxels)
	result.ProtrusionProbability = volume.NewVolume(result.Grid)
	result.TumorProbability = volume.NewVolume(result.Grid)

	if result.KidneyBox.Empty() {
		result.Warnings = append(result.Warnings, WarningNoKidney)
	} else {
		// Steps 4 and 5 share the progress range evenly, because both run on the
		// same patches of the box.
		middle := (fractionBaseDone + fractionChainDone) / 2
		if err := p.runProtuberanceBox(ctx, result, report, fractionBaseDone, middle); err != nil {
			return nil, err
		}
		if err := p.runFusionBox(ctx, result, report, middle, fractionChainDone); err != nil {
			return nil, err
		}
	}

	// Step 6: back to the input grid.
	if err := resampleBack(result, thresholds, m.Inference.Postprocessing, report, fractionChainDone); err != nil {
		return nil, err
	}
	return result, nil
}

// resampleBack runs step 6 of [Pipeline.Run]: it makes the four masks of result on
// result.InputGrid from its probabilities, then applies the tumor postprocessing.
func resampleBack(result *Result, thresholds Thresholds, rule Postprocessing, report func(Stage, int, int, float64), fromFraction float64) error {
	report(StageResampleBack, 0, 1, fromFraction)
	start := time.Now()
	result.Kidney = thresholdOnGrid(result.KidneyProbability, result.InputGrid, thresholds.Kidney)
	result.Protrusion = thresholdOnGrid(result.ProtrusionProbability, result.InputGrid, thresholds.Protrusion)
	result.Tumor = thresholdOnGrid(result.TumorProbability, result.InputGrid, thresholds.Tumor)
	result.BaseTumor = thresholdOnGrid(result.BaseTumorProbability, result.InputGrid, thresholds.Tumor)
	// The same rule for both tumor masks, so that base-only and full stay comparable.
	for _, tumor := range []*volume.Mask{result.Tumor, result.BaseTumor} {
		if _, err := FilterTumorComponents(tumor, result.Kidney, rule); err != nil {
			return err
		}
	}
	result.Durations.ResampleBack = time.Since(start)
	report(StageResampleBack, 1, 1, 1)
	return nil
}

// boxPatchDims returns the tensor dimensions [D, H, W] of box and the number of
// patches the sliding window takes over it.
func (p *Pipeline) boxPatchDims(box Box) (dims [3]int, patches int) {
	inference := p.bundle.Manifest.Inference
	size := box.Size()
	dims = [3]int{size[2], size[1], size[0]}
	return dims, CountPatches(dims, inference.PatchSize3(), inference.Overlap)
}

// runProtuberanceBox runs step 4 of [Pipeline.Run]: the protuberance network on
// result.KidneyProbability inside result.KidneyBox. It writes the protrusion
// probability into result.ProtrusionProbability, which must be 0 outside the box, and
// reports progress from fraction from to fraction to.
func (p *Pipeline) runProtuberanceBox(ctx context.Context, result *Result, report func(Stage, int, int, float64), from, to float64) error {
	inference := p.bundle.Manifest.Inference
	box := result.KidneyBox
	dims, patches := p.boxPatchDims(box)
	fraction := func(done int) float64 { return from + (to-from)*float64(done)/float64(patches) }

	result.Patches.Protuberance = patches
	report(StageProtuberance, 0, patches, from)
	start := time.Now()
	protrusion, err := SlidingWindow(ctx, p.protuberance,
		Tensor{Channels: 1, Dims: dims, Data: cropBox(result.KidneyProbability, box)},
		WindowOptions{PatchSize: inference.PatchSize3(), Overlap: inference.Overlap, PadValues: []float32{0}, OutputChannels: 1},
		func(done, total int) { report(StageProtuberance, done, total, fraction(done)) })
	if err != nil {
		return wrapStageError(ctx, StageProtuberance, err)
	}
	pasteBox(result.ProtrusionProbability, box, protrusion.Data)
	result.Durations.Protuberance = time.Since(start)
	return nil
}

// runFusionBox runs step 5 of [Pipeline.Run]: the fusion network on result.Image and
// clip(base tumor + protrusion, 0, 1) inside result.KidneyBox. It writes the tumor
// probability into result.TumorProbability, which must be 0 outside the box, and
// reports progress from fraction from to fraction to.
func (p *Pipeline) runFusionBox(ctx context.Context, result *Result, report func(Stage, int, int, float64), from, to float64) error {
	inference := p.bundle.Manifest.Inference
	box := result.KidneyBox
	dims, patches := p.boxPatchDims(box)
	fraction := func(done int) float64 { return from + (to-from)*float64(done)/float64(patches) }

	result.Patches.Fusion = patches
	report(StageFusion, 0, patches, from)
	start := time.Now()
	image := cropBox(result.Image, box)
	n := len(image)
	fusionInput := make([]float32, 2*n)
	copy(fusionInput[:n], image)
	lesion := fusionInput[n:]
	copy(lesion, cropBox(result.BaseTumorProbability, box))
	for i, v := range cropBox(result.ProtrusionProbability, box) {
		lesion[i] = min(max(lesion[i]+v, 0), 1)
	}
	tumor, err := SlidingWindow(ctx, p.fusion,
		Tensor{Channels: 2, Dims: dims, Data: fusionInput},
		WindowOptions{PatchSize: inference.PatchSize3(), Overlap: inference.Overlap, PadValues: []float32{-1, 0}, OutputChannels: 1},
		func(done, total int) { report(StageFusion, done, total, fraction(done)) })
	if err != nil {
		return wrapStageError(ctx, StageFusion, err)
	}
	pasteBox(result.TumorProbability, box, tumor.Data)
	result.Durations.Fusion = time.Since(start)
	return nil
}

// wrapStageError returns ctx's error unchanged after a cancellation, so callers can
// compare it with context.Canceled, and names the stage otherwise.
func wrapStageError(ctx context.Context, stage Stage, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return err
	}
	return fmt.Errorf("inference: %s network: %w", stage, err)
}

// normalizeHUWindow maps HU values in place to (clip(v, lo, hi) - (lo+hi)/2) / ((hi-lo)/2),
// which is -1 at lo and +1 at hi.
func normalizeHUWindow(voxels []float32, lo, hi float64) {
	centre := (lo + hi) / 2
	halfWidth := (hi - lo) / 2
	for i, v := range voxels {
		voxels[i] = float32((min(max(float64(v), lo), hi) - centre) / halfWidth)
	}
}

// thresholdBox returns the bounding box of the voxels of v at or above threshold, grown
// by margin voxels on every side and clamped to v's grid, or an empty Box when no voxel
// reaches the threshold.
func thresholdBox(v *volume.Volume, threshold float32, margin int) Box {
	size := v.Size
	lo := size
	hi := [3]int{-1, -1, -1}
	n := 0
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			for i := 0; i < size[0]; i++ {
				if v.Voxels[n] >= threshold {
					index := [3]int{i, j, k}
					for a := 0; a < 3; a++ {
						lo[a] = min(lo[a], index[a])
						hi[a] = max(hi[a], index[a])
					}
				}
				n++
			}
		}
	}
	if hi[0] < 0 {
		return Box{}
	}
	var box Box
	for a := 0; a < 3; a++ {
		box.Min[a] = max(lo[a]-margin, 0)
		box.Max[a] = min(hi[a]+1+margin, size[a])
	}
	return box
}

// cropBox copies the voxels of v inside box into a new slice, i fastest.
func cropBox(v *volume.Volume, box Box) []float32 {
	s := box.Size()
	out := make([]float32, 0, s[0]*s[1]*s[2])
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			offset := v.Offset(box.Min[0], j, k)
			out = append(out, v.Voxels[offset:offset+s[0]]...)
		}
	}
	return out
}

// pasteBox copies values, laid out as cropBox returns them, into v inside box.
func pasteBox(v *volume.Volume, box Box, values []float32) {
	width := box.Max[0] - box.Min[0]
	n := 0
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			offset := v.Offset(box.Min[0], j, k)
			copy(v.Voxels[offset:offset+width], values[n:n+width])
			n += width
		}
	}
}

// thresholdOnGrid resamples the probability p onto grid with trilinear interpolation
// and returns label 1 where the result is at or above threshold.
// The canonical grid covers every input voxel centre, so no input voxel falls outside.
func thresholdOnGrid(p *volume.Volume, grid volume.Grid, threshold float64) *volume.Mask {
	resampled := volume.ResampleLinear(p, grid, 0)
	mask := volume.NewMask(grid)
	t := float32(threshold)
	for i, v := range resampled.Voxels {
		if v >= t {
			mask.Labels[i] = 1
		}
	}
	return mask
}
