package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// findObjects returns the objects under o, depth first, that match keep.
func findObjects(t *testing.T, o fyne.CanvasObject, keep func(fyne.CanvasObject) bool) []fyne.CanvasObject {
	var found []fyne.CanvasObject
	if keep(o) {
		found = append(found, o)
	}
	switch c := o.(type) {
	case *fyne.Container:
		for _, child := range c.Objects {
			found = append(found, findObjects(t, child, keep)...)
		}
	case fyne.Widget:
		for _, child := range test.TempWidgetRenderer(t, c).Objects() {
			found = append(found, findObjects(t, child, keep)...)
		}
	}
	return found
}

// TestSeriesPickerOpensChosenStack opens a folder with two CT series in the viewer,
// chooses the second in the dialog and checks that it is the one loaded.
func TestSeriesPickerOpensChosenStack(t *testing.T) {
	requireSharedDICOM(t)
	// Two loadable series: the real NCCT series and CT_small, each in its own
	// subfolder so that no failed file sits beside them.
	dir := t.TempDir()
	copyFile := func(from, to string) {
		content, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(sharedDICOM, "real_ncct_series"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(filepath.Join(sharedDICOM, "real_ncct_series", e.Name()), filepath.Join(dir, "ncct", e.Name()))
	}
	copyFile(filepath.Join(sharedDICOM, "edge", "CT_small.dcm"), filepath.Join(dir, "small", "CT_small.dcm"))

	a := test.NewTempApp(t)
	ui := newViewerUI(a, modelFlags{})
	if err := ui.openPath(dir); err != nil {
		t.Fatal(err)
	}

	overlay := ui.win.Canvas().Overlays().Top()
	if overlay == nil {
		t.Fatal("no dialog is shown for a folder with two series")
	}
	radios := findObjects(t, overlay, func(o fyne.CanvasObject) bool { _, ok := o.(*widget.RadioGroup); return ok })
	if len(radios) != 1 {
		t.Fatalf("the dialog has %d radio groups, want 1", len(radios))
	}
	choice := radios[0].(*widget.RadioGroup)
	if len(choice.Options) != 2 || !strings.Contains(choice.Options[0], `"NCCT 3mm", CT, 112 images`) {
		t.Fatalf("options %q, want the 112-image NCCT series first", choice.Options)
	}
	choice.SetSelected(choice.Options[1])

	buttons := findObjects(t, overlay, func(o fyne.CanvasObject) bool { b, ok := o.(*widget.Button); return ok && b.Text == "Open" })
	if len(buttons) != 1 {
		t.Fatalf("found %d Open buttons, want 1", len(buttons))
	}
	test.Tap(buttons[0].(*widget.Button))

	deadline := time.Now().Add(10 * time.Second)
	for ui.study == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ui.study == nil {
		t.Fatal("no study was opened within 10 s of choosing a series")
	}
	if got := ui.study.CT.Size; got != [3]int{128, 128, 1} {
		t.Errorf("opened a %v volume, want CT_small's 128×128×1", got)
	}
	if ui.study.Series == nil || ui.study.Series.SeriesInstanceUID == "" || ui.study.Series.NumSlices != 1 {
		t.Errorf("series info %+v, want CT_small's one slice", ui.study.Series)
	}
}
