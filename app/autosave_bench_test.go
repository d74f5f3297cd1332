package main

import (
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"protrude/internal/cputime"
	"protrude/overlays"
	"protrude/viewer"
	"protrude/volume"
)

// BenchmarkAutosaveAfterStroke measures one autosave after a brush stroke on a
// 512×512×300 grid of 0.8×0.8×2.5 mm voxels whose four layers all have masks.
// ns/op and cpu-ns/op count only the snapshot on the UI goroutine, which copies the
// edited mask. write-ns/op adds the background write of that mask and the session files.
func BenchmarkAutosaveAfterStroke(b *testing.B) {
	g := volume.Grid{Size: [3]int{512, 512, 300}, SpacingMM: volume.Vec3{0.8, 0.8, 2.5}, AxesLPS: volume.IdentityAxesLPS}
	a := test.NewApp()
	defer a.Quit()
	ui := newViewerUI(a, modelFlags{})
	ui.showStudy(&study{Path: "synthetic.nii.gz", CT: volume.NewVolume(g)})
	masks := map[string]*volume.Mask{}
	for _, name := range []string{overlays.KidneyName, overlays.ProtrusionName, overlays.TumorName, overlays.BaseTumorName} {
		m := volume.NewMask(g)
		for n := 0; n < len(m.Labels); n += 97 {
			m.Labels[n] = 1
		}
		masks[name] = m
	}
	ui.showMasks(masks, "synthetic")
	ui.enableAutosave(filepath.Join(b.TempDir(), "recovery"))
	ui.autosave.delay = time.Hour
	defer ui.closeAutosave()
	ui.autosaveNow()
	ui.autosave.wg.Wait()

	ui.setTool(toolBrush)
	ui.setBrushRadius(5)
	clock := cputime.New(b)
	var writeTotal time.Duration
	iterations := 0
	for n := 0; b.Loop(); n++ {
		b.StopTimer()
		at := [3]int{100 + n%300, 256, 150}
		ui.pointer(viewer.PointerEvent{Kind: viewer.PointerDown, View: viewer.Axial, Inside: true, Index: at})
		ui.pointer(viewer.PointerEvent{Kind: viewer.PointerUp, View: viewer.Axial, Inside: true, Index: at})
		b.StartTimer()

		clock.Start()
		start := time.Now()
		ui.autosaveNow()
		clock.Stop()
		b.StopTimer()
		ui.autosave.wg.Wait()
		writeTotal += time.Since(start)
		iterations++
		b.StartTimer()
	}
	clock.Report()
	b.ReportMetric(float64(writeTotal.Nanoseconds())/float64(iterations), "write-ns/op")
}
