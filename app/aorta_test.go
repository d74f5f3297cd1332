package main

import (
	"math"
	"os"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/dicomseries"
	"protrude/volume/nifti"
)

// torsoPhantom returns an axial volume of 2 mm pixels and 3 mm slices whose HU at
// each voxel is hu(x, y) of the voxel's LPS position in mm, on a grid with the given
// axes.
func torsoPhantom(axes [3]volume.Vec3, hu func(xMM, yMM float64) float32) *volume.Volume {
	g := volume.Grid{Size: [3]int{170, 130, 8}, SpacingMM: volume.Vec3{2, 2, 3}, AxesLPS: axes}
	// Centre the grid on the LPS origin whatever the axis directions.
	centre := g.IndexToLPS(volume.Vec3{84.5, 64.5, 3.5})
	g.OriginLPS = volume.Vec3{-centre[0], -centre[1], -centre[2]}
	v := volume.NewVolume(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				p := g.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
				v.Voxels[g.Offset(i, j, k)] = hu(p[0], p[1])
			}
		}
	}
	return v
}

// torsoHU returns the HU of a simple abdomen at LPS (x, y) in mm. Soft tissue of
// 40 HU contains a vertebral body of 250 HU with a 700 HU cortex behind the centre,
// a spinal canal and a spinous process. The aorta, 24 mm across, lies anterior-left
// of the spine with aortaHU, and the inferior vena cava right of it with cavaHU.
func torsoHU(aortaHU, cavaHU float32, x, y float64) float32 {
	switch {
	case x*x/(150*150)+y*y/(110*110) > 1:
		return -1000
	case math.Hypot(x-20, y-5) < 12:
		return aortaHU
	case math.Hypot(x+25, y-5) < 10:
		return cavaHU
	case math.Hypot(x, y-40) < 17:
		return 250
	case math.Hypot(x, y-40) < 20:
		return 700
	case math.Hypot(x, y-70) < 8:
		return 10
	case math.Abs(x) < 5 && y > 80 && y < 100:
		return 400
	}
	return 40
}

func TestAortaContrastSynthetic(t *testing.T) {
	lps := volume.IdentityAxesLPS
	ras := [3]volume.Vec3{{-1, 0, 0}, {0, -1, 0}, {0, 0, 1}}
	cases := []struct {
		name string
		axes [3]volume.Vec3
		hu   func(x, y float64) float32
		want bool
	}{
		{"150 HU aorta", lps, func(x, y float64) float32 { return torsoHU(150, 40, x, y) }, true},
		{"150 HU aorta, RAS axes", ras, func(x, y float64) float32 { return torsoHU(150, 40, x, y) }, true},
		{"300 HU aorta", lps, func(x, y float64) float32 { return torsoHU(300, 40, x, y) }, true},
		{"40 HU aorta", lps, func(x, y float64) float32 { return torsoHU(40, 40, x, y) }, false},
		{"40 HU aorta with 400 HU plaques", lps, func(x, y float64) float32 {
			// Three plaques, each about 3 mm thick and 6 mm long, on the aortic wall.
			for _, angle := range []float64{0.3, 2.0, 4.2} {
				px, py := 20+11*math.Cos(angle), 5+11*math.Sin(angle)
				if math.Hypot(x-px, y-py) < 3 {
					return 400
				}
			}
			return torsoHU(40, 40, x, y)
		}, false},
		{"enhanced cava only", lps, func(x, y float64) float32 { return torsoHU(40, 150, x, y) }, false},
		{"100 HU aorta", lps, func(x, y float64) float32 { return torsoHU(100, 40, x, y) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := torsoPhantom(tc.axes, tc.hu)
			findings := aortaFindings(ct)
			if got := len(findings) > 0; got != tc.want {
				t.Fatalf("aorta found = %v (%+v), want %v", got, findings, tc.want)
			}
			if got := aortaContrastWarning(ct) != ""; got != tc.want {
				t.Fatalf("warning given = %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			f := findings[0]
			if len(findings) != ct.Size[2] {
				t.Errorf("found on %d slices, want all %d", len(findings), ct.Size[2])
			}
			if math.Hypot(f.centreLPS[0]-20, f.centreLPS[1]-5) > 2 {
				t.Errorf("aorta centre at LPS (%.1f, %.1f) mm, want (20, 5)", f.centreLPS[0], f.centreLPS[1])
			}
			// Smoothing blends the rim with the tissue around, which moves it across
			// the threshold: inward for a blob just above it, outward for a bright one.
			if want := math.Pi * 12 * 12; math.Abs(f.areaMM2-want) > 0.35*want {
				t.Errorf("aorta area %.0f mm², want %.0f within 35%%", f.areaMM2, want)
			}
		})
	}
}

// realNCCTKidneys is a kidney mask of the real non-contrast scan, from
// TotalSegmentator's prediction.
const realNCCTKidneys = "../../shared/data/real_ncct/torso_ncct_3mm_kidneys_pseudo.nii.gz"

func TestAortaContrastRealNonContrast(t *testing.T) {
	requireFile(t, realNCCTNIfTI)
	requireFile(t, realNCCTKidneys)

	ct, _, err := nifti.Read(realNCCTNIfTI)
	if err != nil {
		t.Fatal(err)
	}

	// The check must see the spine, or finding no aorta proves nothing. The slice
	// axis of this RAS file is k.
	spineSlices := 0
	for k := 0; k < ct.Size[2]; k++ {
		s := extractAxialSlice(ct, 2, k)
		s.smooth()
		if _, ok := s.findVertebralBody(); ok {
			spineSlices++
		}
	}
	t.Logf("vertebral body found on %d of %d slices", spineSlices, ct.Size[2])
	if spineSlices < ct.Size[2]/2 {
		t.Errorf("vertebral body found on %d of %d slices, want at least half", spineSlices, ct.Size[2])
	}

	if findings := aortaFindings(ct); len(findings) != 0 {
		t.Fatalf("found an enhanced aorta on %d slices of a non-contrast scan, the first %+v", len(findings), findings[0])
	}
	kidney, _, err := nifti.ReadMask(realNCCTKidneys)
	if err != nil {
		t.Fatal(err)
	}
	if warnings := contrastWarnings(ct, kidney); len(warnings) != 0 {
		t.Fatalf("contrast warnings %q on a non-contrast scan, want none", warnings)
	}
}

func TestAortaContrastRealContrastChest(t *testing.T) {
	dir := sharedDICOM + "/real_ct_j2k_series"
	requireFile(t, dir)

	ct, _, err := dicomseries.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}

	findings := aortaFindings(ct)
	for _, f := range findings {
		t.Logf("slice %d: centre LPS (%.1f, %.1f) mm, %.0f mm², %.0f ± %.0f HU, fill %.2f, spine x %.1f mm",
			f.slice, f.centreLPS[0], f.centreLPS[1], f.areaMM2, f.meanHU, f.stdDevHU, f.fill, f.spineCentreX)
	}
	// The series is 20 slices 2 mm apart. The blob lies left of and in front of the
	// vertebral body and measures 179–194 HU and 450–542 mm² on five consecutive
	// slices (10 mm), just the length the check requires. On the slices around them
	// the blob touches the vertebral body.
	if got := float64(len(findings)) * ct.SpacingMM[2]; got < aortaMinRunMM {
		t.Fatalf("enhanced aorta over %.0f mm, want at least %d mm", got, aortaMinRunMM)
	}
	for _, f := range findings {
		if f.meanHU < 150 || f.meanHU > 250 {
			t.Errorf("slice %d: aorta %.0f HU, want 150 to 250", f.slice, f.meanHU)
		}
		if f.areaMM2 < 300 || f.areaMM2 > 800 {
			t.Errorf("slice %d: aorta %.0f mm², want 300 to 800 (20 to 32 mm across)", f.slice, f.areaMM2)
		}
		if f.centreLPS[0] <= f.spineCentreX {
			t.Errorf("slice %d: aorta centre x %.1f mm is not left of the spine's %.1f mm", f.slice, f.centreLPS[0], f.spineCentreX)
		}
	}

	warnings := contrastWarnings(ct, nil)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "aorta") {
		t.Fatalf("contrast warnings %q, want one about the aorta", warnings)
	}
}

// requireFile skips the test when path, shared data outside the repository, is absent.
func requireFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test data %s not found (it lives outside the repository): %v", path, err)
	}
}
