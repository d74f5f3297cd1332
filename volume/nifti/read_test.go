package nifti

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
)

// fixture is one entry of testdata/expected.json, written by make_fixtures.py from
// what nibabel reads back.
type fixture struct {
	AffineRASMM [][]float64 `json:"affine_ras_mm"`
	Values      []float64   `json:"values"`
}

func loadFixtures(t *testing.T) map[string]fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixtures map[string]fixture
	if err := json.Unmarshal(b, &fixtures); err != nil {
		t.Fatal(err)
	}
	return fixtures
}

// affineLPSFromRAS converts a 4×4 RAS affine to LPS by negating its first two rows.
func affineLPSFromRAS(ras [][]float64) [4][4]float64 {
	var lps [4][4]float64
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			lps[r][c] = ras[r][c]
			if r < 2 {
				lps[r][c] = -ras[r][c]
			}
		}
	}
	return lps
}

func maxAffineDifference(a, b [4][4]float64) float64 {
	maxDiff := 0.0
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			maxDiff = math.Max(maxDiff, math.Abs(a[r][c]-b[r][c]))
		}
	}
	return maxDiff
}

func TestReadFixtures(t *testing.T) {
	for name, want := range loadFixtures(t) {
		t.Run(name, func(t *testing.T) {
			v, h, err := Read(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAffineDifference(v.AffineLPS(), affineLPSFromRAS(want.AffineRASMM)); d > 1e-4 {
				t.Errorf("affine differs from nibabel's by %g mm:\ngot  %v\nwant %v (RAS)", d, v.AffineLPS(), want.AffineRASMM)
			}
			for a := 0; a < 3; a++ {
				if !(v.SpacingMM[a] > 0) {
					t.Errorf("SpacingMM[%d] = %g, want > 0", a, v.SpacingMM[a])
				}
			}
			if err := v.Validate(); err != nil {
				t.Errorf("grid does not validate: %v", err)
			}
			if len(v.Voxels) != len(want.Values) {
				t.Fatalf("%d voxels, want %d", len(v.Voxels), len(want.Values))
			}
			for n, value := range want.Values {
				if v.Voxels[n] != float32(value) {
					t.Fatalf("voxel %d = %v, want %v", n, v.Voxels[n], float32(value))
				}
			}
			if h.Dim[1] != 4 || h.Dim[2] != 3 || h.Dim[3] != 2 {
				t.Errorf("header dim = %v, want sizes 4, 3, 2", h.Dim)
			}
		})
	}
}

func TestReadByteOrder(t *testing.T) {
	cases := map[string]binary.ByteOrder{
		"int16_le.nii":            binary.LittleEndian,
		"float32_be.nii":          binary.BigEndian,
		"sform_over_qform.nii.gz": binary.BigEndian,
	}
	for name, want := range cases {
		_, h, err := Read(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if h.ByteOrder != want {
			t.Errorf("%s: byte order %v, want %v", name, h.ByteOrder, want)
		}
	}
}

func TestReadMaskLabels(t *testing.T) {
	want := loadFixtures(t)["labels_uint16.nii.gz"]
	m, h, err := ReadMask(filepath.Join("testdata", "labels_uint16.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Datatype != DatatypeUint16 {
		t.Errorf("datatype = %d, want uint16 (%d)", h.Datatype, DatatypeUint16)
	}
	for n, value := range want.Values {
		if m.Labels[n] != uint8(value) {
			t.Fatalf("label %d = %d, want %v", n, m.Labels[n], value)
		}
	}
}

// fixtureBytes returns the uncompressed content of a fixture, after edit.
func fixtureBytes(t *testing.T, name string, edit func(b []byte) []byte) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return edit(b)
}

func putI16(offset int, v int16) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[offset:], uint16(v)); return b }
}

func putF32(offset int, v float32) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offset:], math.Float32bits(v)); return b }
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReadRejects(t *testing.T) {
	// All edits apply to little-endian fixtures.
	cases := []struct {
		name    string
		fixture string
		edit    func([]byte) []byte
		kind    error
		message string
	}{
		{"data shorter than dims", "int16_le.nii", func(b []byte) []byte { return b[:len(b)-5] }, ErrMalformed, "voxel data is 43 bytes, but dim [4 3 2] with datatype int16 (code 4) needs 48"},
		{"header cut short", "int16_le.nii", func(b []byte) []byte { return b[:100] }, ErrMalformed, "header: read 100 of 348 bytes"},
		{"gzip stream cut short", "int16_le.nii", func(b []byte) []byte { z := gzipped(b); return z[:len(z)-30] }, ErrMalformed, "voxel data ends after 32 of 48 bytes, so the file is cut short"},
		{"2D image", "int16_le.nii", putI16(40, 2), ErrUnsupported, "dim[0] (number of dimensions) is 2"},
		{"4D series", "dim4_of_1.nii", putI16(48, 5), ErrUnsupported, "dim[4] is 5"},
		{"zero size", "int16_le.nii", putI16(44, 0), ErrMalformed, "dim[2] is 0"},
		{"complex datatype", "int16_le.nii", putI16(70, 32), ErrUnsupported, "complex64 (code 32)"},
		{"int64 datatype", "int16_le.nii", putI16(70, 1024), ErrUnsupported, "int64 (code 1024)"},
		{"undefined datatype", "int16_le.nii", putI16(70, 3), ErrUnsupported, "code 3, not defined by NIfTI-1"},
		{"bad magic", "int16_le.nii", func(b []byte) []byte { copy(b[344:], "abc\x00"); return b }, ErrMalformed, `magic is "abc\x00"`},
		{"two-file magic", "int16_le.nii", func(b []byte) []byte { copy(b[344:], "ni1\x00"); return b }, ErrUnsupported, `magic is "ni1"`},
		{"NIfTI-2", "int16_le.nii", func(b []byte) []byte { binary.LittleEndian.PutUint32(b, 540); return b }, ErrUnsupported, "NIfTI-2"},
		{"not NIfTI", "int16_le.nii", func(b []byte) []byte { copy(b, "GIF8"); return b }, ErrMalformed, "not a NIfTI-1 file"},
		{"NaN voxel", "float64_le.nii", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[352+8*5:], math.Float64bits(math.NaN()))
			binary.LittleEndian.PutUint64(b[352+8*9:], math.Float64bits(math.Inf(-1)))
			return b
		}, ErrUnsupported, "2 voxels are NaN or infinite as float32, the first at index (1, 1, 0)"},
		{"float64 beyond float32", "float64_le.nii", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[352:], math.Float64bits(1e300))
			return b
		}, ErrUnsupported, "the first at index (0, 0, 0) with value 1e+300"},
		{"bad spatial unit", "int16_le.nii", func(b []byte) []byte { b[123] = 5; return b }, ErrMalformed, "xyzt_units spatial code is 5"},
		{"quaternion too long", "qform_only.nii", func(b []byte) []byte { return putF32(260, 0.9)(putF32(256, 0.9)(b)) }, ErrMalformed, "(0.9, 0.9, 0.25881904) has b²+c²+d² = 1.68699 > 1, so it is not a rotation"},
		{"NaN quaternion", "qform_only.nii", putF32(256, float32(math.NaN())), ErrMalformed, "qform transform (qform_code 1): quatern_b is NaN, want a finite number"},
		{"infinite quaternion", "qform_only.nii", putF32(260, float32(math.Inf(1))), ErrMalformed, "quatern_c is +Inf"},
		{"NaN qoffset", "qform_only.nii", putF32(272, float32(math.NaN())), ErrMalformed, "qoffset_y is NaN"},
		{"NaN spacing in qform", "qform_only.nii", putF32(80, float32(math.NaN())), ErrMalformed, "qform transform (qform_code 1): pixdim[1] (voxel size along axis 0) is NaN"},
		{"zero spacing in qform", "qform_only.nii", putF32(88, 0), ErrMalformed, "pixdim[3] (voxel size along axis 2) is 0"},
		{"NaN spacing without transforms", "pixdim_only.nii", putF32(84, float32(math.NaN())), ErrMalformed, "pixdim transform (qform_code and sform_code 0): pixdim[2] (voxel size along axis 1) is NaN"},
		{"infinite spacing without transforms", "pixdim_only.nii", putF32(80, float32(math.Inf(-1))), ErrMalformed, "pixdim[1] (voxel size along axis 0) is -Inf"},
		{"NaN sform", "int16_le.nii", putF32(300, float32(math.NaN())), ErrMalformed, "sform transform (sform_code 2): srow_y[1] is NaN"},
		{"sheared sform", "int16_le.nii", putF32(284, 0.5), ErrUnsupported, "sform transform: sheared"},
		{"zero sform column", "int16_le.nii", func(b []byte) []byte {
			for _, off := range []int{280, 296, 312} {
				binary.LittleEndian.PutUint32(b[off:], 0)
			}
			return b
		}, ErrMalformed, "column 0 (voxel step along axis 0)"},
		{"infinite intercept", "int16_le.nii", func(b []byte) []byte { return putF32(116, float32(math.Inf(1)))(putF32(112, 2)(b)) }, ErrMalformed, "scl_inter is +Inf"},
		{"NaN vox_offset", "int16_le.nii", putF32(108, float32(math.NaN())), ErrMalformed, "vox_offset is NaN"},
		{"huge vox_offset", "int16_le.nii", putF32(108, 1e12), ErrMalformed, "vox_offset is 1e+12"},
		{"vox_offset past end", "int16_le.nii", putF32(108, 4096), ErrMalformed, "before vox_offset 4096"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := fixtureBytes(t, tc.fixture, tc.edit)
			for _, viaFile := range []bool{false, true} {
				var err error
				if viaFile {
					path := filepath.Join(t.TempDir(), "case.nii")
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
					_, _, err = Read(path)
				} else {
					_, _, err = decodeVolume(bytes.NewReader(b))
				}
				if err == nil {
					t.Fatalf("read succeeded (from file: %v), want error containing %q", viaFile, tc.message)
				}
				if viaFile && !strings.Contains(err.Error(), "case.nii") {
					t.Errorf("error %q does not name the file case.nii", err)
				}
				if !errors.Is(err, tc.kind) {
					t.Errorf("error %q (from file: %v) does not wrap %v", err, viaFile, tc.kind)
				}
				if !strings.Contains(err.Error(), tc.message) {
					t.Errorf("error %q (from file: %v), want it to contain %q", err, viaFile, tc.message)
				}
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	_, _, err := Read(filepath.Join(t.TempDir(), "absent.nii"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one that wraps os.ErrNotExist", err)
	}
}

func TestReadMaskRejects(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		edit    func([]byte) []byte
		message string
	}{
		{"values beyond 255", "int16_le.nii", func(b []byte) []byte { return b }, "voxels are not integer labels from 0 to 255"},
		{"fractional label", "labels_uint16.nii.gz", func(b []byte) []byte { return putF32(112, 0.5)(b) }, "the first at index"},
		{"negative label", "dim4_of_1.nii", func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[352:], uint16(0xffff))
			for n := 1; n < 24; n++ {
				binary.LittleEndian.PutUint16(b[352+2*n:], 1)
			}
			return b
		}, "1 voxels are not integer labels from 0 to 255, the first at index (0, 0, 0) with value -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeMask(bytes.NewReader(fixtureBytes(t, tc.fixture, tc.edit)), nil)
			if err == nil {
				t.Fatalf("read succeeded, want error containing %q", tc.message)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q, want it to contain %q", err, tc.message)
			}
		})
	}
}

// TestReadVoxOffsetBelow352 checks that a single file with vox_offset 0 is read from
// byte 352, where its data must start.
func TestReadVoxOffsetBelow352(t *testing.T) {
	want, _, err := Read(filepath.Join("testdata", "int16_le.nii"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := decodeVolume(bytes.NewReader(fixtureBytes(t, "int16_le.nii", putF32(108, 0))))
	if err != nil {
		t.Fatal(err)
	}
	for n := range want.Voxels {
		if got.Voxels[n] != want.Voxels[n] {
			t.Fatalf("voxel %d = %v, want %v", n, got.Voxels[n], want.Voxels[n])
		}
	}
}

func TestGridPixdimOnly(t *testing.T) {
	h := &Header{Dim: [8]int16{3, 2, 2, 2, 1, 1, 1, 1}, Pixdim: [8]float32{1, -0.5, 2, 3}}
	g, err := h.Grid()
	if err != nil {
		t.Fatal(err)
	}
	want := volume.Grid{
		Size:      [3]int{2, 2, 2},
		SpacingMM: volume.Vec3{0.5, 2, 3},
		AxesLPS:   [3]volume.Vec3{{1, 0, 0}, {0, -1, 0}, {0, 0, 1}},
	}
	if g != want {
		t.Errorf("grid = %+v, want %+v (negative pixdim folded into the L axis)", g, want)
	}
}

func TestReadIgnoresJunkAfterGzipMember(t *testing.T) {
	g := volume.Grid{Size: [3]int{4, 3, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	v := volume.NewVolume(g)
	for i := range v.Voxels {
		v.Voxels[i] = float32(i - 10)
	}
	path := filepath.Join(t.TempDir(), "junk.nii.gz")
	if err := WriteVolume(path, v, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("trailing bytes that are not gzip")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	got, _, err := Read(path)
	if err != nil {
		t.Fatalf("Read with junk after the gzip member: %v", err)
	}
	for i, want := range v.Voxels {
		if got.Voxels[i] != want {
			t.Fatalf("voxel %d = %g, want %g", i, got.Voxels[i], want)
		}
	}
}

// gzipStored compresses b with stored (uncompressed) deflate blocks. Byte n of b then
// sits at byte 15+n of the result, after the 10-byte gzip header and the 5-byte
// header of the first stored block, as long as b is under 65535 bytes.
func gzipStored(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReadCorruptGzip(t *testing.T) {
	plain := fixtureBytes(t, "int16_le.nii", func(b []byte) []byte { return b })
	flip := func(z []byte, n int) []byte { z = bytes.Clone(z); z[n] ^= 0x5a; return z }
	cases := []struct {
		name    string
		content []byte
		message string
	}{
		// Stored blocks inflate damaged bytes without a flate error, so only the
		// CRC-32 at the end of the member shows the damage.
		{"damaged magic in stored block", flip(gzipStored(t, plain), 15+344), "gzip stream is corrupt after 400 decompressed bytes (gzip: invalid checksum)"},
		{"damaged voxel in stored block", flip(gzipStored(t, plain), 15+360), "gzip stream is corrupt after 400 decompressed bytes (gzip: invalid checksum)"},
		{"damaged deflate data", flip(gzipped(plain), 20), "gzip stream is corrupt after"},
		{"damaged CRC-32", flip(gzipped(plain), len(gzipped(plain))-6), "(gzip: invalid checksum)"},
		{"missing CRC-32 and length", gzipped(plain)[:len(gzipped(plain))-8], "gzip stream ends after 400 decompressed bytes, before its CRC-32, so the file is cut short"},
		{"unknown gzip compression method", func() []byte { z := gzipped(plain); z[2] = 7; return z }(), "gzip header is invalid (gzip: invalid header)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.nii.gz")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Read(path)
			if err == nil {
				t.Fatalf("read succeeded, want error containing %q", tc.message)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q, want it to contain %q", err, tc.message)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
			if strings.Contains(strings.ReplaceAll(err.Error(), path, ""), "magic") {
				t.Errorf("error %q blames the magic string, want the gzip damage", err)
			}
			if _, _, err := ReadMask(path); err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("ReadMask error %v, want one containing %q", err, tc.message)
			}
		})
	}
}

// TestReadGzipMembers checks that data split over two gzip members is read whole, as
// gzip -d and nibabel read it.
func TestReadGzipMembers(t *testing.T) {
	want, _, err := Read(filepath.Join("testdata", "int16_le.nii"))
	if err != nil {
		t.Fatal(err)
	}
	plain := fixtureBytes(t, "int16_le.nii", func(b []byte) []byte { return b })
	two := append(gzipped(plain[:200]), gzipped(plain[200:])...)
	got, _, err := decodeVolume(bytes.NewReader(two))
	if err != nil {
		t.Fatal(err)
	}
	for n := range want.Voxels {
		if got.Voxels[n] != want.Voxels[n] {
			t.Fatalf("voxel %d = %v, want %v", n, got.Voxels[n], want.Voxels[n])
		}
	}
}

// TestReadNegativeSpacing reads the fixtures with pixdim (2, -2, 5). The affines are
// checked against nibabel's by TestReadFixtures, and this test states the grid.
func TestReadNegativeSpacing(t *testing.T) {
	cos, sin := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
	cases := []struct {
		name string
		axes [3]volume.Vec3
	}{
		// sform columns (2, 0, 0), (0, -2, 0), (0, 0, 5) in RAS: j runs to anterior,
		// which is -P in LPS.
		{"negative_pixdim_sform.nii", [3]volume.Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
		// Method 1, x = pixdim[1]*i and so on, with the same signs as the sform case.
		{"negative_pixdim_only.nii", [3]volume.Vec3{{-1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
		// A qform rotated 30 degrees about z: the sign of pixdim[2] is ignored.
		{"negative_pixdim_qform.nii", [3]volume.Vec3{{-cos, -sin, 0}, {sin, -cos, 0}, {0, 0, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, h, err := Read(filepath.Join("testdata", tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if h.Pixdim[2] != -2 {
				t.Fatalf("pixdim[2] = %g, want the stored -2", h.Pixdim[2])
			}
			if v.SpacingMM != (volume.Vec3{2, 2, 5}) {
				t.Errorf("SpacingMM = %v, want [2 2 5]", v.SpacingMM)
			}
			for a := 0; a < 3; a++ {
				for c := 0; c < 3; c++ {
					if math.Abs(v.AxesLPS[a][c]-tc.axes[a][c]) > 1e-6 {
						t.Errorf("AxesLPS[%d] = %v, want %v", a, v.AxesLPS[a], tc.axes[a])
						break
					}
				}
			}
		})
	}
}

// TestReadSlopeZero checks that scl_slope 0 leaves the stored values unscaled, even
// with a non-zero scl_inter.
func TestReadSlopeZero(t *testing.T) {
	path := filepath.Join("testdata", "slope_zero_int16.nii")
	v, h, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.SclSlope != 0 || h.SclInter != 100 {
		t.Fatalf("scl_slope, scl_inter = %g, %g, want the fixture's 0, 100", h.SclSlope, h.SclInter)
	}
	raw := fixtureBytes(t, "slope_zero_int16.nii", func(b []byte) []byte { return b })
	for n := range v.Voxels {
		stored := int16(binary.LittleEndian.Uint16(raw[352+2*n:]))
		if v.Voxels[n] != float32(stored) {
			t.Fatalf("voxel %d = %v, want the stored %d", n, v.Voxels[n], stored)
		}
	}
}

// TestReadNaNInf checks that a float32 file with NaN and infinite voxels is rejected
// with the file, the count and the first voxel in the message.
func TestReadNaNInf(t *testing.T) {
	path := filepath.Join("testdata", "nan_inf_float32.nii")
	_, _, err := Read(path)
	if err == nil {
		t.Fatal("read succeeded, want an error for the NaN and infinite voxels")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("error %q does not wrap ErrUnsupported", err)
	}
	want := "3 voxels are NaN or infinite as float32, the first at index (1, 2, 0) with value NaN"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}

// TestReadFixturesGzipped reads every uncompressed fixture again after gzip
// compression, so each datatype is also read from a .nii.gz file.
func TestReadFixturesGzipped(t *testing.T) {
	for name, want := range loadFixtures(t) {
		if strings.HasSuffix(name, ".gz") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name+".gz")
			if err := os.WriteFile(path, gzipped(fixtureBytes(t, name, func(b []byte) []byte { return b })), 0o644); err != nil {
				t.Fatal(err)
			}
			v, _, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAffineDifference(v.AffineLPS(), affineLPSFromRAS(want.AffineRASMM)); d > 1e-4 {
				t.Errorf("affine differs from nibabel's by %g mm", d)
			}
			for n, value := range want.Values {
				if v.Voxels[n] != float32(value) {
					t.Fatalf("voxel %d = %v, want %v", n, v.Voxels[n], float32(value))
				}
			}
		})
	}
}
