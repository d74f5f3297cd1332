package nifti

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSizeCap bounds fuzz inputs. The seed fixtures are under 600 bytes.
const fuzzSizeCap = 1 << 16

// FuzzReadHeader decodes arbitrary bytes as a NIfTI file, seeded from the fixtures in
// testdata. Decoding as a volume or a mask must never panic. When it succeeds, writing the volume with its
// own header as template and decoding again must give the same grid and voxels.
func FuzzReadHeader(f *testing.F) {
	for _, pattern := range []string{"*.nii", "*.nii.gz"} {
		paths, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzSizeCap {
			t.Skip()
		}
		// The mask decoder shares the parser but converts samples differently, so it
		// runs on every input for its panics alone.
		decodeMask(bytes.NewReader(data))

		v, h, err := decodeVolume(bytes.NewReader(data))
		if err != nil {
			return
		}

		var buf bytes.Buffer
		if err := encodeVolume(&buf, v, WriteOptions{Template: h}); err != nil {
			t.Fatalf("write after a successful read failed: %v", err)
		}
		again, _, err := decodeVolume(&buf)
		if err != nil {
			t.Fatalf("read of the rewritten file failed: %v", err)
		}
		if again.Grid != v.Grid {
			t.Fatalf("grid changed in the round trip:\ngot  %+v\nwant %+v", again.Grid, v.Grid)
		}
		for n := range v.Voxels {
			if again.Voxels[n] != v.Voxels[n] {
				t.Fatalf("voxel %d changed in the round trip: %v, want %v", n, again.Voxels[n], v.Voxels[n])
			}
		}
	})
}
