package nifti

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"protrude/volume"
)

// writeTestMask writes a mask on g, with label n%2 at flat offset n, and returns its path.
func writeTestMask(t *testing.T, g volume.Grid, name string) string {
	t.Helper()
	m := volume.NewMask(g)
	for n := range m.Labels {
		m.Labels[n] = uint8(n % 2)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := WriteMask(path, m, WriteOptions{Description: researchDescription}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadMaskOnGrid(t *testing.T) {
	g := writeGrids["oblique right-handed"]
	path := writeTestMask(t, g, "mask.nii.gz")

	shifted := func(mm float64) volume.Grid {
		s := g
		s.OriginLPS[2] += mm
		return s
	}
	larger := g
	larger.Size[0]++
	finer := g
	finer.SpacingMM[0] *= 1.01
	cases := []struct {
		name string
		want volume.Grid
		ok   bool
		text string
	}{
		{"same grid", g, true, ""},
		{"origin 0.0001 mm off", shifted(1e-4), true, ""},
		{"origin 0.01 mm off", shifted(0.01), false, "grid affines differ"},
		{"other size", larger, false, "grid sizes differ: [3 6 2] and [4 6 2] voxels"},
		{"other spacing", finer, false, "grid affines differ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, h, err := ReadMaskOnGrid(path, c.want)
			if c.ok {
				if err != nil {
					t.Fatalf("ReadMaskOnGrid: %v, want no error", err)
				}
				if h == nil || len(m.Labels) != g.NumVoxels() || m.Labels[1] != 1 {
					t.Errorf("ReadMaskOnGrid returned header %v and %d labels, want the written mask", h, len(m.Labels))
				}
				return
			}
			if !errors.Is(err, ErrGridMismatch) {
				t.Fatalf("ReadMaskOnGrid: error %v, want ErrGridMismatch", err)
			}
			for _, want := range []string{path, c.text} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ReadMaskOnGrid: error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestReadMaskOnGridSkipsVoxels reads a gzip file of about 64 KB whose header claims
// 400×400×400 uint8 voxels, all present as zeros, on a small expected grid.
func TestReadMaskOnGridSkipsVoxels(t *testing.T) {
	small := writeGrids["identity axes"]
	plain, err := os.ReadFile(writeTestMask(t, small, "small.nii"))
	if err != nil {
		t.Fatal(err)
	}
	header := plain[:singleFileDataOffset]
	for a, size := range []int16{400, 400, 400} {
		binary.LittleEndian.PutUint16(header[42+2*a:], uint16(size))
	}
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	zw.Write(header)
	zw.Write(make([]byte, 400*400*400))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bomb.nii.gz")
	if err := os.WriteFile(path, compressed.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err = ReadMaskOnGrid(path, small)
	runtime.ReadMemStats(&after)

	if !errors.Is(err, ErrGridMismatch) || !strings.Contains(err.Error(), "[400 400 400]") {
		t.Errorf("ReadMaskOnGrid of a 400×400×400 header on a %v grid: error %v, want ErrGridMismatch naming [400 400 400]", small.Size, err)
	}
	// Reading the voxels would allocate at least the 64 MB that the header claims.
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
		t.Errorf("ReadMaskOnGrid allocated %d bytes, want under 8 MiB because no voxel should be read", allocated)
	}
}

func TestReadHeaderGrid(t *testing.T) {
	g := writeGrids["sagittal permuted"]
	for _, name := range []string{"mask.nii", "mask.nii.gz"} {
		h, err := ReadHeader(writeTestMask(t, g, name))
		if err != nil {
			t.Fatalf("ReadHeader of %s: %v", name, err)
		}
		got, err := h.Grid()
		if err != nil {
			t.Fatalf("Grid of %s: %v", name, err)
		}
		if got.Size != g.Size {
			t.Errorf("%s: header size %v, want %v", name, got.Size, g.Size)
		}
		if d := gridDifferenceMM(got, g); d > 1e-4 {
			t.Errorf("%s: voxel centres of the header grid are up to %g mm from the written grid", name, d)
		}
	}
}

func TestCheckBinaryMask(t *testing.T) {
	g := volume.Grid{Size: [3]int{4, 3, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	m := volume.NewMask(g)
	m.Labels[g.Offset(1, 1, 0)] = 1
	if err := CheckBinaryMask(m); err != nil {
		t.Errorf("CheckBinaryMask of labels 0 and 1: %v, want nil", err)
	}

	m.Labels[g.Offset(2, 1, 1)] = 255
	m.Labels[g.Offset(3, 0, 1)] = 2
	err := CheckBinaryMask(m)
	if err == nil {
		t.Fatal("CheckBinaryMask of labels 2 and 255: no error")
	}
	// (3, 0, 1) is offset 15 and (2, 1, 1) offset 18, so label 2 comes first.
	for _, want := range []string{"2 voxels", "index (3, 0, 1) with label 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckBinaryMask: error %q does not contain %q", err, want)
		}
	}
}
