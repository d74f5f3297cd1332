package dicomseries

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/nifti"
)

// sharedData is the shared data folder seen from this package's folder: the
// repository root is two levels up and the shared data sits beside it.
var sharedData = filepath.Join("..", "..", "..", "shared", "data")

var (
	realSeriesDir = filepath.Join(sharedData, "dicom", "real_ncct_series")
	realNIfTIPath = filepath.Join(sharedData, "real_ncct", "torso_ncct_3mm.nii.gz")
	j2kSeriesDir  = filepath.Join(sharedData, "dicom", "real_ct_j2k_series")
	edgeDir       = filepath.Join(sharedData, "dicom", "edge")
)

func requirePath(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: shared test data %s is absent (%v); it exists only in the development checkout", path, err)
	}
}

// comparison summarises a voxel-by-voxel comparison in patient space.
type comparison struct {
	voxels            int
	maxIndexDeviation float64
	maxDifference     float64
}

// compareInPatientSpace maps every voxel centre of a to b's continuous index, which
// must be an integer index inside b within 1e-3, and compares the values there.
func compareInPatientSpace(t *testing.T, a, b *volume.Volume) comparison {
	t.Helper()
	var c comparison
	for k := 0; k < a.Size[2]; k++ {
		for j := 0; j < a.Size[1]; j++ {
			for i := 0; i < a.Size[0]; i++ {
				index := b.LPSToIndex(a.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)}))
				var at [3]int
				for axis := 0; axis < 3; axis++ {
					rounded := math.Round(index[axis])
					c.maxIndexDeviation = math.Max(c.maxIndexDeviation, math.Abs(index[axis]-rounded))
					at[axis] = int(rounded)
				}
				if c.maxIndexDeviation > 1e-3 {
					t.Fatalf("voxel (%d, %d, %d) maps to index %v of the other volume, which is not an integer within 1e-3", i, j, k, index)
				}
				if !b.Contains(at[0], at[1], at[2]) {
					t.Fatalf("voxel (%d, %d, %d) maps to index %v, outside the other volume of size %v", i, j, k, at, b.Size)
				}
				d := math.Abs(float64(a.At(i, j, k)) - float64(b.At(at[0], at[1], at[2])))
				c.maxDifference = math.Max(c.maxDifference, d)
				c.voxels++
			}
		}
	}
	return c
}

func TestRealSeriesMatchesNIfTI(t *testing.T) {
	requirePath(t, realSeriesDir)
	requirePath(t, realNIfTIPath)

	dcm, info, err := ReadDir(realSeriesDir)
	if err != nil {
		t.Fatal(err)
	}
	nii, _, err := nifti.Read(realNIfTIPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumSlices != 112 || info.Modality != "CT" || len(info.Warnings) != 0 {
		t.Errorf("info = %+v, want 112 CT slices and no warnings", info)
	}
	if dcm.NumVoxels() != nii.NumVoxels() {
		t.Fatalf("DICOM has %d voxels (%v), NIfTI %d (%v)", dcm.NumVoxels(), dcm.Size, nii.NumVoxels(), nii.Size)
	}

	c := compareInPatientSpace(t, dcm, nii)
	t.Logf("DICOM vs NIfTI: %d voxels, max index deviation %.3g, max HU difference %g", c.voxels, c.maxIndexDeviation, c.maxDifference)
	if c.maxDifference != 0 {
		t.Errorf("max HU difference = %g, want 0", c.maxDifference)
	}
	requireSameInferenceGrid(t, dcm.Grid, nii.Grid)
}

// requireSameInferenceGrid checks that two readings of one scan give the same
// canonical inference grid despite float jitter and different axis orders.
func requireSameInferenceGrid(t *testing.T, a, b volume.Grid) {
	t.Helper()
	for _, spacing := range []float64{1, 1.5, 3} {
		ga, gb := volume.IsotropicGridLPS(a, spacing), volume.IsotropicGridLPS(b, spacing)
		if ga.Size != gb.Size || ga.SpacingMM != gb.SpacingMM || ga.AxesLPS != gb.AxesLPS {
			t.Errorf("spacing %g: inference grids differ:\n%+v\n%+v", spacing, ga, gb)
		}
		for c := 0; c < 3; c++ {
			if math.Abs(ga.OriginLPS[c]-gb.OriginLPS[c]) > 1e-4 {
				t.Errorf("spacing %g: inference grid origins %v and %v differ", spacing, ga.OriginLPS, gb.OriginLPS)
				break
			}
		}
	}
}

// TestRealSeriesMatchesDcm2niix converts the series with dcm2niix, reads its NIfTI
// with package nifti, and compares geometry and values in patient space. dcm2niix
// stores rows in the opposite order, so the affines differ as matrices but must put
// every voxel at the same patient position.
func TestRealSeriesMatchesDcm2niix(t *testing.T) {
	requirePath(t, realSeriesDir)
	dcm2niix, err := exec.LookPath("dcm2niix")
	if err != nil {
		t.Skip("skipping: dcm2niix is not installed; it is the referee for this test")
	}

	out := t.TempDir()
	cmd := exec.Command(dcm2niix, "-z", "n", "-f", "series", "-o", out, realSeriesDir)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dcm2niix failed: %v\n%s", err, output)
	}
	referee, _, err := nifti.Read(filepath.Join(out, "series.nii"))
	if err != nil {
		t.Fatal(err)
	}
	dcm, _, err := ReadDir(realSeriesDir)
	if err != nil {
		t.Fatal(err)
	}
	if dcm.NumVoxels() != referee.NumVoxels() {
		t.Fatalf("this reader gives %d voxels (%v), dcm2niix %d (%v)", dcm.NumVoxels(), dcm.Size, referee.NumVoxels(), referee.Size)
	}

	// The voxel centres of both grids must be the same set of patient positions.
	c := compareInPatientSpace(t, referee, dcm)
	t.Logf("dcm2niix vs this reader: %d voxels, max index deviation %.3g, max HU difference %g", c.voxels, c.maxIndexDeviation, c.maxDifference)
	t.Logf("dcm2niix grid %+v; this reader %+v", referee.Grid, dcm.Grid)
	if c.maxDifference != 0 {
		t.Errorf("max HU difference = %g, want 0", c.maxDifference)
	}
	for a := 0; a < 3; a++ {
		if math.Abs(referee.SpacingMM[a]-dcm.SpacingMM[a]) > 1e-4 {
			t.Errorf("spacing = %v, dcm2niix %v", dcm.SpacingMM, referee.SpacingMM)
			break
		}
	}
	requireSameInferenceGrid(t, dcm.Grid, referee.Grid)
}

func TestRealSeriesTruncatedFile(t *testing.T) {
	requirePath(t, realSeriesDir)
	dir := t.TempDir()
	names := []string{"IM0000.dcm", "IM0001.dcm", "IM0002.dcm"}
	for _, name := range names {
		content, err := os.ReadFile(filepath.Join(realSeriesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "IM0001.dcm" {
			content = content[:len(content)-1000]
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := ReadDir(dir)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "IM0001.dcm") {
		t.Errorf("error %v, want a malformed-file error naming IM0001.dcm", err)
	}
}

// TestEdgeFiles parses the shared reader test files one by one: each must give the
// listed outcome, and none may panic.
func TestEdgeFiles(t *testing.T) {
	requirePath(t, edgeDir)
	cases := []struct {
		file    string
		kind    error // nil: reads without error.
		message string
	}{
		{"CT_small.dcm", nil, ""},
		{"MR_small.dcm", nil, ""},
		{"MR_small_bigendian.dcm", nil, ""},
		{"MR_small_implicit.dcm", nil, ""},
		{"MR_truncated.dcm", ErrMalformed, "PixelData (7fe0,0010) at byte 1488 has value length 8192, but only 8130 bytes follow"},
		{"no_meta.dcm", ErrMalformed, `no "DICM" marker at byte 128 and no DICOM element header at byte 0 (the first bytes are 20 08 00 05 00 43 53 0a)`},
		{"meta_missing_tsyntax.dcm", ErrMalformed, "Rows (0028,0010) is missing"},
		{"image_dfl.dcm", ErrMalformed, "ImagePositionPatient (0020,0032) is missing"},
		{"liver.dcm", ErrUnsupported, "SOPClassUID (0008,0016) is 1.2.840.10008.5.1.4.1.1.66.4 (Segmentation Storage), a segmentation"},
		{"MR_small_RLE.dcm", nil, ""},
		{"MR_small_jp2klossless.dcm", nil, ""},
		{"MR_small_jpeg_ls_lossless.dcm", nil, ""},
		{"CT1_JLSN.dcm", nil, ""},
		{"693_J2KR.dcm", nil, ""},
		{"JPEG-LL.dcm", ErrMalformed, "ImagePositionPatient (0020,0032) is missing"},
		{"JPEG2000.dcm", ErrMalformed, "ImagePositionPatient (0020,0032) is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(edgeDir, tc.file))
			if err != nil {
				t.Skipf("skipping: %v", err)
			}
			_, err = parseSlice(tc.file, content)
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("parse failed: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.message) || !strings.HasPrefix(err.Error(), tc.file+": ") {
				t.Errorf("error %v, want one starting with %q, wrapping %v and containing %q", err, tc.file+": ", tc.kind, tc.message)
			}
		})
	}
}

// TestEdgeMRSyntaxesAgree reads one MR image stored in three native and three
// lossless compressed transfer syntaxes, and requires the same values from each.
func TestEdgeMRSyntaxesAgree(t *testing.T) {
	requirePath(t, edgeDir)
	var reference *volume.Volume
	names := []string{"MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
		"MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"}
	for _, name := range names {
		dir := t.TempDir()
		content, err := os.ReadFile(filepath.Join(edgeDir, name))
		if err != nil {
			t.Skipf("skipping: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		v, info, err := ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(info.Warnings) == 0 || !strings.Contains(info.Warnings[0], `Modality is "MR"`) {
			t.Errorf("%s: warnings %q, want a non-CT warning first", name, info.Warnings)
		}
		if reference == nil {
			reference = v
			continue
		}
		if v.Grid != reference.Grid {
			t.Errorf("%s: grid %+v, MR_small.dcm has %+v", name, v.Grid, reference.Grid)
		}
		for n := range v.Voxels {
			if v.Voxels[n] != reference.Voxels[n] {
				t.Fatalf("%s: voxel %d = %v, MR_small.dcm has %v", name, n, v.Voxels[n], reference.Voxels[n])
			}
		}
	}
}

// TestEdgeMatchesDcm2niix reads each native edge image alone and compares it with
// dcm2niix's conversion in patient space.
func TestEdgeMatchesDcm2niix(t *testing.T) {
	requirePath(t, edgeDir)
	dcm2niix, err := exec.LookPath("dcm2niix")
	if err != nil {
		t.Skip("skipping: dcm2niix is not installed; it is the referee for this test")
	}
	for _, name := range []string{"CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm"} {
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(edgeDir, name))
			if err != nil {
				t.Skipf("skipping: %v", err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			cmd := exec.Command(dcm2niix, "-z", "n", "-f", "image", "-o", out, dir)
			if output, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dcm2niix failed: %v\n%s", err, output)
			}
			referee, _, err := nifti.Read(filepath.Join(out, "image.nii"))
			if err != nil {
				t.Fatal(err)
			}
			v, _, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if v.NumVoxels() != referee.NumVoxels() {
				t.Fatalf("this reader gives %v voxels, dcm2niix %v", v.Size, referee.Size)
			}
			c := compareInPatientSpace(t, referee, v)
			t.Logf("dcm2niix vs this reader: %d voxels, max index deviation %.3g, max difference %g", c.voxels, c.maxIndexDeviation, c.maxDifference)
			if c.maxDifference != 0 {
				t.Errorf("max difference = %g, want 0", c.maxDifference)
			}
		})
	}
}

// TestEdgeFolderScan scans the whole edge folder: every file is listed as a stack,
// a segmentation, a skipped file or a failure. Compressed files are listed as
// loadable stacks, or fail for their own defects, such as a missing position.
func TestEdgeFolderScan(t *testing.T) {
	requirePath(t, edgeDir)
	c, err := Scan(edgeDir)
	if err != nil {
		t.Fatal(err)
	}
	var listing []string
	for _, st := range c.Stacks {
		listing = append(listing, fmt.Sprintf("stack %s: %d images, first %s, error: %v", st.Key, st.NumImages, filepath.Base(st.frames[0].path), st.Err))
	}
	for _, s := range c.Segmentations {
		listing = append(listing, "segmentation "+filepath.Base(s.Path))
	}
	listing = append(listing, c.Skipped...)
	for _, err := range c.Failed {
		listing = append(listing, "failed: "+err.Error())
	}
	all := strings.Join(listing, "\n")
	t.Logf("scan of %s:\n%s", edgeDir, all)

	wants := []string{
		"failed: MR_truncated.dcm: element PixelData (7fe0,0010) at byte 1488 has value length 8192, but only 8130 bytes follow",
		"no_meta.dcm: not DICOM",
		"segmentation liver.dcm",
		"segmentation liver_1frame.dcm",
		"1 images, first 693_J2KR.dcm, error: <nil>",
		"1 images, first CT1_JLSN.dcm, error: <nil>",
		"failed: JPEG-LL.dcm: ImagePositionPatient (0020,0032) is missing",
		"failed: JPEG2000.dcm: ImagePositionPatient (0020,0032) is missing",
		"failed: JPEGLosslessP14SV1_1s_1f_u_16_16.dcm: ImagePositionPatient (0020,0032) is missing",
		"MR_small_RLE.dcm: same SOPInstanceUID (0008,0018) as MR_small.dcm, so it is a second copy of that instance (this copy has TransferSyntaxUID (0002,0010) 1.2.840.10008.1.2.5",
		"MR_small_jp2klossless.dcm: same SOPInstanceUID (0008,0018) as MR_small.dcm",
		"meta_missing_tsyntax.dcm: Rows (0028,0010) is missing",
	}
	for _, want := range wants {
		if !strings.Contains(all, want) {
			t.Errorf("the scan listing does not contain %q", want)
		}
	}

	// CT_small is listed and could load, but MR_truncated.dcm beside it may be a
	// missing slice, so loading fails and names that file.
	st, err := c.Find("1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(st); err == nil || !strings.Contains(err.Error(), "MR_truncated.dcm") {
		t.Errorf("loading CT_small: error %v, want one naming MR_truncated.dcm", err)
	}
}

// TestRealCompressedSeriesListed checks that Scan lists the JPEG 2000 series as
// one loadable stack, under the key for images without a SeriesInstanceUID.
func TestRealCompressedSeriesListed(t *testing.T) {
	requirePath(t, j2kSeriesDir)
	c, err := Scan(j2kSeriesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stacks) != 1 || c.Stacks[0].NumImages != 20 {
		t.Fatalf("stacks %+v, want one of 20 images", c.Stacks)
	}
	st := c.Stacks[0]
	if st.Err != nil {
		t.Errorf("stack error %v, want none", st.Err)
	}
	if st.Key != missingSeriesKey {
		t.Errorf("stack key %q, want %q", st.Key, missingSeriesKey)
	}
	if st.TransferSyntaxUID != "1.2.840.10008.1.2.4.90" {
		t.Errorf("stack transfer syntax %s, want 1.2.840.10008.1.2.4.90 (JPEG 2000 lossless)", st.TransferSyntaxUID)
	}
}

// TestScanKeepsNativeCopy scans a compressed and a native copy of one instance,
// with the compressed copy first in file order. The native copy must be kept,
// because a compressed copy may be lossy.
func TestScanKeepsNativeCopy(t *testing.T) {
	requirePath(t, edgeDir)
	dir := t.TempDir()
	for source, copyName := range map[string]string{"MR_small_RLE.dcm": "a_rle.dcm", "MR_small.dcm": "b_native.dcm"} {
		content, err := os.ReadFile(filepath.Join(edgeDir, source))
		if err != nil {
			t.Skipf("skipping: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, copyName), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stacks) != 1 || c.Stacks[0].NumImages != 1 {
		t.Fatalf("stacks %+v, want one of 1 image", c.Stacks)
	}
	if got := filepath.Base(c.Stacks[0].frames[0].path); got != "b_native.dcm" {
		t.Errorf("stack image is %s, want the native copy b_native.dcm", got)
	}
	if len(c.Skipped) != 1 || !strings.HasPrefix(c.Skipped[0], "a_rle.dcm: same SOPInstanceUID") {
		t.Errorf("skipped %q, want a_rle.dcm as the second copy", c.Skipped)
	}
}
