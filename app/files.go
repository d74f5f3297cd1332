package main

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"syscall"

	"protrude/volume"
)

// writePNGAtomic encodes img as PNG into a temporary file next to path and renames it
// into place, so that path never holds a partial image.
func writePNGAtomic(path string, img image.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename

	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: encode PNG: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
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
