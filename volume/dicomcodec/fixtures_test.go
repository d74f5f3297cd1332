package dicomcodec

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is one compressed frame in testdata and what it decodes to, from
// testdata/expected.json (written by testdata/make_fixtures.py).
type fixture struct {
	File                string  `json:"file"`
	Syntax              string  `json:"syntax"`
	Encoder             string  `json:"encoder"`
	Rows                int     `json:"rows"`
	Columns             int     `json:"columns"`
	BitsAllocated       int     `json:"bitsAllocated"`
	BitsStored          int     `json:"bitsStored"`
	PixelRepresentation int     `json:"pixelRepresentation"`
	Lossless            bool    `json:"lossless"`
	MaxDifference       int64   `json:"maxDifference"`
	Values              []int64 `json:"values"`
}

func (f fixture) format() Format {
	return Format{Rows: f.Rows, Columns: f.Columns, SamplesPerPixel: 1, BitsAllocated: f.BitsAllocated, BitsStored: f.BitsStored, PixelRepresentation: f.PixelRepresentation}
}

func (f fixture) frame(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", f.File))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []fixture
	if err := json.Unmarshal(b, &fixtures); err != nil {
		t.Fatal(err)
	}
	if len(fixtures) == 0 {
		t.Fatal("testdata/expected.json lists no fixtures")
	}
	return fixtures
}

// fixturesOf returns the fixtures of the given transfer syntaxes.
func fixturesOf(t testing.TB, syntaxes ...string) []fixture {
	t.Helper()
	var selected []fixture
	for _, f := range loadFixtures(t) {
		for _, s := range syntaxes {
			if f.Syntax == s {
				selected = append(selected, f)
			}
		}
	}
	return selected
}

func TestDecodeFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.File, func(t *testing.T) {
			native, err := Decode(fx.Syntax, fx.frame(t), fx.format())
			if err != nil {
				t.Fatal(err)
			}
			got := sampleValues(t, native, binary.LittleEndian, fx.format())
			differing, maxDifference, err := compareValues(got, fx.Values)
			if err != nil {
				t.Fatal(err)
			}
			if maxDifference > fx.MaxDifference {
				t.Errorf("%d of %d samples differ from gdcmconv's decoding, by up to %d, want at most %d", differing, len(got), maxDifference, fx.MaxDifference)
			}
		})
	}
}

// TestDecodeTruncatedFixtures cuts each fixture short and requires an error that
// names the pixel data and wraps ErrMalformed.
func TestDecodeTruncatedFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		frame := fx.frame(t)
		for _, keep := range []int{len(frame) / 2, len(frame) * 9 / 10} {
			_, err := Decode(fx.Syntax, frame[:keep], fx.format())
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), fieldPixelData) {
				t.Errorf("%s cut to %d of %d bytes: error %v, want one starting with %q and wrapping ErrMalformed", fx.File, keep, len(frame), err, fieldPixelData)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	fixtures := map[string]fixture{}
	for _, fx := range loadFixtures(t) {
		fixtures[fx.File] = fx
	}
	withFormat := func(file string, change func(*Format)) (string, []byte, Format) {
		fx, ok := fixtures[file]
		if !ok {
			t.Fatalf("fixture %s is not in testdata/expected.json", file)
		}
		f := fx.format()
		change(&f)
		return fx.Syntax, fx.frame(t), f
	}
	rleWithSegments := func(segments uint32) []byte {
		frame := append([]byte(nil), fixtures["rle_signed16.rle"].frame(t)...)
		binary.LittleEndian.PutUint32(frame, segments)
		return frame
	}

	cases := []struct {
		name    string
		syntax  string
		frame   []byte
		format  Format
		kind    error
		message string
	}{
		{"MPEG-2 syntax", "1.2.840.10008.1.2.4.100", []byte{1}, Format{},
			ErrUnsupported, "TransferSyntaxUID (0002,0010) is 1.2.840.10008.1.2.4.100 (MPEG2 Main Profile / Main Level), which this reader does not decode"},
		{"unknown syntax", "1.2.3.4", []byte{1}, Format{},
			ErrUnsupported, "1.2.3.4 (not a standard UID)"},
		{"empty frame", RLELossless, nil, fixtures["rle_signed16.rle"].format(),
			ErrMalformed, "PixelData (7fe0,0010) frame is empty (0 bytes)"},
		{"colour format", RLELossless, []byte{1}, Format{Rows: 1, Columns: 1, SamplesPerPixel: 3, BitsAllocated: 8, BitsStored: 8},
			ErrUnsupported, "SamplesPerPixel (0028,0002) is 3"},
		{"BitsStored above BitsAllocated", RLELossless, []byte{1}, Format{Rows: 1, Columns: 1, SamplesPerPixel: 1, BitsAllocated: 8, BitsStored: 9},
			ErrMalformed, "BitsStored (0028,0101) is 9 with BitsAllocated (0028,0100) 8"},
		{"RLE segment count", RLELossless, rleWithSegments(3), fixtures["rle_signed16.rle"].format(),
			ErrMalformed, "RLE header has 3 segments, but BitsAllocated (0028,0100) 16 with 1 sample per pixel needs 2"},
		{"RLE huge segment count", RLELossless, rleWithSegments(0xffffffff), fixtures["rle_signed16.rle"].format(),
			ErrMalformed, "RLE header has 4294967295 segments"},
		{"JPEG-LS without EOI", JPEGLSLossless, fixtures["jpegls_lossless_signed16.jls"].frame(t)[:100], fixtures["jpegls_lossless_signed16.jls"].format(),
			ErrMalformed, "JPEG-LS stream of 100 bytes does not end with the EOI marker FFD9"},
		{"RLE frame larger than its segments", RLELossless, fixtures["rle_unsigned8.rle"].frame(t), Format{Rows: 1000, Columns: 1000, SamplesPerPixel: 1, BitsAllocated: 8, BitsStored: 8},
			ErrMalformed, "too short to decode to 1000 × 1000 = 1000000 bytes"},
	}
	mismatches := []struct {
		name, file string
		change     func(*Format)
		message    string
	}{
		{"JPEG rows", "jpeg_lossless_sv1_signed16.jpg", func(f *Format) { f.Rows++ },
			"JPEG frame is 12 rows × 20 columns, but Rows (0028,0010) is 13 and Columns (0028,0011) is 20"},
		{"JPEG 8-bit DCT rows", "jpeg_baseline_unsigned8.jpg", func(f *Format) { f.Columns = 21 },
			"JPEG frame is 12 rows × 20 columns, but Rows (0028,0010) is 12 and Columns (0028,0011) is 21"},
		{"JPEG precision above BitsAllocated", "jpeg_lossless_sv1_signed16.jpg", func(f *Format) { f.BitsAllocated, f.BitsStored = 8, 8 },
			"JPEG sample precision is 16 bits, more than BitsAllocated (0028,0100) 8"},
		{"JPEG-LS columns", "jpegls_lossless_signed16.jls", func(f *Format) { f.Columns = 2 },
			"JPEG-LS frame is 12 rows × 20 columns, but Rows (0028,0010) is 12 and Columns (0028,0011) is 2"},
		{"JPEG 2000 rows", "j2k_lossless_signed16.j2k", func(f *Format) { f.Rows = 4 },
			"JPEG 2000 image is 12 rows × 20 columns with 1 components of 16 bits (subsampling 1 × 1), but Rows (0028,0010) is 4"},
		{"RLE BitsAllocated", "rle_signed16.rle", func(f *Format) { f.BitsAllocated, f.BitsStored = 8, 8 },
			"RLE header has 2 segments, but BitsAllocated (0028,0100) 8 with 1 sample per pixel needs 1"},
	}
	for _, m := range mismatches {
		syntax, frame, f := withFormat(m.file, m.change)
		cases = append(cases, struct {
			name    string
			syntax  string
			frame   []byte
			format  Format
			kind    error
			message string
		}{m.name, syntax, frame, f, ErrMalformed, m.message})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.syntax, tc.frame, tc.format)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %v, want one wrapping %v and containing %q", err, tc.kind, tc.message)
			}
		})
	}
}

func TestSplitFrames(t *testing.T) {
	jpegA, jpegB := []byte{0xff, 0xd8, 1, 2}, []byte{0xff, 0xd8, 3}
	cases := []struct {
		name      string
		syntax    string
		fragments [][]byte
		frames    int
		want      [][]byte
		message   string
	}{
		{"one frame joins fragments", JPEG2000, [][]byte{{1, 2}, {3}}, 1, [][]byte{{1, 2, 3}}, ""},
		{"one fragment per frame", RLELossless, [][]byte{{1}, {2}}, 2, [][]byte{{1}, {2}}, ""},
		{"JPEG frames split over fragments", JPEGLosslessSV1, [][]byte{jpegA, {9}, jpegB, {8, 7}}, 2, [][]byte{{0xff, 0xd8, 1, 2, 9}, {0xff, 0xd8, 3, 8, 7}}, ""},
		{"RLE frames split over fragments", RLELossless, [][]byte{{1}, {2}, {3}}, 2, nil, "RLE frames split over several fragments cannot be separated"},
		{"fewer fragments than frames", JPEGBaseline, [][]byte{jpegA}, 2, nil, "has 1 fragments, fewer than NumberOfFrames (0028,0008) 2"},
		{"signatures disagree with frame count", JPEGBaseline, [][]byte{jpegA, {1}, {2}}, 2, nil, "has 3 fragments that start 1 codestreams, but NumberOfFrames (0028,0008) is 2"},
		{"no fragments", JPEGBaseline, nil, 1, nil, "has no fragments after the basic offset table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitFrames(tc.syntax, tc.fragments, tc.frames)
			if tc.message != "" {
				if err == nil || !strings.Contains(err.Error(), tc.message) {
					t.Errorf("error %v, want one containing %q", err, tc.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d frames, want %d", len(got), len(tc.want))
			}
			for n := range got {
				if string(got[n]) != string(tc.want[n]) {
					t.Errorf("frame %d = % x, want % x", n, got[n], tc.want[n])
				}
			}
		})
	}
}
