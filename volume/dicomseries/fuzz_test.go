package dicomseries

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSizeCap bounds fuzz inputs. The seed files are under 1 KiB.
const fuzzSizeCap = 1 << 16

// FuzzParseSlice parses arbitrary bytes as one DICOM file, seeded with the pydicom
// fixtures and a synthetic slice. Parsing must never panic, including inside the
// DICOM parser, and a file that parses must decode into a buffer of rows × columns.
func FuzzParseSlice(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.dcm"))
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
	f.Add(newSliceSpec(0).encode())

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzSizeCap {
			t.Skip()
		}
		s, err := parseSlice("fuzz.dcm", data)
		if err != nil {
			return
		}
		if s.rows*s.columns > fuzzSizeCap {
			t.Fatalf("parsed %d × %d pixels from %d bytes of input", s.rows, s.columns, len(data))
		}
		s.decodeInto(make([]float32, s.rows*s.columns))
	})
}
