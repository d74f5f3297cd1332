package dicomseries

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
	"protrude/volume/nifti"
)

// requireCommand returns the path of an installed command or skips the test.
func requireCommand(t *testing.T, name, aptPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("skipping: %s is not installed (apt package %s)", name, aptPackage)
	}
	return path
}

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, command string, args ...string) {
	t.Helper()
	if output, err := exec.Command(command, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v failed: %v\n%s", filepath.Base(command), args, err, output)
	}
}

// TestRealJ2KSeriesMatchesDcm2niix reads the 20-slice JPEG 2000 lossless CT series
// and compares it in patient space with dcm2niix's conversion of the same files.
// The files have an empty SeriesInstanceUID, so they are read as one stack
// without one, with a warning.
func TestRealJ2KSeriesMatchesDcm2niix(t *testing.T) {
	requirePath(t, j2kSeriesDir)
	dcm2niix := requireCommand(t, "dcm2niix", "dcm2niix")

	dcm, info, err := ReadDir(j2kSeriesDir)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumSlices != 20 || dcm.Size != [3]int{512, 512, 20} {
		t.Fatalf("read %d slices of size %v, want 20 slices of 512 × 512", info.NumSlices, dcm.Size)
	}
	if !slices.ContainsFunc(info.Warnings, func(w string) bool { return strings.Contains(w, "SeriesInstanceUID (0020,000e) is missing") }) {
		t.Errorf("warnings %q, want one saying that SeriesInstanceUID is missing", info.Warnings)
	}

	out := t.TempDir()
	run(t, dcm2niix, "-z", "n", "-f", "series", "-o", out, j2kSeriesDir)
	referee, _, err := nifti.Read(filepath.Join(out, "series.nii"))
	if err != nil {
		t.Fatal(err)
	}

	c := compareInPatientSpace(t, referee, dcm)
	t.Logf("dcm2niix vs this reader: %d voxels, max index deviation %.3g, max HU difference %g", c.voxels, c.maxIndexDeviation, c.maxDifference)
	if c.voxels != dcm.NumVoxels() {
		t.Errorf("compared %d voxels, want %d", c.voxels, dcm.NumVoxels())
	}
	if c.maxDifference != 0 {
		t.Errorf("max HU difference = %g, want 0", c.maxDifference)
	}
	lowest, highest := volumeRange(dcm)
	if lowest > -1000 || highest < 1000 {
		t.Errorf("HU range %g to %g, want a CT range that reaches below -1000 and above 1000", lowest, highest)
	}
}

// writeUnsignedCopies writes the named slices of dir as unsigned samples, 1024
// above the original signed ones, with RescaleIntercept 1024 lower, so that every
// voxel keeps its HU. It returns the new folder.
func writeUnsignedCopies(t *testing.T, dir string, names []string) string {
	t.Helper()
	const shift = 1024
	out := t.TempDir()
	for _, name := range names {
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseSlice(name, content)
		if err != nil {
			t.Fatal(err)
		}
		if s.bitsAllocated != 16 || s.pixelRepresentation != 1 {
			t.Fatalf("%s: BitsAllocated %d, PixelRepresentation %d, want signed 16-bit samples", name, s.bitsAllocated, s.pixelRepresentation)
		}

		spec := newSliceSpec(0)
		spec.positionLPS, spec.orientation, spec.pixelSpacing = s.positionLPS, s.orientation, s.pixelSpacing
		spec.rows, spec.columns = s.rows, s.columns
		spec.slope, spec.intercept = s.rescaleSlope, s.rescaleIntercept-shift
		spec.stored = make([]int16, s.rows*s.columns)
		for n := range spec.stored {
			v := int(int16(s.byteOrder.Uint16(s.pixelData[2*n:]))) + shift
			if v < 0 || v > math.MaxInt16 {
				t.Fatalf("%s: sample %d is %d after the shift, outside 0 to %d", name, n, v, math.MaxInt16)
			}
			spec.stored[n] = int16(v)
		}
		spec.replace = []rawElement{usElement(tag.PixelRepresentation, 0)}
		if err := os.WriteFile(filepath.Join(out, name), spec.encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func volumeRange(v *volume.Volume) (lowest, highest float32) {
	lowest, highest = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range v.Voxels {
		lowest, highest = min(lowest, x), max(highest, x)
	}
	return lowest, highest
}

// TestRealSlicesRecompressed compresses three slices of the uncompressed real CT
// series with DCMTK's and GDCM's encoders, reads each result, and compares it with
// the uncompressed slices. Lossless syntaxes must give the same HU. Lossy ones must
// stay within a tolerance: JPEG-LS near-lossless within its NEAR parameter, and
// lossy JPEG within a bound measured on this data (see each case).
func TestRealSlicesRecompressed(t *testing.T) {
	requirePath(t, realSeriesDir)
	// These slices have a few negative stored values (HU below -1024), which
	// check that signed samples survive each encoding.
	names := []string{"IM0086.dcm", "IM0087.dcm", "IM0088.dcm"}
	original := t.TempDir()
	for _, name := range names {
		content, err := os.ReadFile(filepath.Join(realSeriesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(original, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unsigned := writeUnsignedCopies(t, original, names)
	sources := map[string]*volume.Volume{}
	for _, dir := range []string{original, unsigned} {
		v, _, err := ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		sources[dir] = v
	}
	if !slices.Equal(sources[original].Voxels, sources[unsigned].Voxels) {
		t.Fatal("the unsigned copies have other HU than the original slices")
	}
	if lowest, _ := volumeRange(sources[original]); lowest >= -1024 {
		t.Fatalf("the lowest HU is %g, want a negative stored value (HU below -1024)", lowest)
	}

	cases := []struct {
		name string
		// unsigned selects the unsigned copies as input.
		unsigned   bool
		command    string
		aptPackage string
		args       []string
		syntax     string
		// maxErrorHU bounds the absolute HU difference of every voxel, and
		// meanErrorHU the mean absolute difference.
		maxErrorHU, meanErrorHU float64
	}{
		{"explicit VR big endian", false, "dcmconv", "dcmtk", []string{"+tb"}, "1.2.840.10008.1.2.2", 0, 0},
		{"implicit VR little endian", false, "dcmconv", "dcmtk", []string{"+ti"}, "1.2.840.10008.1.2", 0, 0},
		{"deflated explicit VR little endian", false, "dcmconv", "dcmtk", []string{"+td"}, "1.2.840.10008.1.2.1.99", 0, 0},
		{"RLE", false, "dcmcrle", "dcmtk", nil, "1.2.840.10008.1.2.5", 0, 0},
		{"RLE unsigned", true, "dcmcrle", "dcmtk", nil, "1.2.840.10008.1.2.5", 0, 0},
		{"JPEG lossless SV1", false, "dcmcjpeg", "dcmtk", []string{"+e1"}, "1.2.840.10008.1.2.4.70", 0, 0},
		{"JPEG lossless predictor 7", false, "dcmcjpeg", "dcmtk", []string{"+el", "+sv", "7"}, "1.2.840.10008.1.2.4.57", 0, 0},
		{"JPEG-LS lossless", false, "dcmcjpls", "dcmtk", []string{"+el"}, "1.2.840.10008.1.2.4.80", 0, 0},
		// Near-lossless JPEG-LS bounds each stored value's error by NEAR, and the
		// slope is 1. DCMTK 3.6.7 encodes only unsigned samples this way.
		{"JPEG-LS near-lossless NEAR 3", true, "dcmcjpls", "dcmtk", []string{"+en", "+md", "3"}, "1.2.840.10008.1.2.4.81", 3, 3},
		{"JPEG 2000 lossless", false, "gdcmconv", "libgdcm-tools", []string{"--j2k"}, "1.2.840.10008.1.2.4.90", 0, 0},
		// DCMTK maps the stored values into 12 bits (RescaleIntercept -2047) before
		// extended JPEG. The bounds are about twice the errors measured on these
		// slices: 16 HU max and 3.0 HU mean.
		{"JPEG extended 12-bit quality 90", false, "dcmcjpeg", "dcmtk", []string{"+ee", "+q", "90"}, "1.2.840.10008.1.2.4.51", 40, 6},
		// Baseline JPEG has 8 bits, so DCMTK sets RescaleSlope 16.06 HU per step. The
		// bounds are about twice the errors measured on these slices: 271 HU max, at
		// bone edges, and 19 HU mean.
		{"JPEG baseline 8-bit quality 90", false, "dcmcjpeg", "dcmtk", []string{"+eb", "+q", "90"}, "1.2.840.10008.1.2.4.50", 500, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			command := requireCommand(t, tc.command, tc.aptPackage)
			source := original
			if tc.unsigned {
				source = unsigned
			}
			want := sources[source]
			dir := t.TempDir()
			for _, name := range names {
				args := append(append([]string{}, tc.args...), filepath.Join(source, name), filepath.Join(dir, name))
				run(t, command, args...)
			}
			content, err := os.ReadFile(filepath.Join(dir, names[0]))
			if err != nil {
				t.Fatal(err)
			}
			if syntax, _ := metaTransferSyntax(content); syntax != tc.syntax {
				t.Fatalf("%s wrote transfer syntax %s, want %s", tc.command, syntax, tc.syntax)
			}

			got, _, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got.Grid != want.Grid {
				t.Fatalf("grid %+v, uncompressed %+v", got.Grid, want.Grid)
			}
			var maxError, sumError float64
			for n := range got.Voxels {
				d := math.Abs(float64(got.Voxels[n]) - float64(want.Voxels[n]))
				maxError = max(maxError, d)
				sumError += d
			}
			meanError := sumError / float64(len(got.Voxels))
			t.Logf("%d voxels: max error %.3g HU, mean error %.3g HU", len(got.Voxels), maxError, meanError)
			if maxError > tc.maxErrorHU || meanError > tc.meanErrorHU {
				t.Errorf("max error %.3g HU and mean error %.3g HU, want at most %g and %g", maxError, meanError, tc.maxErrorHU, tc.meanErrorHU)
			}
		})
	}
}

// TestEdgeCompressedTruncated cuts compressed reader test files short. Each must
// fail with a malformed-file error that names the file, and none may panic.
func TestEdgeCompressedTruncated(t *testing.T) {
	requirePath(t, edgeDir)
	files := []string{"MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "693_J2KR.dcm", "CT1_JLSN.dcm"}
	for _, name := range files {
		content, err := os.ReadFile(filepath.Join(edgeDir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, keep := range []int{len(content) * 6 / 10, len(content) - 10} {
			_, err := parseSlice(name, content[:keep])
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), name+": ") {
				t.Errorf("%s cut to %d of %d bytes: error %v, want a malformed-file error starting with %q", name, keep, len(content), err, name+": ")
			}
		}
	}
}

// TestEnhancedCTCompressed compresses a four-frame Enhanced CT file with DCMTK's
// lossless encoders, which write one fragment per frame, and requires the same
// grid and HU as the uncompressed file. Frame 2 carries its own rescale, and the
// frames are stored out of slice order.
func TestEnhancedCTCompressed(t *testing.T) {
	source := t.TempDir()
	sourcePath := filepath.Join(source, "enhanced.dcm")
	if err := os.WriteFile(sourcePath, enhancedCT([]float64{6, 0, 9, 3}, map[int]bool{2: true}), 0o644); err != nil {
		t.Fatal(err)
	}
	want, _, err := ReadDir(source)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		command string
		args    []string
		syntax  string
	}{
		{"RLE", "dcmcrle", nil, "1.2.840.10008.1.2.5"},
		{"JPEG lossless SV1", "dcmcjpeg", []string{"+e1"}, "1.2.840.10008.1.2.4.70"},
		{"JPEG-LS lossless", "dcmcjpls", []string{"+el"}, "1.2.840.10008.1.2.4.80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			command := requireCommand(t, tc.command, "dcmtk")
			dir := t.TempDir()
			path := filepath.Join(dir, "enhanced.dcm")
			run(t, command, append(append([]string{}, tc.args...), sourcePath, path)...)
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if syntax, _ := metaTransferSyntax(content); syntax != tc.syntax {
				t.Fatalf("%s wrote transfer syntax %s, want %s", tc.command, syntax, tc.syntax)
			}

			c, err := Scan(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Stacks) != 1 || c.Stacks[0].NumImages != 4 || c.Stacks[0].Err != nil {
				t.Fatalf("stacks %+v, want one loadable stack of 4 frames", c.Stacks)
			}
			got, _, err := c.Load(c.Stacks[0])
			if err != nil {
				t.Fatal(err)
			}
			if got.Grid != want.Grid {
				t.Errorf("grid %+v, uncompressed %+v", got.Grid, want.Grid)
			}
			if !slices.Equal(got.Voxels, want.Voxels) {
				t.Errorf("voxels %v, uncompressed %v", got.Voxels, want.Voxels)
			}
		})
	}
}
