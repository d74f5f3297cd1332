package main

import (
	"fmt"
	"slices"

	"protrude/volume"
)

// maxNonContrastKidneyHU is the median kidney attenuation above which a scan is
// flagged as probably contrast-enhanced. Unenhanced renal parenchyma measures about
// 20–40 HU, while nephrographic-phase parenchyma usually exceeds 100 HU.
const maxNonContrastKidneyHU = 80

// contrastWarnings returns the warnings of the kidney and aorta checks for ct, whose
// kidney mask from the pipeline is kidney (nil when there is none). The aorta check
// needs no mask, so it also flags chest scans without kidneys.
func contrastWarnings(ct *volume.Volume, kidney *volume.Mask) []string {
	var warnings []string
	if w := kidneyContrastWarning(ct, kidney); w != "" {
		warnings = append(warnings, w)
	}
	if w := aortaContrastWarning(ct); w != "" {
		warnings = append(warnings, w)
	}
	return warnings
}

// kidneyContrastWarning returns a warning when the median HU of ct inside the kidney
// mask suggests contrast, and "" otherwise or when the mask is empty. ct and kidney
// must share a grid, as the pipeline's masks share the input's.
func kidneyContrastWarning(ct *volume.Volume, kidney *volume.Mask) string {
	if kidney == nil || len(kidney.Labels) != len(ct.Voxels) {
		return ""
	}
	var values []float32
	for n, label := range kidney.Labels {
		if label != 0 {
			values = append(values, ct.Voxels[n])
		}
	}
	if len(values) == 0 {
		return ""
	}
	slices.Sort(values)
	median := values[len(values)/2]
	if median <= maxNonContrastKidneyHU {
		return ""
	}
	return fmt.Sprintf("the kidneys measure %.0f HU (median inside the kidney mask), above the %d HU expected without contrast: "+
		"this scan looks contrast-enhanced, but the networks were trained on non-contrast CT, so treat the tumor layers with caution",
		median, maxNonContrastKidneyHU)
}
