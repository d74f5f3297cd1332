package nifti

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"protrude/volume"
)

const researchDescription = "Protrude: research use only, not for clinical use"

var writeGrids = map[string]volume.Grid{
	"identity axes": {
		Size: [3]int{5, 4, 3}, SpacingMM: volume.Vec3{0.75, 0.75, 2.5},
		OriginLPS: volume.Vec3{-180.25, -95.5, -1200.125}, AxesLPS: volume.IdentityAxesLPS,
	},
	"oblique right-handed": {
		Size: [3]int{3, 6, 2}, SpacingMM: volume.Vec3{0.6, 0.9, 3},
		OriginLPS: volume.Vec3{10, 20, 30},
		AxesLPS: [3]volume.Vec3{
			{math.Cos(0.5), math.Sin(0.5), 0}, {-math.Sin(0.5), math.Cos(0.5), 0}, {0, 0, 1}},
	},
	"RAS left-handed": {
		Size: [3]int{4, 4, 4}, SpacingMM: volume.Vec3{3, 3, 3},
		OriginLPS: volume.Vec3{177.95633, -11.319, 94.30176},
		AxesLPS:   [3]volume.Vec3{{-1, 0, 0}, {0, -1, 0}, {0, 0, 1}},
	},
	"sagittal permuted": {
		Size: [3]int{2, 5, 3}, SpacingMM: volume.Vec3{5, 1, 1.2},
		OriginLPS: volume.Vec3{-50, 0, 0},
		AxesLPS:   [3]volume.Vec3{{0, 1, 0}, {0, 0, -1}, {1, 0, 0}},
	},
}

// gridDifferenceMM returns the largest distance between corresponding voxel centres.
func gridDifferenceMM(a, b volume.Grid) float64 {
	maxDistance := 0.0
	for corner := 0; corner < 8; corner++ {
		var index volume.Vec3
		for axis := 0; axis < 3; axis++ {
			if corner&(1<<axis) != 0 {
				index[axis] = float64(a.Size[axis] - 1)
			}
		}
		p, q := a.IndexToLPS(index), b.IndexToLPS(index)
		maxDistance = math.Max(maxDistance, math.Hypot(math.Hypot(p[0]-q[0], p[1]-q[1]), p[2]-q[2]))
	}
	return maxDistance
}

func TestWriteVolumeRoundTrip(t *testing.T) {
	valueSets := []struct {
		name     string
		value    func(n int) float32
		datatype int16
	}{
		{"integer HU", func(n int) float32 { return float32(n*37%3000 - 1024) }, DatatypeInt16},
		{"int16 extremes", func(n int) float32 { return []float32{-32768, 32767, 0}[n%3] }, DatatypeInt16},
		{"beyond int16", func(n int) float32 { return float32(n) + 32767 }, DatatypeFloat32},
		{"fractional", func(n int) float32 { return float32(n)*0.37 - 5 }, DatatypeFloat32},
	}
	for gridName, g := range writeGrids {
		for _, values := range valueSets {
			for _, ext := range []string{".nii", ".nii.gz"} {
				t.Run(gridName+"/"+values.name+ext, func(t *testing.T) {
					v := volume.NewVolume(g)
					for n := range v.Voxels {
						v.Voxels[n] = values.value(n)
					}
					path := filepath.Join(t.TempDir(), "ct"+ext)
					if err := WriteVolume(path, v, WriteOptions{Description: researchDescription}); err != nil {
						t.Fatal(err)
					}

					got, h, err := Read(path)
					if err != nil {
						t.Fatal(err)
					}
					if h.Datatype != values.datatype {
						t.Errorf("datatype = %s, want %s", datatypeName(h.Datatype), datatypeName(values.datatype))
					}
					if h.Descrip != researchDescription {
						t.Errorf("descrip = %q, want %q", h.Descrip, researchDescription)
					}
					if h.SformCode != XformAlignedAnat || h.QformCode != XformScannerAnat {
						t.Errorf("sform_code, qform_code = %d, %d, want 2, 1", h.SformCode, h.QformCode)
					}
					if got.Size != g.Size {
						t.Fatalf("size = %v, want %v", got.Size, g.Size)
					}
					if d := gridDifferenceMM(got.Grid, g); d > 1e-4 {
						t.Errorf("voxel centres moved by up to %g mm:\ngot  %+v\nwant %+v", d, got.Grid, g)
					}
					for n := range v.Voxels {
						if got.Voxels[n] != v.Voxels[n] {
							t.Fatalf("voxel %d = %v, want %v", n, got.Voxels[n], v.Voxels[n])
						}
					}
				})
			}
		}
	}
}

// TestWriteQformMatchesSform checks the qform written from a grid, including the qfac
// of left-handed grids, by reading the file back through the qform alone.
func TestWriteQformMatchesSform(t *testing.T) {
	for name, g := range writeGrids {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := encodeMask(&buf, volume.NewMask(g), WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			h, err := parseHeader(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			h.SformCode = XformUnknown
			qformGrid, err := h.Grid()
			if err != nil {
				t.Fatal(err)
			}
			if d := gridDifferenceMM(qformGrid, g); d > 1e-4 {
				t.Errorf("qform grid is up to %g mm off:\ngot  %+v\nwant %+v", d, qformGrid, g)
			}
		})
	}
}

func TestWriteMaskRoundTrip(t *testing.T) {
	g := writeGrids["oblique right-handed"]
	m := volume.NewMask(g)
	for n := range m.Labels {
		m.Labels[n] = uint8(n * 7 % 256)
	}
	for _, ext := range []string{".nii", ".nii.gz"} {
		path := filepath.Join(t.TempDir(), "mask"+ext)
		if err := WriteMask(path, m, WriteOptions{Description: researchDescription}); err != nil {
			t.Fatal(err)
		}
		got, h, err := ReadMask(path)
		if err != nil {
			t.Fatal(err)
		}
		if h.Datatype != DatatypeUint8 {
			t.Errorf("%s: datatype = %s, want uint8", ext, datatypeName(h.Datatype))
		}
		if d := gridDifferenceMM(got.Grid, g); d > 1e-4 {
			t.Errorf("%s: voxel centres moved by up to %g mm", ext, d)
		}
		if !bytes.Equal(got.Labels, m.Labels) {
			t.Errorf("%s: labels differ after the round trip", ext)
		}
	}
}

func TestWriteGzipByName(t *testing.T) {
	m := volume.NewMask(writeGrids["identity axes"])
	for name, wantGzip := range map[string]bool{"a.nii": false, "b.nii.gz": true, "c.NII.GZ": true} {
		path := filepath.Join(t.TempDir(), name)
		if err := WriteMask(path, m, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		isGzip := len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b
		if isGzip != wantGzip {
			t.Errorf("%s: gzip = %v, want %v", name, isGzip, wantGzip)
		}
	}
}

// TestWriteTemplateCopiesTransforms writes a mask on the grid read from a fixture with
// an oblique qform and sform, and checks that every transform field is copied bit
// for bit.
func TestWriteTemplateCopiesTransforms(t *testing.T) {
	for _, name := range []string{"qform_only.nii", "sform_over_qform.nii.gz", "int8_be.nii", "units_metre.nii"} {
		t.Run(name, func(t *testing.T) {
			src, template, err := Read(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "mask.nii.gz")
			if err := WriteMask(path, volume.NewMask(src.Grid), WriteOptions{Template: template}); err != nil {
				t.Fatal(err)
			}
			_, h, err := ReadMask(path)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				field     string
				got, want any
			}{
				{"qform_code", h.QformCode, template.QformCode},
				{"sform_code", h.SformCode, template.SformCode},
				{"quatern_b", h.QuaternB, template.QuaternB},
				{"quatern_c", h.QuaternC, template.QuaternC},
				{"quatern_d", h.QuaternD, template.QuaternD},
				{"qoffset_x", h.QoffsetX, template.QoffsetX},
				{"qoffset_y", h.QoffsetY, template.QoffsetY},
				{"qoffset_z", h.QoffsetZ, template.QoffsetZ},
				{"srow_x", h.SrowX, template.SrowX},
				{"srow_y", h.SrowY, template.SrowY},
				{"srow_z", h.SrowZ, template.SrowZ},
				{"pixdim[0:4]", [4]float32(h.Pixdim[:4]), [4]float32(template.Pixdim[:4])},
				{"spatial units", h.XYZTUnits & 7, template.XYZTUnits & 7},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
				}
			}
		})
	}
}

func TestWriteTemplateMismatchUsesGrid(t *testing.T) {
	src, template, err := Read(filepath.Join("testdata", "qform_only.nii"))
	if err != nil {
		t.Fatal(err)
	}
	moved := src.Grid
	moved.OriginLPS[2] += 0.01

	var buf bytes.Buffer
	if err := encodeMask(&buf, volume.NewMask(moved), WriteOptions{Template: template}); err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if h.SformCode != XformAlignedAnat {
		t.Errorf("sform_code = %d, want %d because the template's grid is 0.01 mm off", h.SformCode, XformAlignedAnat)
	}
	g, err := h.Grid()
	if err != nil {
		t.Fatal(err)
	}
	if d := gridDifferenceMM(g, moved); d > 1e-4 {
		t.Errorf("written grid is %g mm from the mask's grid", d)
	}
}

func TestWriteDescriptionTruncated(t *testing.T) {
	// 78 ASCII bytes and then "é" (2 bytes) would end at byte 80, past the 79 allowed.
	long := strings.Repeat("x", 78) + "é and more"
	var buf bytes.Buffer
	if err := encodeMask(&buf, volume.NewMask(writeGrids["identity axes"]), WriteOptions{Description: long}); err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if h.Descrip != strings.Repeat("x", 78) {
		t.Errorf("descrip = %q (%d bytes), want 78 x's", h.Descrip, len(h.Descrip))
	}
	if !utf8.ValidString(h.Descrip) {
		t.Errorf("descrip %q is not valid UTF-8", h.Descrip)
	}
	if buf.Bytes()[148+79] != 0 {
		t.Errorf("descrip byte 79 is %d, want NUL", buf.Bytes()[148+79])
	}
}

func TestWriteRejects(t *testing.T) {
	good := writeGrids["identity axes"]
	nanVolume := volume.NewVolume(good)
	nanVolume.Voxels[7] = float32(math.NaN())
	badGrid := good
	badGrid.SpacingMM[1] = 0
	short := volume.NewVolume(good)
	short.Voxels = short.Voxels[:10]
	huge := good
	huge.Size[0] = 40000
	// The int16 attempt stops at the fractional voxel 3 and the float32 one finds the
	// infinity after it.
	lateInf := volume.NewVolume(good)
	lateInf.Voxels[3] = 0.5
	lateInf.Voxels[59] = float32(math.Inf(-1))

	cases := []struct {
		name    string
		v       *volume.Volume
		message string
	}{
		{"NaN voxel", nanVolume, "voxel (2, 1, 0) is NaN"},
		{"infinity after a fraction", lateInf, "voxel (4, 3, 2) is -Inf"},
		{"zero spacing", volume.NewVolume(badGrid), "spacing along axis 1 is 0 mm"},
		{"too few voxels", short, "image has 10 voxel values, but its grid of size [5 4 3] needs 60"},
		{"size beyond int16", &volume.Volume{Grid: huge}, "size along axis 0 is 40000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.nii.gz")
			err := WriteVolume(path, tc.v, WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error %v, want one containing %q", err, tc.message)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				t.Errorf("folder contains %s after a failed write, want it empty", e.Name())
			}
		})
	}
}

// TestWriteAtomicKeepsOldFile checks that a write that fails midway leaves the old
// file untouched and no temporary file behind.
func TestWriteAtomicKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mask.nii")
	if err := os.WriteFile(path, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("disk full")
	err := writeAtomic(path, WriteOptions{}, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte{1}, 1000))
		return failure
	})
	if !errors.Is(err, failure) {
		t.Fatalf("error %v, want the write function's error", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "old content" {
		t.Errorf("target holds %q (%v), want the old content", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder contains %v, want only mask.nii", names)
	}
}

func TestWriteMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "mask.nii")
	err := WriteMask(path, volume.NewMask(writeGrids["identity axes"]), WriteOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one that wraps os.ErrNotExist", err)
	}
}

func TestWriteInt16VolumeMatchesWriteVolume(t *testing.T) {
	for name, g := range writeGrids {
		for _, suffix := range []string{".nii", ".nii.gz"} {
			t.Run(name+suffix, func(t *testing.T) {
				short := &volume.Int16Volume{Grid: g, Voxels: make([]int16, g.NumVoxels())}
				full := volume.NewVolume(g)
				for n := range short.Voxels {
					// Cover both ends of the int16 range and values between.
					value := int16(n*7919 - 32768)
					short.Voxels[n], full.Voxels[n] = value, float32(value)
				}
				short.Voxels[0], full.Voxels[0] = math.MaxInt16, math.MaxInt16
				dir := t.TempDir()
				opts := WriteOptions{Description: researchDescription}
				shortPath, fullPath := filepath.Join(dir, "short"+suffix), filepath.Join(dir, "full"+suffix)
				if err := WriteInt16Volume(shortPath, short, opts); err != nil {
					t.Fatal(err)
				}
				if err := WriteVolume(fullPath, full, opts); err != nil {
					t.Fatal(err)
				}
				a, err := os.ReadFile(shortPath)
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(fullPath)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a, b) {
					t.Fatalf("WriteInt16Volume wrote %d bytes that differ from WriteVolume's %d", len(a), len(b))
				}
			})
		}
	}
}
