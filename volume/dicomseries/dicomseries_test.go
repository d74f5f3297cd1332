package dicomseries

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

func TestReadDirSortsByPosition(t *testing.T) {
	// Spec order is shuffled and file names run in reverse, so only the positions
	// give the right order.
	specs := stack(5, 0, 7.5, 2.5)
	v, info, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	want := volume.Grid{
		Size:      [3]int{4, 3, 4},
		SpacingMM: volume.Vec3{0.6, 0.8, 2.5},
		OriginLPS: volume.Vec3{-100, 50, 0},
		AxesLPS:   volume.IdentityAxesLPS,
	}
	if v.Grid != want {
		t.Errorf("grid = %+v, want %+v", v.Grid, want)
	}
	if info.NumSlices != 4 || info.Modality != "CT" || info.SeriesInstanceUID != "2.25.1234" || info.SeriesDescription != "synthetic" {
		t.Errorf("info = %+v, want 4 CT slices of series 2.25.1234 described as synthetic", info)
	}
	if len(info.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", info.Warnings)
	}
	for k, z := range []float64{0, 2.5, 5, 7.5} {
		slice := newSliceSpec(z)
		for j := 0; j < 3; j++ {
			for i := 0; i < 4; i++ {
				wantHU := float32(slice.stored[j*4+i]) - 1024
				if got := v.At(i, j, k); got != wantHU {
					t.Fatalf("voxel (%d, %d, %d) = %v, want %v (slice at z = %g)", i, j, k, got, wantHU, z)
				}
			}
		}
	}
}

// TestReadDirFlippedColumns uses a column cosine pointing anterior, so the slice
// normal points inferior and the first slice is the highest one.
func TestReadDirFlippedColumns(t *testing.T) {
	specs := stack(0, 3, 6)
	for n := range specs {
		specs[n].orientation = [6]float64{1, 0, 0, 0, -1, 0}
	}
	v, _, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	wantAxes := [3]volume.Vec3{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}}
	if v.AxesLPS != wantAxes {
		t.Errorf("axes = %v, want %v", v.AxesLPS, wantAxes)
	}
	if v.OriginLPS != (volume.Vec3{-100, 50, 6}) {
		t.Errorf("origin = %v, want the highest slice's position (-100, 50, 6)", v.OriginLPS)
	}
	if v.SpacingMM[2] != 3 {
		t.Errorf("slice spacing = %g, want 3", v.SpacingMM[2])
	}
	if got, want := v.At(0, 0, 0), float32(newSliceSpec(6).stored[0])-1024; got != want {
		t.Errorf("voxel (0, 0, 0) = %v, want %v from the slice at z = 6", got, want)
	}
}

// TestReadDirPixelSpacingOrder uses different row and column spacings and a sagittal
// orientation to check that PixelSpacing[0] (between rows) goes along j. The normal,
// row cosine × column cosine, points right, so the slice with the largest x is first.
func TestReadDirPixelSpacingOrder(t *testing.T) {
	specs := stack(0, 1, 2)
	for n := range specs {
		specs[n].orientation = [6]float64{0, 1, 0, 0, 0, -1} // Sagittal: rows go P, columns go I.
		specs[n].positionLPS = [3]float64{float64(n) * 1.5, 0, 0}
		specs[n].pixelSpacing = [2]float64{2, 0.5}
	}
	v, _, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	if v.SpacingMM != (volume.Vec3{0.5, 2, 1.5}) {
		t.Errorf("spacing = %v, want (0.5, 2, 1.5): PixelSpacing[1] along i, PixelSpacing[0] along j", v.SpacingMM)
	}
	wantAxes := [3]volume.Vec3{{0, 1, 0}, {0, 0, -1}, {-1, 0, 0}}
	if v.AxesLPS != wantAxes {
		t.Errorf("axes = %v, want %v", v.AxesLPS, wantAxes)
	}
	if v.OriginLPS != (volume.Vec3{3, 0, 0}) {
		t.Errorf("origin = %v, want the position of the slice at x = 3", v.OriginLPS)
	}
	p := v.IndexToLPS(volume.Vec3{3, 2, 2})
	if want := (volume.Vec3{0, 1.5, -4}); p != want {
		t.Errorf("voxel (3, 2, 2) is at %v, want %v", p, want)
	}
}

func TestReadDirRejects(t *testing.T) {
	modify := func(heights []float64, edit func(specs []sliceSpec)) []sliceSpec {
		specs := stack(heights...)
		edit(specs)
		return specs
	}
	cases := []struct {
		name    string
		specs   []sliceSpec
		kind    error
		message string
	}{
		{"mixed orientations", modify([]float64{0, 1, 2, 3}, func(s []sliceSpec) {
			s[0].orientation = [6]float64{0, 1, 0, 1, 0, 0}
			s[1].orientation = [6]float64{0, 1, 0, 1, 0, 0}
		}), ErrUnsupported, "the folder contains 2 image stacks (series, or orientations within a series): 2.25.1234 (2 images), 2.25.1234#2 (2 images)"},
		{"differing rows", modify([]float64{0, 1, 2, 3}, func(s []sliceSpec) {
			for n := 0; n < 2; n++ {
				s[n].rows, s[n].stored = 2, s[n].stored[:8]
			}
		}),
			ErrUnsupported, "the folder contains 2 image stacks"},
		{"two series", modify([]float64{0, 1, 2, 3, 4}, func(s []sliceSpec) { s[0].seriesUID, s[1].seriesUID = "2.25.999", "2.25.999" }),
			ErrUnsupported, "the folder contains 2 image stacks (series, or orientations within a series): 2.25.1234 (3 images), 2.25.999 (2 images)"},
		{"MPEG-2 transfer syntax", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].transferSyntax = "1.2.840.10008.1.2.4.100" }),
			ErrUnsupported, "TransferSyntaxUID (0002,0010) is 1.2.840.10008.1.2.4.100 (MPEG2 Main Profile / Main Level), which this reader does not decode"},
		{"JPEG 2000 syntax, native pixel data", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].transferSyntax = "1.2.840.10008.1.2.4.90" }),
			ErrMalformed, "IM0002.dcm: PixelData (7fe0,0010) is native, but transfer syntax 1.2.840.10008.1.2.4.90 (JPEG 2000 Image Compression (Lossless Only)) needs encapsulated"},
		{"unknown transfer syntax", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].transferSyntax = "1.2.3" }),
			ErrUnsupported, "TransferSyntaxUID (0002,0010) is 1.2.3, which is not a DICOM transfer syntax"},
		{"missing position", modify([]float64{0, 1}, func(s []sliceSpec) { s[1].omit = []tag.Tag{tag.ImagePositionPatient} }),
			ErrMalformed, "IM0001.dcm: ImagePositionPatient (0020,0032) is missing"},
		{"missing CT intercept", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].omit = []tag.Tag{tag.RescaleIntercept} }),
			ErrMalformed, "IM0002.dcm: RescaleIntercept (0028,1052) is missing"},
		{"overflowing rescale slope", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].slope = 1e300 }),
			ErrMalformed, "RescaleSlope (0028,1053) is 1e+300 and RescaleIntercept (0028,1052) is -1024, so rescaled values overflow 32-bit floats"},
		{"missing pixel data", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].omit = []tag.Tag{tag.PixelData} }),
			ErrMalformed, "PixelData (7fe0,0010) is missing"},
		{"short pixel data", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].stored = s[0].stored[:8] }),
			ErrMalformed, "PixelData (7fe0,0010) is 16 bytes, but 3 rows × 4 columns × 16 bits need 24"},
		{"two position values", modify([]float64{0, 1}, func(s []sliceSpec) {
			s[0].replace = []rawElement{textElement(tag.ImagePositionPatient, "DS", `1\2`)}
		}), ErrMalformed, "ImagePositionPatient (0020,0032) has 2 values [1 2], want 3"},
		{"position not a number", modify([]float64{0, 1}, func(s []sliceSpec) {
			s[0].replace = []rawElement{textElement(tag.ImagePositionPatient, "DS", `1\x\3`)}
		}), ErrMalformed, `ImagePositionPatient (0020,0032) value "1\\x\\3" is not a number`},
		{"zero pixel spacing", modify([]float64{0, 1}, func(s []sliceSpec) { s[0].pixelSpacing = [2]float64{0, 1} }),
			ErrMalformed, "PixelSpacing (0028,0030) is [0 1], want two finite values > 0"},
		{"multi-frame", modify([]float64{0, 1}, func(s []sliceSpec) {
			s[0].replace = []rawElement{textElement(tag.NumberOfFrames, "IS", "2")}
		}), ErrUnsupported, "NumberOfFrames (0028,0008) is 2 and there is no PerFrameFunctionalGroupsSequence (5200,9230)"},
		{"duplicate position", stack(0, 2.5, 2.5, 5),
			ErrMalformed, "have the same slice position (ImagePositionPatient (0020,0032) [-100 50 2.5] and [-100 50 2.5])"},
		{"in-plane drift", modify([]float64{0, 2, 4, 6}, func(s []sliceSpec) { s[1].positionLPS[0] += 0.3 }),
			ErrUnsupported, "IM0003.dcm: ImagePositionPatient (0020,0032) [-99.7 50 2] lies 0.3 mm off the line"},
		{"one slice without spacing", stack(0),
			ErrMalformed, "the series has one image and neither SpacingBetweenSlices (0018,0088) nor SliceThickness (0018,0050)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadDir(writeSeries(t, tc.specs))
			if err == nil {
				t.Fatalf("read succeeded, want error containing %q", tc.message)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q does not wrap %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q,\nwant it to contain %q", err, tc.message)
			}
		})
	}
}

func TestReadDirWarnings(t *testing.T) {
	specs := stack(0, 1)
	for n := range specs {
		specs[n].modality = "MR"
		specs[n].omit = []tag.Tag{tag.RescaleSlope, tag.RescaleIntercept}
	}
	specs[1].contrastAgent = "IODINE"
	dir := writeSeries(t, specs)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not DICOM"), 0o644); err != nil {
		t.Fatal(err)
	}

	v, info, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{`Modality is "MR", not CT`, "RescaleSlope and RescaleIntercept are absent", `ContrastBolusAgent is "IODINE"`, "1 files in the folder were skipped because they are not DICOM"}
	if len(info.Warnings) != len(wants) {
		t.Errorf("warnings = %q, want %d", info.Warnings, len(wants))
	}
	for n, want := range wants {
		if n < len(info.Warnings) && !strings.Contains(info.Warnings[n], want) {
			t.Errorf("warning %d = %q, want it to contain %q", n, info.Warnings[n], want)
		}
	}
	if got, want := v.At(1, 0, 0), float32(newSliceSpec(0).stored[1]); got != want {
		t.Errorf("voxel (1, 0, 0) = %v, want the stored value %v because there is no rescale", got, want)
	}
}

func TestReadDirNoDICOM(t *testing.T) {
	empty := t.TempDir()
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, "readme.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{empty: "0 files checked, 0 of them not DICOM", junk: "1 files checked, 1 of them not DICOM"}
	for dir, message := range cases {
		_, _, err := ReadDir(dir)
		if err == nil || !strings.Contains(err.Error(), "no DICOM images found: "+message) {
			t.Errorf("error %v, want one containing %q", err, message)
		}
	}
	_, _, err := ReadDir(filepath.Join(empty, "absent"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v for a missing folder, want one that wraps os.ErrNotExist", err)
	}
}

// TestDecodeSignedSamples checks sign extension from BitsStored and masking of the
// bits above it, with known answers.
func TestDecodeSignedSamples(t *testing.T) {
	cases := []struct {
		name                string
		bitsAllocated       int
		bitsStored          int
		pixelRepresentation int
		raw                 []byte // little endian
		want                []float32
	}{
		{"16 of 16 signed", 16, 16, 1, []byte{0xff, 0xff, 0x00, 0x80, 0xff, 0x7f}, []float32{-1, -32768, 32767}},
		{"16 of 16 unsigned", 16, 16, 0, []byte{0xff, 0xff, 0x00, 0x80}, []float32{65535, 32768}},
		{"12 of 16 signed", 16, 12, 1, []byte{0x00, 0x08, 0xff, 0x07, 0xff, 0x0f, 0x00, 0xf8}, []float32{-2048, 2047, -1, -2048}},
		{"12 of 16 signed, high bits set", 16, 12, 1, []byte{0x05, 0xf0}, []float32{5}},
		{"12 of 16 unsigned, high bits set", 16, 12, 0, []byte{0xff, 0xff}, []float32{4095}},
		{"8 of 8 signed", 8, 8, 1, []byte{0x80, 0x7f, 0xff}, []float32{-128, 127, -1}},
		{"32 of 32 signed", 32, 32, 1, []byte{0xfe, 0xff, 0xff, 0xff}, []float32{-2}},
		{"32 of 32 unsigned", 32, 32, 0, []byte{0x00, 0x00, 0x00, 0x80}, []float32{2147483648}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &slice{
				bitsAllocated: tc.bitsAllocated, bitsStored: tc.bitsStored, pixelRepresentation: tc.pixelRepresentation,
				rescaleSlope: 1, byteOrder: nativeTransferSyntaxes["1.2.840.10008.1.2.1"], pixelData: tc.raw,
			}
			got := make([]float32, len(tc.want))
			s.decodeInto(got)
			for n := range tc.want {
				if got[n] != tc.want[n] {
					t.Errorf("sample %d = %v, want %v", n, got[n], tc.want[n])
				}
			}
		})
	}
}

func TestDecodeRescale(t *testing.T) {
	s := &slice{bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 1, rescaleSlope: 0.25, rescaleIntercept: -1024.5,
		byteOrder: nativeTransferSyntaxes["1.2.840.10008.1.2.2"], pixelData: []byte{0x0f, 0xff, 0x00, 0x10}}
	got := make([]float32, 2)
	s.decodeInto(got)
	want := []float32{-1*0.25 - 1024.5, 16*0.25 - 1024.5}
	for n := range want {
		if got[n] != want[n] {
			t.Errorf("big-endian sample %d = %v, want %v", n, got[n], want[n])
		}
	}
}

// TestReadDirPydicomFixtures reads files written by pydicom in three transfer
// syntaxes and compares the values with what pydicom computed.
func TestReadDirPydicomFixtures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string][]float64
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	for name, want := range expected {
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
				t.Fatal(err)
			}
			v, info, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			wantGrid := volume.Grid{
				Size:      [3]int{4, 3, 1},
				SpacingMM: volume.Vec3{0.6, 0.8, 2.5},
				OriginLPS: volume.Vec3{-10.5, 20.25, 300},
				AxesLPS:   volume.IdentityAxesLPS,
			}
			if v.Grid != wantGrid {
				t.Errorf("grid = %+v, want %+v (slice spacing from SliceThickness)", v.Grid, wantGrid)
			}
			if info.NumSlices != 1 {
				t.Errorf("NumSlices = %d, want 1", info.NumSlices)
			}
			for n := range want {
				if v.Voxels[n] != float32(want[n]) {
					t.Errorf("voxel %d = %v, pydicom reads %v", n, v.Voxels[n], want[n])
				}
			}
		})
	}
}

func TestReadDirTruncatedFile(t *testing.T) {
	dir := writeSeries(t, stack(0, 1, 2))
	path := filepath.Join(dir, "IM0002.dcm")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(content) - 7, len(content) / 2, 140} {
		if err := os.WriteFile(path, content[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadDir(dir)
		if err == nil {
			t.Fatalf("file cut to %d bytes: read succeeded, want an error", cut)
		}
		if !strings.Contains(err.Error(), "IM0002.dcm") || !errors.Is(err, ErrMalformed) {
			t.Errorf("file cut to %d bytes: error %q, want a malformed-file error naming IM0002.dcm", cut, err)
		}
	}
}

func TestElementValueMissingVsEmpty(t *testing.T) {
	// An empty SeriesInstanceUID counts as missing, so the image forms a stack of
	// its own under the placeholder key.
	specs := stack(0, 1, 2, 3)
	for n := 0; n < 2; n++ {
		specs[n].replace = []rawElement{textElement(tag.SeriesInstanceUID, "UI", "")}
	}
	_, _, err := ReadDir(writeSeries(t, specs))
	if err == nil || !strings.Contains(err.Error(), "2.25.1234 (2 images), no-series-uid (2 images)") {
		t.Errorf("error %v, want one listing the stack without SeriesInstanceUID", err)
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		values []float64
		want   float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range cases {
		if got := median(tc.values); got != tc.want {
			t.Errorf("median(%v) = %g, want %g", tc.values, got, tc.want)
		}
	}
	if values := []float64{3, 1, 2}; median(values) != 2 || values[0] != 3 {
		t.Errorf("median reordered its input to %v", values)
	}
}

func TestReadDirLargeStep(t *testing.T) {
	// Steps of 5 mm with one at 5.04 mm put every slice within 1% of the spacing of a
	// uniform grid, so no slice is interpolated, and the spacing is the mean step.
	v, info, err := ReadDir(writeSeries(t, stack(0, 5, 10.04, 15.04)))
	if err != nil {
		t.Fatal(err)
	}
	if want := 15.04 / 3; math.Abs(v.SpacingMM[2]-want) > 1e-9 {
		t.Errorf("slice spacing = %g, want the mean step %g", v.SpacingMM[2], want)
	}
	if len(info.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", info.Warnings)
	}
	if got, want := v.At(0, 0, 2), float32(newSliceSpec(10.04).stored[0])-1024; got != want {
		t.Errorf("voxel (0, 0, 2) = %v, want %v from the slice at z = 10.04 unchanged", got, want)
	}
}
