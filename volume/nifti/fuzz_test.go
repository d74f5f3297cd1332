package nifti

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"sync"
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
		decodeMask(bytes.NewReader(data), nil)

		v, h, err := decodeVolume(bytes.NewReader(data))
		if err != nil {
			return
		}
		// The encoded bytes are compared because a header may hold NaN, which
		// never equals itself.
		header, err := decodeHeader(bytes.NewReader(data))
		if err != nil || !bytes.Equal(header.encode(), h.encode()) || header.ByteOrder != h.ByteOrder {
			t.Fatalf("decodeHeader of a file that decodes: header %+v and error %v, want %+v", header, err, h)
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

// gzipWriters reuses compressors across fuzz inputs, because a new gzip.Writer
// allocates about 1 MiB of tables and would dominate the time of each input.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// FuzzReadGzipped checks the gzip path against the plain one: arbitrary bytes read
// after gzip compression must give the same error or the same volume as read as they
// are. The seeds are the uncompressed fixtures.
func FuzzReadGzipped(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.nii"))
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

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzSizeCap {
			t.Skip()
		}
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			t.Skip("the plain input would itself be read as gzip")
		}
		var compressed bytes.Buffer
		zw := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(zw)
		zw.Reset(&compressed)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}

		plain, _, plainErr := decodeVolume(bytes.NewReader(data))
		unzipped, _, gzipErr := decodeVolume(&compressed)
		if (plainErr == nil) != (gzipErr == nil) {
			t.Fatalf("plain read error %v, but gzip read error %v", plainErr, gzipErr)
		}
		if plainErr != nil {
			if plainErr.Error() != gzipErr.Error() {
				t.Fatalf("plain read error %q, gzip read error %q", plainErr, gzipErr)
			}
			return
		}
		if unzipped.Grid != plain.Grid {
			t.Fatalf("grid %+v from gzip, %+v from plain", unzipped.Grid, plain.Grid)
		}
		for n := range plain.Voxels {
			if math.Float32bits(unzipped.Voxels[n]) != math.Float32bits(plain.Voxels[n]) {
				t.Fatalf("voxel %d is %v from gzip, %v from plain", n, unzipped.Voxels[n], plain.Voxels[n])
			}
		}
	})
}
