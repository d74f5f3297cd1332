package main

import (
	"strings"
	"testing"

	"protrude/inference"
	"protrude/viewer"
	"protrude/volume"
)

// TestAskBeforeDiscardingEdits checks that Run, Open masks and opening another scan ask
// first when they would discard hand edits, and that they go ahead at once when there
// is nothing to lose.
func TestAskBeforeDiscardingEdits(t *testing.T) {
	ui := newEditTestUI(t)
	ran := 0
	run := ui.askBeforeDiscarding("Running the networks again", ui.unsavedWork, func() { ran++ })
	open := ui.askToOpen(func() { ran++ })
	overlays := func() int { return len(ui.win.Canvas().Overlays().List()) }

	run()
	open()
	if ran != 2 || overlays() != 0 {
		t.Fatalf("with nothing to lose: %d actions ran and %d dialogs opened, want 2 and 0", ran, overlays())
	}

	// A run's own output is not lost by a new run, but opening another scan loses it.
	g := ui.study.CT.Grid
	ui.showResult(&inference.Result{Kidney: volume.NewMask(g), Protrusion: volume.NewMask(g), Tumor: volume.NewMask(g), BaseTumor: volume.NewMask(g)}, nil)
	ran = 0
	run()
	if ran != 1 || overlays() != 0 {
		t.Errorf("after a run: Run again ran %d times with %d dialogs, want 1 and 0", ran, overlays())
	}
	open()
	if ran != 1 || overlays() != 1 {
		t.Errorf("after a run: opening another scan ran %d actions with %d dialogs, want 1 and 1", ran, overlays())
	}
	ui.win.Canvas().Overlays().Remove(ui.win.Canvas().Overlays().Top())

	// A hand edit makes Run ask too.
	paintStroke(t, ui, [3]int{4, 4, 2})
	run()
	if ran != 1 || overlays() != 1 {
		t.Errorf("after an edit: Run ran %d actions with %d dialogs, want 1 and 1", ran, overlays())
	}
}

// TestEditsWaitForRunningNetworks checks that a brush stroke and an undo made while
// the networks run change nothing and show why, because the run's output would
// replace or mix with them.
func TestEditsWaitForRunningNetworks(t *testing.T) {
	ui := newEditTestUI(t)
	paintStroke(t, ui, [3]int{4, 4, 2})
	first := labelledVoxels(ui.layers[tumorLayer].Mask)
	ui.cancelRun = func() {}
	paintStroke(t, ui, [3]int{8, 6, 2})
	checkVoxels(t, "stroke during a run", ui.layers[tumorLayer].Mask, first)
	if !strings.Contains(ui.stageLabel.Text, "wait for the run to finish") {
		t.Errorf("status %q does not say that editing waits for the run", ui.stageLabel.Text)
	}
	ui.undo()
	checkVoxels(t, "undo during a run", ui.layers[tumorLayer].Mask, first)
	ui.cancelRun = nil
	ui.undo()
	checkVoxels(t, "undo after the run", ui.layers[tumorLayer].Mask, voxelSet())
}

// TestUndoStepNamesLayer checks that the Edit menu names the layer that Undo changes.
func TestUndoStepNamesLayer(t *testing.T) {
	ui := newEditTestUI(t)
	paintStroke(t, ui, [3]int{4, 4, 2})
	labels := ui.tools.editor.History.UndoLabels()
	if len(labels) != 1 || !strings.HasPrefix(labels[0], "Tumor: Brush") {
		t.Errorf("undo labels %q, want one that starts with \"Tumor: Brush\"", labels)
	}
	if !strings.HasPrefix(ui.tools.undoItem.Label, "Undo Tumor: Brush") {
		t.Errorf("Edit menu item %q, want one that starts with \"Undo Tumor: Brush\"", ui.tools.undoItem.Label)
	}
	ui.setActiveLayer(kidneyLayer)
	ui.setTool(toolDeleteComponent)
	sendPointer(t, ui, viewer.PointerDown, [3]int{4, 4, 2}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{4, 4, 2}, 0)
	if labels := ui.tools.editor.History.UndoLabels(); len(labels) != 1 {
		t.Errorf("deleting nothing on the kidney layer added a step: %q", labels)
	}
}

// TestProgressTextForOpenedMasks checks that the progress bar does not read "Not run"
// alone while the layers show masks that a run did not make here.
func TestProgressTextForOpenedMasks(t *testing.T) {
	ui := newEditTestUI(t)
	if got := ui.progress.TextFormatter(); got != "Not run" {
		t.Errorf("progress text %q on a new scan, want \"Not run\"", got)
	}
	paintStroke(t, ui, [3]int{4, 4, 2})
	if got := ui.progress.TextFormatter(); !strings.Contains(got, "files or painting") {
		t.Errorf("progress text %q after painting, want one that names files or painting", got)
	}
}
