package edit

import (
	"math"
	"testing"

	"protrude/internal/cputime"
	"protrude/volume"
)

// BenchmarkBrushStroke measures one 5 mm radius axial disc stroke, 100 mm long in 50
// mouse moves, on a 512×512×300 grid of 0.8×0.8×2.5 mm voxels, including the encoding of
// its history step. The undo that resets the mask is not timed.
func BenchmarkBrushStroke(b *testing.B) {
	m := volume.NewMask(anisotropicGrid([3]int{512, 512, 300}))
	e, err := NewEditor(DefaultHistoryDepth)
	if err != nil {
		b.Fatal(err)
	}
	brush := Brush{RadiusMM: 5, SliceAxis: 2, Label: 1}
	step := 100 / math.Sqrt2 / 0.8 / 50

	clock := cputime.New(b)
	b.ReportAllocs()
	for b.Loop() {
		clock.Start()
		at := volume.Vec3{150, 150, 150}
		if err := e.BeginStroke(m, brush, at); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < 50; n++ {
			at[0] += step
			at[1] += step
			if err := e.StrokeTo(at); err != nil {
				b.Fatal(err)
			}
		}
		e.EndStroke()
		clock.Stop()

		b.StopTimer()
		e.Undo()
		b.StartTimer()
	}
	clock.Report()
}

// BenchmarkFillSlice512 measures a 4-connected flood fill on one 512×512 axial slice of
// 0.8 mm pixels: inside a closed ring of radius 100 pixels (about 31 000 pixels), and of
// a whole empty slice with no area limit (262 144 pixels). The undo is not timed.
func BenchmarkFillSlice512(b *testing.B) {
	cases := []struct {
		name string
		ring bool
	}{
		{"inside_ring", true},
		{"empty_slice", false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m := volume.NewMask(anisotropicGrid([3]int{512, 512, 3}))
			if c.ring {
				for y := 0; y < 512; y++ {
					for x := 0; x < 512; x++ {
						r := math.Hypot(float64(x-256), float64(y-256))
						if r >= 100 && r < 102 {
							m.Labels[m.Offset(x, y, 1)] = 1
						}
					}
				}
			}
			e, err := NewEditor(DefaultHistoryDepth)
			if err != nil {
				b.Fatal(err)
			}
			opt := FillOptions{SliceAxis: 2, Connectivity: Fill4, Label: 2, MaxAreaMM2: math.Inf(1)}

			clock := cputime.New(b)
			b.ReportAllocs()
			for b.Loop() {
				clock.Start()
				if _, err := e.Fill(m, [3]int{256, 256, 1}, opt); err != nil {
					b.Fatal(err)
				}
				clock.Stop()

				b.StopTimer()
				e.Undo()
				b.StartTimer()
			}
			clock.Report()
		})
	}
}
