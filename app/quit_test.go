package main

import (
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// quitDialogButton returns the button of the quit dialog with the given text, or
// fails when no quit dialog is shown.
func quitDialogButton(t *testing.T, ui *viewerUI, text string) *widget.Button {
	t.Helper()
	overlay := ui.win.Canvas().Overlays().Top()
	if overlay == nil {
		t.Fatal("no dialog is shown")
	}
	titles := findObjects(t, overlay, func(o fyne.CanvasObject) bool {
		l, ok := o.(*widget.Label)
		return ok && l.Text == "Quit without saving?"
	})
	if len(titles) == 0 {
		t.Fatal("the dialog shown is not the quit dialog")
	}
	buttons := findObjects(t, overlay, func(o fyne.CanvasObject) bool {
		b, ok := o.(*widget.Button)
		return ok && b.Text == text
	})
	if len(buttons) != 1 {
		t.Fatalf("the quit dialog has %d buttons %q, want 1", len(buttons), text)
	}
	return buttons[0].(*widget.Button)
}

func windowOpen(ui *viewerUI) bool {
	for _, w := range ui.app.Driver().AllWindows() {
		if w == ui.win {
			return true
		}
	}
	return false
}

func TestQuitAsksAboutUnsavedEdits(t *testing.T) {
	dir := t.TempDir()
	ui := newSessionTestUI(t, writeTestScan(t, dir))
	paintStroke(t, ui, [3]int{2, 4, 3})

	ui.confirmQuit()
	test.Tap(quitDialogButton(t, ui, "Cancel"))
	if !windowOpen(ui) {
		t.Fatal("Cancel closed the window")
	}

	ui.saveSessionTo(filepath.Join(dir, "saved.protrude"))
	waitFor(t, "the session save", func() bool { return !ui.hasUnsavedChanges() })
	ui.confirmQuit()
	if windowOpen(ui) {
		t.Fatal("the window is still open after quitting with every change saved")
	}
}

func TestQuitWithoutSavingCloses(t *testing.T) {
	ui := newSessionTestUI(t, writeTestScan(t, t.TempDir()))
	if ui.hasUnsavedChanges() {
		t.Fatal("a scan that was just opened has unsaved changes")
	}
	paintStroke(t, ui, [3]int{2, 4, 3})
	ui.confirmQuit()
	test.Tap(quitDialogButton(t, ui, "Quit without saving"))
	if windowOpen(ui) {
		t.Fatal("the window is still open after Quit without saving")
	}
}
