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

// MaskEdit is a manual edit of one output mask: the mask as the last run left it and
// the mask now. Both are on the input CT grid.
type MaskEdit struct {
	Before, After *volume.Mask
}

// RerunInput names the masks that the user edited since the run that made the
// previous [Result]. A nil edit means that mask is unchanged.
type RerunInput struct {
	// Kidney, when set, makes the protuberance and the fusion network run again.
	Kidney *MaskEdit
	// Protrusion, when set, makes the fusion network run again. With Kidney also set,
	// it is laid over the new protuberance output.
	Protrusion *MaskEdit
}

// ErrNothingToRerun is returned by [Pipeline.Rerun] when the input names no edit.
var ErrNothingToRerun = errors.New("inference: re-run: neither the kidney nor the protrusion mask was edited")

// Rerun runs only the stages after an edit, on the cached canonical-grid volumes of
// prev, a [Result] of [Pipeline.Run] or of an earlier Rerun. The base network never
// runs again, and the CT is not resampled again.
//
//   - A kidney edit: the kidney probability becomes [BlendEdit] of prev's kidney
//     probability and the edit, the kidney box is taken again from it, and the
//     protuberance and fusion networks run in the new box.
//   - A protrusion edit only: the protrusion probability becomes [BlendEdit] of prev's
//     protrusion probability and the edit, and the fusion network runs in prev's
//     kidney box grown to cover the edited protrusion.
//
// Both the kidney and protrusion edits together run the protuberance network first,
// then blend the protrusion edit into its new output before fusion.
// The returned Result has the four masks made again from its probabilities. Its
// Durations and Patches count only the stages that ran, so Patches.Base is 0.
// prev is not changed, and its masks are not read.
//
// progress and cancellation work as in [Pipeline.Run]. The first report is
// StageResample for the blending, and no report names StageBase.
func (p *Pipeline) Rerun(ctx context.Context, prev *Result, input RerunInput, progress func(Progress)) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.base == nil {
		return nil, errors.New("inference: re-run on a closed pipeline")
	}
	if input.Kidney == nil && input.Protrusion == nil {
		return nil, ErrNothingToRerun
	}
	if err := checkRerunCache(prev); err != nil {
		return nil, err
	}
	for _, e := range []struct {
		name string
		edit *MaskEdit
	}{{"kidney", input.Kidney}, {"protrusion", input.Protrusion}} {
		if e.edit != nil && e.edit.After != nil && e.edit.After.Grid != prev.InputGrid {
			return nil, fmt.Errorf("inference: re-run: the edited %s mask has size %v, not on the CT grid of size %v that the previous run had",
				e.name, e.edit.After.Size, prev.InputGrid.Size)
		}
	}
	report := func(stage Stage, done, total int, fraction float64) {
		if progress != nil {
			progress(Progress{Stage: stage, Done: done, Total: total, Fraction: fraction})
		}
	}

	m := p.bundle.Manifest
	thresholds := m.Inference.Thresholds
	marginVoxels := int(math.Ceil(m.Inference.CropMarginMM/m.Preprocessing.SpacingMMIsotropic() - 1e-9))
	result := &Result{
		Device:               p.device,
		InputGrid:            prev.InputGrid,
		Grid:                 prev.Grid,
		Image:                prev.Image,
		KidneyProbability:    prev.KidneyProbability,
		BaseTumorProbability: prev.BaseTumorProbability,
		KidneyBox:            prev.KidneyBox,
	}

	// The kidney edit, blended into the kidney probability.
	report(StageResample, 0, 1, 0)
	start := time.Now()
	if input.Kidney != nil {
		kidney, err := BlendEdit(prev.KidneyProbability, *input.Kidney)
		if err != nil {
			return nil, fmt.Errorf("inference: re-run: kidney edit: %w", err)
		}
		result.KidneyProbability = kidney
		result.KidneyBox = thresholdBox(kidney, float32(thresholds.Kidney), marginVoxels)
	}
	result.Durations.Resample = time.Since(start)
	report(StageResample, 1, 1, fractionResampled)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The protuberance network, after a kidney edit. With no kidney left, the
	// protrusion probability is 0.
	fusionFrom := fractionResampled
	if input.Kidney == nil {
		result.ProtrusionProbability = prev.ProtrusionProbability
	} else {
		result.ProtrusionProbability = volume.NewVolume(result.Grid)
		if !result.KidneyBox.Empty() {
			fusionFrom = (fractionResampled + fractionChainDone) / 2
			if err := p.runProtuberanceBox(ctx, result, report, fractionResampled, fusionFrom); err != nil {
				return nil, err
			}
		}
	}
	if result.KidneyBox.Empty() {
		result.Warnings = append(result.Warnings, WarningNoKidney)
	}

	// The protrusion edit, blended into the protrusion probability, and the box grown
	// to cover it.
	if input.Protrusion != nil {
		start := time.Now()
		protrusion, edited, err := blendEdit(result.ProtrusionProbability, *input.Protrusion)
		if err != nil {
			return nil, fmt.Errorf("inference: re-run: protrusion edit: %w", err)
		}
		result.ProtrusionProbability = protrusion
		if !edited.Empty() {
			result.KidneyBox = unionBox(result.KidneyBox, growBox(edited, marginVoxels, result.Grid.Size))
		}
		result.Durations.Resample += time.Since(start)
	}

	// The fusion network, unless there is neither kidney nor protrusion.
	result.TumorProbability = volume.NewVolume(result.Grid)
	if !result.KidneyBox.Empty() {
		if err := p.runFusionBox(ctx, result, report, fusionFrom, fractionChainDone); err != nil {
			return nil, err
		}
	}

	if err := resampleBack(result, thresholds, p.bundle.Manifest.Inference.Postprocessing, report, fractionChainDone); err != nil {
		return nil, err
	}
	return result, nil
}

// checkRerunCache rejects a previous result that lacks the canonical-grid volumes a
// re-run reads, or whose volumes are not on its grid.
func checkRerunCache(prev *Result) error {
	if prev == nil {
		return errors.New("inference: re-run: no previous result: run the whole pipeline first")
	}
	if err := prev.InputGrid.Validate(); err != nil {
		return fmt.Errorf("inference: re-run: previous result's input grid: %w", err)
	}
	cached := []struct {
		name string
		v    *volume.Volume
	}{
		{"Image", prev.Image},
		{"KidneyProbability", prev.KidneyProbability},
		{"BaseTumorProbability", prev.BaseTumorProbability},
		{"ProtrusionProbability", prev.ProtrusionProbability},
	}
	for _, c := range cached {
		if c.v == nil {
			return fmt.Errorf("inference: re-run: previous result has no %s: run the whole pipeline first", c.name)
		}
		if c.v.Grid != prev.Grid || len(c.v.Voxels) != prev.Grid.NumVoxels() {
			return fmt.Errorf("inference: re-run: previous result's %s is not on its canonical grid of size %v", c.name, prev.Grid.Size)
		}
	}
	return nil
}

// BlendEdit returns a copy of probability, a network output on the canonical grid,
// with a manual mask edit laid over it:
//
//	blended = (1 - w) × probability + w × after
//
// after is the edited mask as 0/1 and w marks the edited voxels (1 where Before and
// After differ, 0 elsewhere), both resampled to the canonical grid with trilinear
// interpolation. Where the user changed nothing and no edited voxel is a trilinear
// neighbour, w is 0 and the probability is copied exactly. Where the user edited, the
// mask decides.
//
// The networks were trained on soft probabilities, such as a blurred kidney, not on
// binary masks. Feeding the whole edited mask as 0/1 would change the input at every
// unedited boundary as well, so the output would change far from the edit. Blending
// keeps the edit local.
func BlendEdit(probability *volume.Volume, e MaskEdit) (*volume.Volume, error) {
	out, _, err := blendEdit(probability, e)
	return out, err
}

// blendEdit does the work of [BlendEdit] and also returns the bounding box of the
// canonical voxels whose weight w is above 0, which is empty when there are none.
func blendEdit(probability *volume.Volume, e MaskEdit) (*volume.Volume, Box, error) {
	if err := checkMaskEdit(e); err != nil {
		return nil, Box{}, err
	}
	out := &volume.Volume{Grid: probability.Grid, Voxels: slices.Clone(probability.Voxels)}

	// The edited voxels' bounding box, grown by one voxel: every point whose trilinear
	// neighbours include an edited voxel has all its neighbours in there.
	changed, box := editedVoxels(e)
	if box.Empty() {
		return out, Box{}, nil
	}
	box = growBox(box, 1, e.After.Size)
	after := cropMaskAsFloat(e.After, box)
	weight := cropMaskAsFloat(changed, box)

	target := coveringBox(after.Grid, probability.Grid)
	if target.Empty() {
		return out, Box{}, nil
	}
	targetGrid := subGrid(probability.Grid, target)
	afterOnGrid := volume.ResampleLinear(after, targetGrid, 0)
	weightOnGrid := volume.ResampleLinear(weight, targetGrid, 0)

	weighted := Box{Min: target.Max, Max: target.Min}
	n := 0
	for k := target.Min[2]; k < target.Max[2]; k++ {
		for j := target.Min[1]; j < target.Max[1]; j++ {
			row := out.Voxels[out.Offset(target.Min[0], j, k):]
			for i := 0; i < target.Max[0]-target.Min[0]; i, n = i+1, n+1 {
				w := weightOnGrid.Voxels[n]
				if w <= 0 {
					continue
				}
				row[i] = (1-w)*row[i] + w*afterOnGrid.Voxels[n]
				index := [3]int{target.Min[0] + i, j, k}
				for a := 0; a < 3; a++ {
					weighted.Min[a] = min(weighted.Min[a], index[a])
					weighted.Max[a] = max(weighted.Max[a], index[a]+1)
				}
			}
		}
	}
	if weighted.Empty() {
		return out, Box{}, nil
	}
	return out, weighted, nil
}

// checkMaskEdit rejects an edit whose masks are missing, invalid or on different grids.
func checkMaskEdit(e MaskEdit) error {
	if e.Before == nil || e.After == nil {
		return errors.New("inference: mask edit: the mask before or after the edit is missing")
	}
	if err := e.After.Grid.Validate(); err != nil {
		return fmt.Errorf("inference: mask edit: %w", err)
	}
	if e.Before.Grid != e.After.Grid {
		return fmt.Errorf("inference: mask edit: the mask before the edit has size %v and the mask after it %v, on different grids",
			e.Before.Size, e.After.Size)
	}
	for _, m := range []*volume.Mask{e.Before, e.After} {
		if len(m.Labels) != m.NumVoxels() {
			return fmt.Errorf("inference: mask edit: mask has %d labels, want %d for size %v", len(m.Labels), m.NumVoxels(), m.Size)
		}
	}
	return nil
}

// editedVoxels returns a mask with label 1 where e.Before and e.After differ in being
// labelled (any non-zero label), and the bounding box of those voxels, which is empty
// when there are none.
func editedVoxels(e MaskEdit) (*volume.Mask, Box) {
	changed := volume.NewMask(e.After.Grid)
	for n, l := range e.After.Labels {
		if (e.Before.Labels[n] != 0) != (l != 0) {
			changed.Labels[n] = 1
		}
	}
	return changed, Box(components.BoundingBox(changed))
}

// unionBox returns the smallest box that contains a and b. An empty box adds nothing.
func unionBox(a, b Box) Box {
	if a.Empty() {
		return b
	}
	if b.Empty() {
		return a
	}
	var out Box
	for axis := 0; axis < 3; axis++ {
		out.Min[axis] = min(a.Min[axis], b.Min[axis])
		out.Max[axis] = max(a.Max[axis], b.Max[axis])
	}
	return out
}
