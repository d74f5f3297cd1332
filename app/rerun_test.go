package main

import (
	"context"
	"slices"
	"testing"

	"fyne.io/fyne/v2/test"

	"protrude/internal/demotest"
)

func TestMergeManualEdits(t *testing.T) {
	cases := []struct {
		name                       string
		output, reference, current []uint8
		want                       []uint8
	}{
		{"no manual edit takes the output", []uint8{1, 0, 1}, []uint8{0, 0, 1}, []uint8{0, 0, 1}, []uint8{1, 0, 1}},
		{"manual addition is kept", []uint8{0, 0}, []uint8{0, 0}, []uint8{1, 0}, []uint8{1, 0}},
		{"manual erasure is kept", []uint8{1, 1}, []uint8{1, 1}, []uint8{0, 1}, []uint8{0, 1}},
		{"label value alone is no edit", []uint8{0, 1}, []uint8{1, 1}, []uint8{2, 1}, []uint8{0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mergeManualEdits(c.output, c.reference, c.current)
			if !slices.Equal(got, c.want) {
				t.Errorf("mergeManualEdits(%v, %v, %v) = %v, want %v", c.output, c.reference, c.current, got, c.want)
			}
			if &got[0] == &c.output[0] {
				t.Error("mergeManualEdits returned the output slice itself, want a copy")
			}
		})
	}
}

// The Re-run path of the window with the shipped networks: a kidney edit re-runs
// protuberance and fusion, each changed layer becomes one undo step, kept tumor edits
// survive, and a replacing re-run drops them.
func TestRerunKeepsOrReplacesTumorEdits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the shipped networks; skipped with -short")
	}
	if _, err := findORTLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not found; run make ort: %v", err)
	}
	a := test.NewApp()
	t.Cleanup(a.Quit)
	ui := newViewerUI(a, modelFlags{device: "cpu"})
	t.Cleanup(ui.shutdown)
	st := &study{Path: "demo tumor cube", CT: demotest.TumorCube(t)}
	ui.showStudy(st)
	if ui.last != nil || !ui.rerunButton.Disabled() {
		t.Fatal("Re-run is enabled before the first run")
	}

	res, err := ui.runPipeline(context.Background(), st)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	ui.showResult(res, nil)
	if ui.rerunButton.Disabled() {
		t.Error("Re-run is disabled after a run")
	}
	kidney := ui.layers[kidneyLayer].Mask
	tumor := ui.layers[tumorLayer].Mask
	if countNonZero(kidney.Labels) == 0 {
		t.Fatal("the shipped base network found no kidney in the demo cube, so there is nothing to edit")
	}

	// Manual edits: erase the kidney in the lower half of the cube, add a 3-voxel
	// tumor line and erase one labelled tumor voxel, or add a second line when the
	// run found no tumor.
	erasedKidney := slices.Clone(kidney.Labels)
	size := kidney.Size
	for n := range erasedKidney {
		if n/(size[0]*size[1]) < size[2]/2 {
			erasedKidney[n] = 0
		}
	}
	if _, err := ui.tools.editor.Replace("Erase kidney", kidney, erasedKidney); err != nil {
		t.Fatal(err)
	}
	edited := slices.Clone(tumor.Labels)
	added := []int{tumor.Offset(5, 5, 5), tumor.Offset(6, 5, 5), tumor.Offset(7, 5, 5)}
	for _, n := range added {
		edited[n] = 1
	}
	erased := slices.Index(tumor.Labels, 1)
	if erased >= 0 && !slices.Contains(added, erased) {
		edited[erased] = 0
	}
	if _, err := ui.tools.editor.Replace("Edit tumor", tumor, edited); err != nil {
		t.Fatal(err)
	}

	plan, tumorEdited := ui.planRerun()
	if plan.input.Kidney == nil || plan.input.Protrusion != nil || !tumorEdited {
		t.Fatalf("plan: kidney edit %t, protrusion edit %t, tumor edited %t; want true, false, true",
			plan.input.Kidney != nil, plan.input.Protrusion != nil, tumorEdited)
	}
	before := ui.last
	beforeTumor := slices.Clone(tumor.Labels)
	rerun, err := ui.pipeline.Rerun(context.Background(), before.result, plan.input, nil)
	if err != nil {
		t.Fatalf("Rerun: %v", err)
	}
	if rerun.Patches.Base != 0 || rerun.Patches.Protuberance == 0 {
		t.Errorf("re-run patches %+v, want protuberance and no base", rerun.Patches)
	}
	t.Logf("re-run after a kidney edit: %+v", rerun.Durations)

	t.Run("keep", func(t *testing.T) {
		steps := len(ui.tools.editor.History.UndoLabels())
		plan.keepTumor = true
		ui.applyRerun(plan, rerun)

		for _, n := range added {
			if tumor.Labels[n] == 0 {
				t.Errorf("manually added tumor voxel %d was lost", n)
			}
		}
		if erased >= 0 && tumor.Labels[erased] != 0 {
			t.Errorf("manually erased tumor voxel %d came back", erased)
		}
		mismatch := 0
		for n, l := range tumor.Labels {
			manual := slices.Contains(added, n) || n == erased
			if !manual && l != rerun.Tumor.Labels[n] {
				mismatch++
			}
		}
		if mismatch > 0 {
			t.Errorf("%d tumor voxels that were not edited by hand differ from the new fusion output", mismatch)
		}
		if !slices.Equal(kidney.Labels, erasedKidney) {
			t.Error("the re-run changed the edited kidney layer")
		}

		// One step per changed layer, each undone on its own.
		labels := ui.tools.editor.History.UndoLabels()[steps:]
		for _, l := range labels {
			if l != "Re-run: protruded region" && l != "Re-run: tumor" {
				t.Errorf("undo step %q, want only re-run steps", l)
			}
		}
		if len(labels) == 0 {
			t.Fatal("the re-run added no undo step")
		}
		for range labels {
			ui.undo()
		}
		if !slices.Equal(tumor.Labels, beforeTumor) {
			t.Error("undoing the re-run did not restore the edited tumor layer")
		}
	})

	t.Run("replace", func(t *testing.T) {
		ui.last = before
		plan.keepTumor = false
		ui.applyRerun(plan, rerun)
		if !slices.Equal(tumor.Labels, rerun.Tumor.Labels) {
			t.Error("the tumor layer is not the new fusion output after a replacing re-run")
		}
		// The layers now match the new last run, so there is nothing to re-run.
		if plan, tumorEdited := ui.planRerun(); plan.input.Kidney != nil || plan.input.Protrusion != nil || tumorEdited {
			t.Errorf("after the re-run: kidney edit %t, protrusion edit %t, tumor edited %t; want none",
				plan.input.Kidney != nil, plan.input.Protrusion != nil, tumorEdited)
		}
	})
}

func countNonZero(labels []uint8) int {
	n := 0
	for _, l := range labels {
		if l != 0 {
			n++
		}
	}
	return n
}
