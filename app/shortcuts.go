package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// shortcut is one row of Help > Keyboard shortcuts. README.md lists the same rows.
type shortcut struct {
	input, action string
}

// shortcuts lists every mouse and key input of the viewer window: the view inputs of
// viewer.SliceView and typedKey, then the tool keys of toolKey, the undo shortcuts and
// the re-run, save and export shortcuts.
var shortcuts = []shortcut{
	{"Wheel", "next or previous slice of the view under the pointer"},
	{"Ctrl+wheel", "zoom about the pointer"},
	{"Middle drag, Shift+left drag", "pan"},
	{"Right drag", "window: horizontal changes the width, vertical the level"},
	{"Double click, M", "maximize the view, or show all three again (also the Layout selector)"},
	{"Escape", "show all three views"},
	{"R", "reset zoom and pan"},
	{"Up/Down, Page Up/Page Down", "one slice, ten slices"},
	{"Home/End", "first and last slice"},
	{"1, 2, 3, 4", "show or hide the kidney, protruded region, tumor and base-network tumor layers"},
	{"O", "draw every layer as an outline, or fill them all again"},
	{"Left click or drag", "with no tool: move the cursor; with a tool: brush, erase, fill or delete a component on the active layer"},
	{"Ctrl+left click", "make the topmost visible layer under the pointer the active layer"},
	{"B, E, F, D", "brush, eraser, fill, delete component tool"},
	{"N", "no tool: the left button moves the cursor"},
	{"[ and ]", "shrink or grow the brush radius by 0.5 mm (0.5 to 30 mm)"},
	{"S", "switch the brush between a 2D disc in the view's slice and a 3D sphere"},
	{"Ctrl+Z", "undo the last edit"},
	{"Ctrl+Y, Ctrl+Shift+Z", "redo the last undone edit"},
	{"Ctrl+R", "re-run the later networks after an edit: protuberance and fusion after a kidney edit, fusion after a protruded-region edit"},
	{"Ctrl+S", "save the session into its folder (masks, lesion review, view state); File > Save session as… picks another"},
	{"Ctrl+E", "export the masks as NIfTI files, a DICOM SEG or both"},
}

func (ui *viewerUI) showShortcuts() {
	grid := container.NewGridWithColumns(2)
	for _, s := range shortcuts {
		grid.Add(widget.NewLabelWithStyle(s.input, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		action := widget.NewLabel(s.action)
		action.Wrapping = fyne.TextWrapWord
		grid.Add(action)
	}
	d := dialog.NewCustom("Keyboard shortcuts", "Close", container.NewVScroll(grid), ui.win)
	d.Resize(fyne.NewSize(760, 620))
	d.Show()
}
