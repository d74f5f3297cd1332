package dicomseries

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

// scanOnlyStack scans dir and returns the catalog and its only loadable stack.
func scanOnlyStack(t *testing.T, dir string) (*Catalog, *Stack) {
	t.Helper()
	c, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Only()
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

// requireInt16MatchesLoad loads the only stack of dir with LoadInt16 and Load and
// fails unless both give the same grid and the same value in every voxel.
func requireInt16MatchesLoad(t *testing.T, dir string) {
	t.Helper()
	c, st := scanOnlyStack(t, dir)
	short, _, err := c.LoadInt16(st)
	if err != nil {
		t.Fatalf("LoadInt16: %v", err)
	}
	full, _, err := c.Load(st)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if short.Grid != full.Grid {
		t.Fatalf("LoadInt16 grid %+v, Load grid %+v", short.Grid, full.Grid)
	}
	for n, want := range full.Voxels {
		if got := float32(short.Voxels[n]); got != want {
			t.Fatalf("voxel %d: LoadInt16 gives %v, Load %v", n, got, want)
		}
	}

	// LoadInt16Slices hands over the same values, one slice at a time.
	var streamed []int16
	var plane int
	var mu sync.Mutex
	_, err = c.LoadInt16Slices(st,
		func(g volume.Grid) error {
			if g != full.Grid {
				t.Errorf("LoadInt16Slices grid %+v, Load grid %+v", g, full.Grid)
			}
			plane = g.Size[0] * g.Size[1]
			streamed = make([]int16, g.NumVoxels())
			return nil
		},
		func(k int, values []int16) error {
			mu.Lock()
			defer mu.Unlock()
			copy(streamed[k*plane:(k+1)*plane], values)
			return nil
		})
	if err != nil {
		t.Fatalf("LoadInt16Slices: %v", err)
	}
	for n, want := range short.Voxels {
		if streamed[n] != want {
			t.Fatalf("voxel %d: LoadInt16Slices gives %v, LoadInt16 %v", n, streamed[n], want)
		}
	}
}

func TestLoadInt16MatchesLoad(t *testing.T) {
	cases := []struct {
		name   string
		modify func(s *sliceSpec)
	}{
		{"signed with intercept -1024", func(s *sliceSpec) {}},
		{"extreme stored values", func(s *sliceSpec) {
			s.intercept = 0
			s.stored[0], s.stored[1] = -32768, 32767
		}},
		{"padding value", func(s *sliceSpec) {
			s.stored[2] = -2000
			s.replace = []rawElement{ssElement(tag.PixelPaddingValue, -2000)}
		}},
		{"12 bits stored", func(s *sliceSpec) {
			// The generic path: stored values sign-extended from 12 bits.
			for n := range s.stored {
				s.stored[n] &= 0x0fff
			}
			s.replace = []rawElement{usElement(tag.BitsStored, 12), usElement(tag.HighBit, 11)}
		}},
		{"unsigned", func(s *sliceSpec) {
			s.stored[0] = -1 // 65535 unsigned, 64511 HU: outside int16 unless the intercept is low
			s.intercept = -32768
			s.replace = []rawElement{usElement(tag.PixelRepresentation, 0)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			specs := stack(0, 1, 2)
			for n := range specs {
				tc.modify(&specs[n])
			}
			requireInt16MatchesLoad(t, writeSeries(t, specs))
		})
	}
}

func TestLoadInt16RejectsInexact(t *testing.T) {
	cases := []struct {
		name    string
		heights []float64
		modify  func(s *sliceSpec)
	}{
		{"slope 0.5", []float64{0, 1, 2}, func(s *sliceSpec) { s.slope = 0.5 }},
		{"fractional intercept", []float64{0, 1, 2}, func(s *sliceSpec) { s.intercept = -1024.5 }},
		{"value below -32768", []float64{0, 1, 2}, func(s *sliceSpec) { s.stored[0] = -32000 }},
		{"value above 32767", []float64{0, 1, 2}, func(s *sliceSpec) {
			s.intercept = 1024
			s.stored[3] = 32000
		}},
		{"irregular spacing", []float64{0, 1, 2.5, 3}, func(s *sliceSpec) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			specs := stack(tc.heights...)
			for n := range specs {
				tc.modify(&specs[n])
			}
			dir := writeSeries(t, specs)
			c, st := scanOnlyStack(t, dir)
			if _, _, err := c.LoadInt16(st); !errors.Is(err, ErrNotInt16) {
				t.Fatalf("LoadInt16 error = %v, want ErrNotInt16", err)
			}
			_, err := c.LoadInt16Slices(st, func(volume.Grid) error { return nil },
				func(int, []int16) error { return nil })
			if !errors.Is(err, ErrNotInt16) {
				t.Fatalf("LoadInt16Slices error = %v, want ErrNotInt16", err)
			}
			if _, _, err := c.Load(st); err != nil {
				t.Fatalf("Load after ErrNotInt16: %v", err)
			}
		})
	}
}

func TestLoadRejectsFileChangedAfterScan(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"longer file", func(t *testing.T, path string) {
			s := newSliceSpec(1)
			s.columns = 5
			s.stored = append(s.stored, 0, 0, 0)
			if err := os.WriteFile(path, s.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"same size, newer time", func(t *testing.T, path string) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSeries(t, stack(0, 1, 2))
			c, st := scanOnlyStack(t, dir)
			tc.change(t, filepath.Join(dir, "IM0002.dcm"))
			_, _, err := c.Load(st)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "changed after the folder was scanned") {
				t.Fatalf("Load error = %v, want a changed-file error wrapping ErrMalformed", err)
			}
		})
	}
}

func TestRealSeriesInt16MatchesLoad(t *testing.T) {
	requirePath(t, realSeriesDir)
	requireInt16MatchesLoad(t, realSeriesDir)
}
