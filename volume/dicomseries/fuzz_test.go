package dicomseries

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSizeCap bounds fuzz inputs. The seed files are under 1 KiB.
const fuzzSizeCap = 1 << 16

// FuzzParseSlice parses arbitrary bytes as one DICOM file, seeded with the pydicom
// fixtures, a synthetic slice with and without file meta group and an enhanced CT.
// Parsing, the header-only walk and the decode path must never panic, including
// inside the DICOM parser, and a file that parses must decode into a buffer of
// rows × columns.
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
	f.Add(encodeElements(newSliceSpec(0).elements()))
	f.Add(enhancedCT([]float64{3, 0}, nil))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzSizeCap {
			t.Skip()
		}
		// The decode path must agree with the full parse on whether the file is an
		// image, and its frames must hold whole frames of pixel data.
		if decoded, err := parseForDecode("fuzz.dcm", data); err == nil && decoded.kind == kindImage && decoded.pixelErr == nil {
			for _, frame := range decoded.frames {
				if len(frame.pixelData) != frame.rows*frame.columns*frame.bitsAllocated/8 {
					t.Fatalf("frame has %d bytes of pixel data for %d × %d × %d bits", len(frame.pixelData), frame.rows, frame.columns, frame.bitsAllocated)
				}
				frame.decodeInto(make([]float32, frame.rows*frame.columns))
			}
		}
		for _, cut := range []int{len(data) / 2, len(data) - 1} {
			if cut > 0 {
				headerEnd(data[:cut], len(data))
			}
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
