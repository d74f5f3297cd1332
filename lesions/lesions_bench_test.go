package lesions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/internal/cputime"
	"protrude/volume"
	"protrude/volume/nifti"
)

// kitsTumorLabel is the tumor label of the KiTS19 masks (1 is kidney).
const kitsTumorLabel = 2

// readKiTSTumor reads a KiTS19 mask from the shared data folder and returns its tumor
// voxels as a mask, or skips the benchmark when the folder is absent.
func readKiTSTumor(b *testing.B, name string) *volume.Mask {
	path := filepath.Join("..", "..", "shared", "data", "kits19", name)
	if _, err := os.Stat(path); err != nil {
		b.Skipf("KiTS19 mask %s not available (%v); it lives outside the repository", path, err)
	}
	m, _, err := nifti.ReadMask(path)
	if err != nil {
		b.Fatal(err)
	}
	for n, l := range m.Labels {
		if l == kitsTumorLabel {
			m.Labels[n] = 1
		} else {
			m.Labels[n] = 0
		}
	}
	return m
}

// BenchmarkLesionTableKiTS measures the lesion table of two real KiTS19 tumor masks:
// Measure (labelling, volumes, exact maximum diameters, mean HU) and Update after the
// mask is unchanged, which adds the overlap matching. The CT is a zero volume on the
// mask's grid, because KiTS19 ships masks without CT here, and the mean costs the same.
func BenchmarkLesionTableKiTS(b *testing.B) {
	cases := []string{"case_00005.nii.gz", "case_00012.nii.gz"}
	for _, name := range cases {
		b.Run(strings.TrimSuffix(name, ".nii.gz"), func(b *testing.B) {
			tumor := readKiTSTumor(b, name)
			ct := volume.NewVolume(tumor.Grid)
			table, err := Measure(tumor, ct)
			if err != nil {
				b.Fatal(err)
			}
			voxels := 0
			for _, l := range table.Lesions {
				voxels += l.VoxelCount
			}
			b.Logf("%s: grid %v, spacing %v mm, %d lesions, %d tumor voxels", name, tumor.Size, tumor.SpacingMM, len(table.Lesions), voxels)

			b.Run("Measure", func(b *testing.B) {
				clock := cputime.New(b)
				for b.Loop() {
					clock.Start()
					if _, err := Measure(tumor, ct); err != nil {
						b.Fatal(err)
					}
					clock.Stop()
				}
				clock.Report()
			})
			b.Run("Update", func(b *testing.B) {
				clock := cputime.New(b)
				for b.Loop() {
					clock.Start()
					if _, err := table.Update(tumor, ct); err != nil {
						b.Fatal(err)
					}
					clock.Stop()
				}
				clock.Report()
			})
		})
	}
}
