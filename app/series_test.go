package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
	"protrude/volume/dicomseries"
	"protrude/volume/nifti"
)

const sharedDICOM = "../../shared/data/dicom"

func requireSharedDICOM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sharedDICOM); err != nil {
		t.Skipf("skipping: shared DICOM data %s is absent (%v); it exists only in the development checkout", sharedDICOM, err)
	}
}

// patientIdentifiers returns the non-empty PatientName, PatientID and
// PatientBirthDate values of a DICOM file.
func patientIdentifiers(t *testing.T, path string) []string {
	t.Helper()
	ds, err := dicom.ParseFile(path, nil, dicom.SkipPixelData())
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, tg := range []tag.Tag{tag.PatientName, tag.PatientID, tag.PatientBirthDate} {
		e, err := ds.FindElementByTag(tg)
		if err != nil {
			continue
		}
		if s, ok := e.Value.GetValue().([]string); ok && len(s) > 0 && strings.TrimSpace(s[0]) != "" {
			values = append(values, strings.TrimSpace(s[0]))
		}
	}
	return values
}

func TestSeriesListingWithoutPatientIdentifiers(t *testing.T) {
	requireSharedDICOM(t)
	c, err := dicomseries.Scan(sharedDICOM)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printCatalog(&out, c)
	listing := out.String()
	wants := []string{
		`"NCCT 3mm", CT, 112 images in 112 files, 122×101×112 voxels, spacing 3×3×3 mm`,
		"segmentation (DICOM SEG, not loaded)",
		"1.2.840.10008.1.2.4.90 (JPEG 2000 Image Compression (Lossless Only))",
		"edge/no_meta.dcm: not DICOM",
		`warning: Modality is "MR", not CT`,
		`warning: ContrastBolusAgent is "ISOVUE300/100"`,
	}
	for _, want := range wants {
		if !strings.Contains(listing, want) {
			t.Errorf("the listing does not contain %q:\n%s", want, listing)
		}
	}
	files := []string{filepath.Join(sharedDICOM, "real_ncct_series", "IM0000.dcm"), filepath.Join(sharedDICOM, "edge", "CT_small.dcm")}
	for _, path := range files {
		identifiers := patientIdentifiers(t, path)
		if len(identifiers) == 0 {
			t.Errorf("%s has no patient identifiers, so it cannot show that they are left out", path)
		}
		for _, value := range identifiers {
			if strings.Contains(listing, value) {
				t.Errorf("the listing contains the patient identifier %q from %s", value, path)
			}
		}
	}
}

func TestConvertRealSeriesMatchesNIfTI(t *testing.T) {
	requireSharedDICOM(t)
	reference := "../../shared/data/real_ncct/torso_ncct_3mm.nii.gz"
	want, _, err := nifti.Read(reference)
	if err != nil {
		t.Fatal(err)
	}
	// A .nii output is written slice by slice as the files are decoded, and a .nii.gz
	// output from the whole volume; --sync changes only how the file is committed.
	for _, args := range [][]string{{"converted.nii"}, {"converted.nii.gz", "--sync"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), args[0])
			if err := run(append([]string{"convert", filepath.Join(sharedDICOM, "real_ncct_series"), out}, args[1:]...)); err != nil {
				t.Fatal(err)
			}
			converted, _, err := nifti.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			requireSameHUInPatientSpace(t, converted, want)
		})
	}
}

// requireSameHUInPatientSpace fails unless every voxel centre of converted is a voxel
// centre of want with the same value.
func requireSameHUInPatientSpace(t *testing.T, converted, want *volume.Volume) {
	t.Helper()
	if converted.NumVoxels() != want.NumVoxels() {
		t.Fatalf("converted size %v, reference %v", converted.Size, want.Size)
	}
	// Compare in patient space: each converted voxel centre must be a voxel centre
	// of the reference with the same value.
	maxDifference := 0.0
	for k := 0; k < converted.Size[2]; k++ {
		for j := 0; j < converted.Size[1]; j++ {
			for i := 0; i < converted.Size[0]; i++ {
				index := want.LPSToIndex(converted.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)}))
				var at [3]int
				for a := 0; a < 3; a++ {
					at[a] = int(math.Round(index[a]))
					if math.Abs(index[a]-float64(at[a])) > 1e-3 || at[a] < 0 || at[a] >= want.Size[a] {
						t.Fatalf("voxel (%d, %d, %d) maps to index %v of the reference, not a voxel centre inside it", i, j, k, index)
					}
				}
				d := math.Abs(float64(converted.At(i, j, k) - want.At(at[0], at[1], at[2])))
				maxDifference = math.Max(maxDifference, d)
			}
		}
	}
	if maxDifference != 0 {
		t.Errorf("max HU difference from the reference NIfTI = %g, want 0", maxDifference)
	}
}

func TestConvertNeedsSeriesKeyForSeveralStacks(t *testing.T) {
	requireSharedDICOM(t)
	out := filepath.Join(t.TempDir(), "out.nii")
	err := run([]string{"convert", sharedDICOM, out})
	if !errors.Is(err, dicomseries.ErrMultipleStacks) || !strings.Contains(err.Error(), "choose one with --series KEY") {
		t.Errorf("error %v, want one asking for --series", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists after a failed conversion", out)
	}
	err = run([]string{"convert", sharedDICOM, out, "--series", "2.25.404"})
	if err == nil || !strings.Contains(err.Error(), `no image stack "2.25.404"`) {
		t.Errorf("unknown key: error %v, want one naming the key", err)
	}
}

func TestConvertRejectsBadOutputName(t *testing.T) {
	err := run([]string{"convert", "in", filepath.Join(t.TempDir(), "out.png")})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "must end in .nii or .nii.gz") {
		t.Errorf("error %v, want a usage error about the output name", err)
	}
}

func TestConvertRejectsOutputFolders(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "folder.nii")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"convert", "in", folder})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), folder+" is a folder") {
		t.Errorf("OUT a folder: error %v, want a usage error that names it", err)
	}
	missing := filepath.Join(dir, "missing", "out.nii")
	err = run([]string{"convert", "in", missing})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "the folder "+filepath.Dir(missing)+" of OUT") {
		t.Errorf("missing folder: error %v, want a usage error that names the folder", err)
	}
}

// TestConvertKeepsItsInput names the output like one of the series' own files, as
// exporters that call DICOM files .nii would, and expects a refusal that leaves the
// file as it was.
func TestConvertKeepsItsInput(t *testing.T) {
	requireSharedDICOM(t)
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Join(sharedDICOM, "real_ncct_series"))
	if err != nil {
		t.Fatal(err)
	}
	for n, e := range entries {
		content, err := os.ReadFile(filepath.Join(sharedDICOM, "real_ncct_series", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("IM%05d.nii", n)), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(dir, "IM00005.nii")
	before, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	err = run([]string{"convert", dir, target})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "is the DICOM file") {
		t.Errorf("error %v, want a usage error saying OUT is an input file", err)
	}
	if after, _ := os.ReadFile(target); !bytes.Equal(before, after) {
		t.Errorf("%s changed", target)
	}
}

func TestKidneyContrastWarning(t *testing.T) {
	g := volume.Grid{Size: [3]int{10, 10, 10}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	ct := volume.NewVolume(g)
	kidney := volume.NewMask(g)
	if w := kidneyContrastWarning(ct, kidney); w != "" {
		t.Errorf("empty mask: warning %q, want none", w)
	}
	for n := 0; n < 100; n++ {
		kidney.Labels[n] = 1
	}
	cases := []struct {
		kidneyHU float32
		want     string
	}{
		{30, ""},
		{80, ""},
		{160, "the kidneys measure 160 HU"},
	}
	for _, tc := range cases {
		for n := 0; n < 100; n++ {
			ct.Voxels[n] = tc.kidneyHU
		}
		w := kidneyContrastWarning(ct, kidney)
		if tc.want == "" && w != "" || tc.want != "" && !strings.Contains(w, tc.want) {
			t.Errorf("kidney at %v HU: warning %q, want %q", tc.kidneyHU, w, tc.want)
		}
	}
}
