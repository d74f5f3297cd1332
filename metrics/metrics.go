// Package metrics scores predicted kidney and tumor masks against reference masks.
//
// # Metrics
//
// For each case, [EvaluateCase] computes:
//
//   - the Dice coefficient 2|P∩R| / (|P|+|R|) of the kidney masks and of the tumor
//     masks, with Dice 1 when both masks are empty;
//   - per reference tumor, a 26-connected component of the reference tumor mask, the
//     Dice between it and the union of the predicted tumor components that overlap it.
//     The tumor counts as found when that Dice is above [FoundDiceThreshold];
//   - the false positives: predicted tumor components that overlap no reference tumor.
//
// Two components overlap when they share at least one voxel. [Summarize] averages the
// kidney Dice over all cases and the tumor Dice over the cases whose reference has a
// tumor. It pools the reference tumors of all cases for the per-tumor sensitivity,
// and divides the false positives by the number of cases.
//
// Masks are compared voxel by voxel, so all masks of a case must share one grid
// (see [CheckSameGrid]). Any non-zero label is foreground.
package metrics

import (
	"fmt"
	"math"

	"protrude/volume"
	"protrude/volume/components"
)

// FoundDiceThreshold is the Dice above which a reference tumor counts as found.
const FoundDiceThreshold = 0.5

// GridToleranceMM is the largest difference between corresponding entries of two
// grids' LPS affines, in mm, at which [CheckSameGrid] treats the grids as equal.
const GridToleranceMM = volume.GridToleranceMM

// CaseMasks are the kidney and tumor masks of one case, on one grid.
type CaseMasks struct {
	Kidney, Tumor *volume.Mask
}

// TumorMatch is the detection result for one reference tumor.
type TumorMatch struct {
	// VoxelCount, BoundingBox and VolumeML describe the reference tumor.
	VoxelCount  int
	BoundingBox components.Box
	VolumeML    float64
	// PredictedComponents is the number of predicted tumor components that overlap it.
	PredictedComponents int
	// Dice is between the reference tumor and the union of those predicted components.
	Dice float64
	// Found reports whether Dice is above FoundDiceThreshold.
	Found bool
}

// CaseResult is the outcome of [EvaluateCase] for one case.
type CaseResult struct {
	Case       string
	KidneyDice float64
	// TumorDice is the Dice of the whole tumor masks. It is 1 when both are empty and
	// 0 when only the prediction has tumor voxels.
	TumorDice float64
	// HasTumor reports whether the reference tumor mask has any voxel. Only such cases
	// enter the mean tumor Dice.
	HasTumor bool
	// Tumors has one entry per reference tumor, in the order of [components.Label].
	Tumors []TumorMatch
	// PredictedTumors is the number of predicted tumor components.
	PredictedTumors int
	// FalsePositives is the number of predicted tumor components that overlap no
	// reference tumor.
	FalsePositives int
}

// FoundTumors returns the number of reference tumors that were found.
func (r CaseResult) FoundTumors() int {
	n := 0
	for _, t := range r.Tumors {
		if t.Found {
			n++
		}
	}
	return n
}

// Summary contains the metrics over a set of cases. A mean over no values is NaN.
type Summary struct {
	Cases          int
	KidneyDiceMean float64
	// TumorCases is the number of cases whose reference has a tumor.
	TumorCases    int
	TumorDiceMean float64
	// ReferenceTumors and FoundTumors are pooled over all cases, and
	// PerTumorSensitivity is their ratio.
	ReferenceTumors     int
	FoundTumors         int
	PerTumorSensitivity float64
	// FalsePositives is the total over all cases, and FalsePositivesPerImage is that
	// total divided by Cases.
	FalsePositives         int
	FalsePositivesPerImage float64
}

// Dice returns the Dice coefficient of the non-zero voxels of a and b, or 1 when both
// are empty. It returns an error when the grids differ.
func Dice(a, b *volume.Mask) (float64, error) {
	if err := CheckSameGrid(a.Grid, b.Grid); err != nil {
		return 0, fmt.Errorf("metrics: Dice: %w", err)
	}
	d, err := dice(a, b)
	if err != nil {
		return 0, fmt.Errorf("metrics: Dice: %w", err)
	}
	return d, nil
}

// dice is [Dice] for masks whose grids have been checked.
func dice(a, b *volume.Mask) (float64, error) {
	if err := checkLabelCount(a); err != nil {
		return 0, err
	}
	if err := checkLabelCount(b); err != nil {
		return 0, err
	}
	var countA, countB, both int
	for n, la := range a.Labels {
		lb := b.Labels[n]
		if la != 0 {
			countA++
		}
		if lb != 0 {
			countB++
			if la != 0 {
				both++
			}
		}
	}
	if countA+countB == 0 {
		return 1, nil
	}
	return 2 * float64(both) / float64(countA+countB), nil
}

// EvaluateCase computes the metrics of one case. All four masks must be on one grid.
func EvaluateCase(name string, predicted, reference CaseMasks) (CaseResult, error) {
	result := CaseResult{Case: name}
	masks := []struct {
		role string
		mask *volume.Mask
	}{
		{"reference kidney", reference.Kidney},
		{"reference tumor", reference.Tumor},
		{"predicted kidney", predicted.Kidney},
		{"predicted tumor", predicted.Tumor},
	}
	for _, m := range masks {
		if m.mask == nil {
			return result, fmt.Errorf("metrics: case %s: the %s mask is missing", name, m.role)
		}
		if err := CheckSameGrid(masks[0].mask.Grid, m.mask.Grid); err != nil {
			return result, fmt.Errorf("metrics: case %s: %s and %s masks: %w", name, masks[0].role, m.role, err)
		}
	}

	var err error
	if result.KidneyDice, err = dice(predicted.Kidney, reference.Kidney); err != nil {
		return result, fmt.Errorf("metrics: case %s: kidney: %w", name, err)
	}
	if result.TumorDice, err = dice(predicted.Tumor, reference.Tumor); err != nil {
		return result, fmt.Errorf("metrics: case %s: tumor: %w", name, err)
	}

	refTumors, err := components.Label(reference.Tumor, components.Connectivity26)
	if err != nil {
		return result, fmt.Errorf("metrics: case %s: reference tumor: %w", name, err)
	}
	predTumors, err := components.Label(predicted.Tumor, components.Connectivity26)
	if err != nil {
		return result, fmt.Errorf("metrics: case %s: predicted tumor: %w", name, err)
	}
	result.HasTumor = len(refTumors.Components) > 0
	result.PredictedTumors = len(predTumors.Components)

	// Count the shared voxels of every overlapping pair of reference and predicted
	// components. Shared voxels lie in both labelings' boxes.
	overlaps := map[[2]int]int{}
	shared := refTumors.Box.Intersect(predTumors.Box)
	for k := shared.Min[2]; k < shared.Max[2]; k++ {
		for j := shared.Min[1]; j < shared.Max[1]; j++ {
			for i := shared.Min[0]; i < shared.Max[0]; i++ {
				r := refTumors.ComponentAt(i, j, k)
				if r < 0 {
					continue
				}
				if p := predTumors.ComponentAt(i, j, k); p >= 0 {
					overlaps[[2]int{r, p}]++
				}
			}
		}
	}

	// The union of the predicted components that overlap a reference tumor R contains
	// every predicted voxel inside R, so |R ∩ union| is the sum of R's pair counts,
	// and |union| the sum of those components' sizes, because components are disjoint.
	touchedPredictions := make([]bool, len(predTumors.Components))
	for r, ref := range refTumors.Components {
		match := TumorMatch{VoxelCount: ref.VoxelCount, BoundingBox: ref.BoundingBox, VolumeML: ref.VolumeML}
		intersection, unionSize := 0, 0
		for p, pred := range predTumors.Components {
			count := overlaps[[2]int{r, p}]
			if count == 0 {
				continue
			}
			touchedPredictions[p] = true
			match.PredictedComponents++
			intersection += count
			unionSize += pred.VoxelCount
		}
		match.Dice = 2 * float64(intersection) / float64(ref.VoxelCount+unionSize)
		match.Found = match.Dice > FoundDiceThreshold
		result.Tumors = append(result.Tumors, match)
	}
	for _, touched := range touchedPredictions {
		if !touched {
			result.FalsePositives++
		}
	}
	return result, nil
}

// Summarize combines case results as the package documentation describes.
func Summarize(cases []CaseResult) Summary {
	s := Summary{Cases: len(cases)}
	var kidneySum, tumorSum float64
	for _, c := range cases {
		kidneySum += c.KidneyDice
		if c.HasTumor {
			s.TumorCases++
			tumorSum += c.TumorDice
		}
		s.ReferenceTumors += len(c.Tumors)
		s.FoundTumors += c.FoundTumors()
		s.FalsePositives += c.FalsePositives
	}
	s.KidneyDiceMean = ratio(kidneySum, s.Cases)
	s.TumorDiceMean = ratio(tumorSum, s.TumorCases)
	s.PerTumorSensitivity = ratio(float64(s.FoundTumors), s.ReferenceTumors)
	s.FalsePositivesPerImage = ratio(float64(s.FalsePositives), s.Cases)
	return s
}

// ratio returns sum/n, or NaN when n is 0.
func ratio(sum float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// CheckSameGrid returns an error unless a and b have the same size and LPS affines
// whose entries differ by at most GridToleranceMM. It is [volume.CheckSameGrid].
func CheckSameGrid(a, b volume.Grid) error { return volume.CheckSameGrid(a, b) }

func checkLabelCount(m *volume.Mask) error {
	if len(m.Labels) != m.NumVoxels() {
		return fmt.Errorf("mask has %d labels, want %d for size %v", len(m.Labels), m.NumVoxels(), m.Size)
	}
	return nil
}
