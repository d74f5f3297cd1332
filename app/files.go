package main

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"syscall"

	"protrude/internal/atomicfile"
	"protrude/volume"
)

// writePNGAtomic encodes img as PNG and replaces path with it all at once.
func writePNGAtomic(path string, img image.Image) error {
	err := atomicfile.WriteFunc(path, func(w io.Writer) error {
		if err := png.Encode(w, img); err != nil {
			return fmt.Errorf("encode PNG: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// peakRSSMiB returns the maximum resident set size of this process so far, in MiB.
func peakRSSMiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss / 1024 // Linux reports kilobytes
}

// countVoxels returns the number of non-zero voxels in m.
func countVoxels(m *volume.Mask) int {
	n := 0
	for _, l := range m.Labels {
		if l != 0 {
			n++
		}
	}
	return n
}

// maskVolumeML returns the volume of the non-zero voxels of m in millilitres.
func maskVolumeML(m *volume.Mask) float64 {
	voxelMM3 := m.SpacingMM[0] * m.SpacingMM[1] * m.SpacingMM[2]
	return math.Round(float64(countVoxels(m))*voxelMM3/100) / 10
}
