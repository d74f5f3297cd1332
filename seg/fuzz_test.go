package seg

import "testing"

// fuzzSizeCap bounds fuzz inputs. The seed SEG has about 7 KiB.
const fuzzSizeCap = 1 << 16

// FuzzRead reads arbitrary bytes as a SEG of a small synthetic series, seeded with a
// SEG of that series. Reading must never panic, and a file that reads must give
// masks on the series grid.
func FuzzRead(f *testing.F) {
	seriesDir := f.TempDir()
	series := defaultSeries()
	series.write(f, seriesDir)
	src := readSeries(f, seriesDir)
	segments := syntheticLayers(src.Grid).Segments()
	seed, err := encodeSegmentation(src, segments, WriteOptions{SoftwareVersion: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzSizeCap {
			t.Skip()
		}
		got, err := decode(data, src)
		if err != nil {
			return
		}
		for _, s := range got {
			if s.Mask.Size != src.Grid.Size || len(s.Mask.Labels) != src.Grid.NumVoxels() {
				t.Fatalf("segment %d has size %v and %d labels, want the series grid %v", s.Number, s.Mask.Size, len(s.Mask.Labels), src.Grid.Size)
			}
		}
	})
}
