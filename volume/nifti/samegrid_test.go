package nifti

import (
	"math"
	"testing"

	"protrude/metrics"
	"protrude/volume"
)

func TestCheckSameGridMatchesMetrics(t *testing.T) {
	if GridToleranceMM != metrics.GridToleranceMM {
		t.Errorf("GridToleranceMM is %g, but metrics.GridToleranceMM is %g", GridToleranceMM, metrics.GridToleranceMM)
	}
	base := writeGrids["oblique right-handed"]
	variants := map[string]func(g *volume.Grid){
		"same":                 func(g *volume.Grid) {},
		"origin 0.0009 mm off": func(g *volume.Grid) { g.OriginLPS[0] += 9e-4 },
		"origin 0.0011 mm off": func(g *volume.Grid) { g.OriginLPS[0] += 1.1e-3 },
		"spacing 1% larger":    func(g *volume.Grid) { g.SpacingMM[1] *= 1.01 },
		"one more slice":       func(g *volume.Grid) { g.Size[2]++ },
		"flipped axis":         func(g *volume.Grid) { g.AxesLPS[2] = volume.Vec3{0, 0, -1} },
		"NaN origin":           func(g *volume.Grid) { g.OriginLPS[1] = math.NaN() },
	}
	for name, change := range variants {
		other := base
		change(&other)
		got, want := volume.CheckSameGrid(base, other), metrics.CheckSameGrid(base, other)
		if (got == nil) != (want == nil) {
			t.Errorf("%s: volume.CheckSameGrid returned %v, but metrics.CheckSameGrid returned %v", name, got, want)
			continue
		}
		if got != nil && got.Error() != want.Error() {
			t.Errorf("%s: message %q, metrics.CheckSameGrid gives %q", name, got, want)
		}
	}
}
