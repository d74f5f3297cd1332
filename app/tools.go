package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"protrude/edit"
	"protrude/viewer"
	"protrude/volume"
)

// editTool is the action of a left click or drag in a view.
type editTool int

const (
	// toolNone leaves the left button to the cursor.
	toolNone editTool = iota
	toolBrush
	toolEraser
	toolFill
	toolDeleteComponent
)

// toolNames are the choices of the tool selector, in editTool order.
var toolNames = []string{"None", "Brush", "Eraser", "Fill", "Delete component"}

// Brush radius limits and the step of the [ and ] keys, in mm.
const (
	defaultBrushRadiusMM = 3.0
	minBrushRadiusMM     = 0.5
	maxBrushRadiusMM     = 30.0
	brushRadiusStepMM    = 0.5
)

// paintLabel is the label that the brush and fill write. Every overlay layer draws any
// non-zero label in its one colour.
const paintLabel = 1

// editTools is the editing state of the window: the tool, the active layer, the brush
// setting, the undo history and their side-panel widgets.
type editTools struct {
	editor *edit.Editor
	tool   editTool
	// activeLayer is the index in viewerUI.layers of the layer that the tools change.
	activeLayer int
	// stepBefore is the last undo step when the current edit began, to find the step
	// that the edit adds.
	stepBefore *edit.Step
	radiusMM   float64
	// sphere selects a 3D sphere brush instead of a disc in the view's slice.
	sphere bool

	toolSel     *widget.Select
	layerSel    *widget.Select
	radiusLabel *widget.Label
	radiusSel   *widget.Slider
	sphereCheck *widget.Check

	editMenu *fyne.Menu
	undoItem *fyne.MenuItem
	redoItem *fyne.MenuItem
}

// newEditTools builds the tool widgets. The tumor layer is active at first.
func (ui *viewerUI) newEditTools() {
	editor, err := edit.NewEditor(edit.DefaultHistoryDepth)
	if err != nil {
		panic(err) // DefaultHistoryDepth is valid, so this is a programming error.
	}
	t := &editTools{editor: editor, activeLayer: 2, radiusMM: defaultBrushRadiusMM}
	ui.tools = t

	t.toolSel = widget.NewSelect(toolNames, func(name string) {
		for n, s := range toolNames {
			if s == name {
				ui.setTool(editTool(n))
			}
		}
		ui.keysToViews()
	})
	t.layerSel = widget.NewSelect(ui.layerNames(), func(name string) {
		for n, s := range ui.layerNames() {
			if s == name {
				ui.setActiveLayer(n)
			}
		}
		ui.keysToViews()
	})
	t.radiusLabel = widget.NewLabel("")
	t.radiusSel = widget.NewSlider(minBrushRadiusMM, maxBrushRadiusMM)
	t.radiusSel.Step = brushRadiusStepMM
	t.radiusSel.OnChanged = func(v float64) { ui.setBrushRadius(v); ui.keysToViews() }
	t.sphereCheck = widget.NewCheck("3D sphere (S)", func(on bool) { ui.setBrushSphere(on); ui.keysToViews() })

	t.undoItem = fyne.NewMenuItem("Undo", ui.undo)
	t.redoItem = fyne.NewMenuItem("Redo", ui.redo)
	t.editMenu = fyne.NewMenu("Edit", t.undoItem, t.redoItem)

	t.toolSel.SetSelected(toolNames[toolNone])
	t.layerSel.SetSelected(ui.layerNames()[t.activeLayer])
	t.radiusSel.SetValue(defaultBrushRadiusMM)
	ui.setBrushRadius(defaultBrushRadiusMM)
	ui.views.SetOnPointer(ui.pointer)
	ui.updateHistoryItems()
}

// editPanel returns the side-panel section of the tools.
func (ui *viewerUI) editPanel() fyne.CanvasObject {
	t := ui.tools
	return container.NewVBox(
		widget.NewLabelWithStyle("Edit", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, widget.NewLabel("Tool"), nil, t.toolSel),
		container.NewBorder(nil, nil, widget.NewLabel("Layer"), nil, t.layerSel),
		container.NewBorder(nil, nil, t.radiusLabel, nil, t.radiusSel),
		t.sphereCheck,
	)
}

// registerEditShortcuts adds Ctrl+Z, Ctrl+Y and Ctrl+Shift+Z to the window's canvas.
// The desktop driver delivers Ctrl+Z and Ctrl+Y as fyne.ShortcutUndo and
// fyne.ShortcutRedo, not as custom shortcuts; Ctrl+Shift+Z comes as a custom one.
func (ui *viewerUI) registerEditShortcuts() {
	c := ui.win.Canvas()
	c.AddShortcut(&fyne.ShortcutUndo{}, func(fyne.Shortcut) { ui.undo() })
	c.AddShortcut(&fyne.ShortcutRedo{}, func(fyne.Shortcut) { ui.redo() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyZ, Modifier: fyne.KeyModifierControl | fyne.KeyModifierShift}, func(fyne.Shortcut) { ui.redo() })
}

func (ui *viewerUI) layerNames() []string {
	names := make([]string, len(ui.layers))
	for n, l := range ui.layers {
		names[n] = fmt.Sprintf("%d  %s", n+1, l.Name)
	}
	return names
}

func (ui *viewerUI) setTool(tool editTool) {
	ui.tools.editor.EndStroke()
	ui.tools.tool = tool
	if ui.tools.toolSel.Selected != toolNames[tool] {
		ui.tools.toolSel.SetSelected(toolNames[tool])
	}
}

func (ui *viewerUI) setActiveLayer(n int) {
	if n < 0 || n >= len(ui.layers) {
		return
	}
	ui.tools.editor.EndStroke()
	ui.tools.activeLayer = n
	if name := ui.layerNames()[n]; ui.tools.layerSel.Selected != name {
		ui.tools.layerSel.SetSelected(name)
	}
}

// setBrushRadius sets the brush radius, clamped to its limits.
func (ui *viewerUI) setBrushRadius(radiusMM float64) {
	t := ui.tools
	t.radiusMM = min(max(radiusMM, minBrushRadiusMM), maxBrushRadiusMM)
	t.radiusLabel.SetText(fmt.Sprintf("Radius %.1f mm", t.radiusMM))
	if t.radiusSel.Value != t.radiusMM {
		t.radiusSel.SetValue(t.radiusMM)
	}
}

func (ui *viewerUI) setBrushSphere(on bool) {
	ui.tools.sphere = on
	if ui.tools.sphereCheck.Checked != on {
		ui.tools.sphereCheck.SetChecked(on)
	}
}

// toolKey handles the tool keys and reports whether ev was one of them.
//
//	B, E, F, D, N  brush, eraser, fill, delete component, no tool
//	S              switch the brush between a disc in the view's slice and a sphere
//	[, ]           shrink or grow the brush radius by brushRadiusStepMM
func (ui *viewerUI) toolKey(ev *fyne.KeyEvent) bool {
	switch ev.Name {
	case fyne.KeyB:
		ui.setTool(toolBrush)
	case fyne.KeyE:
		ui.setTool(toolEraser)
	case fyne.KeyF:
		ui.setTool(toolFill)
	case fyne.KeyD:
		ui.setTool(toolDeleteComponent)
	case fyne.KeyN:
		ui.setTool(toolNone)
	case fyne.KeyS:
		ui.setBrushSphere(!ui.tools.sphere)
	case fyne.KeyLeftBracket:
		ui.setBrushRadius(ui.tools.radiusMM - brushRadiusStepMM)
	case fyne.KeyRightBracket:
		ui.setBrushRadius(ui.tools.radiusMM + brushRadiusStepMM)
	default:
		return false
	}
	return true
}

// viewSliceAxis returns the index axis that the slices of view o run along, which the
// disc brush and the fill hold fixed.
func (ui *viewerUI) viewSliceAxis(o viewer.Orientation) int {
	f := ui.views.View(o).Frame()
	for a := 0; a < 3; a++ {
		var step [3]int
		step[a] = 1
		if f.SliceOfIndex(step) != f.SliceOfIndex([3]int{}) {
			return a
		}
	}
	return 2
}

// activeMask returns the mask of the active layer. A layer without a mask, such as
// before a run, gets an empty one on the CT grid.
func (ui *viewerUI) activeMask() *volume.Mask {
	l := ui.layers[ui.tools.activeLayer]
	if l.Mask == nil {
		l.Mask = volume.NewMask(ui.study.CT.Grid)
		ui.views.SetLayers(ui.layers)
	}
	return l.Mask
}

// pointer is the views' OnPointer callback. A Ctrl-click makes the topmost visible layer
// under the pointer active. Otherwise the selected tool takes left presses and drags,
// and with no tool it returns false, so the press moves the cursor.
func (ui *viewerUI) pointer(ev viewer.PointerEvent) bool {
	if ui.study == nil {
		return false
	}
	t := ui.tools
	if ev.Kind == viewer.PointerDown && ev.Modifier&fyne.KeyModifierControl != 0 {
		if ev.Inside {
			if n := edit.TopmostLayerAt(ui.layers, ui.study.CT.Offset(ev.Index[0], ev.Index[1], ev.Index[2])); n >= 0 {
				ui.setActiveLayer(n)
			}
		}
		return true
	}
	if t.tool == toolNone || ev.Kind == viewer.PointerMove {
		return false
	}
	// A run or re-run replaces the layers when it ends, so edits made meanwhile
	// would be lost or mixed with its output.
	if ui.cancelRun != nil {
		if ev.Kind == viewer.PointerDown {
			ui.showStageMessage("Editing waits for the networks: wait for the run to finish, or Cancel it")
		}
		return true
	}
	at := volume.Vec3{float64(ev.Index[0]), float64(ev.Index[1]), float64(ev.Index[2])}

	var err error
	switch ev.Kind {
	case viewer.PointerDown:
		if !ev.Inside {
			return true
		}
		t.stepBefore = ui.lastStep()
		switch t.tool {
		case toolBrush, toolEraser:
			b := edit.Brush{RadiusMM: t.radiusMM, Shape: edit.Disc, SliceAxis: ui.viewSliceAxis(ev.View), Label: paintLabel}
			if t.sphere {
				b.Shape = edit.Sphere
			}
			if t.tool == toolEraser {
				b.Label = 0
			}
			err = t.editor.BeginStroke(ui.activeMask(), b, at)
		case toolFill:
			_, err = t.editor.Fill(ui.activeMask(), ev.Index, edit.FillOptions{
				SliceAxis: ui.viewSliceAxis(ev.View), Connectivity: edit.Fill4, Label: paintLabel})
			if errors.Is(err, edit.ErrFillTooLarge) {
				err = fmt.Errorf("the region around the clicked voxel is larger than %.0f cm² in this slice, so it was not filled. "+
					"Close its outline with the brush first, or paint it with a larger brush", float64(edit.DefaultFillMaxAreaMM2)/100)
			}
			ui.nameLastStep(t.stepBefore)
			ui.afterEdit()
		case toolDeleteComponent:
			_, err = t.editor.DeleteComponent(ui.activeMask(), ev.Index)
			if errors.Is(err, edit.ErrNoComponent) {
				ui.stageLabel.SetText("Delete component: click a labelled voxel of the active layer")
				err = nil
			}
			ui.nameLastStep(t.stepBefore)
			ui.afterEdit()
		}
	case viewer.PointerDrag:
		if t.editor.StrokeInProgress() {
			err = t.editor.StrokeTo(at)
		}
	case viewer.PointerUp:
		if t.editor.StrokeInProgress() {
			err = t.editor.StrokeTo(at)
			t.editor.EndStroke()
			ui.nameLastStep(t.stepBefore)
			ui.afterEdit()
		}
	}
	if err != nil {
		if t.editor.StrokeInProgress() {
			t.editor.CancelStroke()
		}
		ui.showError(toolNames[t.tool], err)
	}
	ui.views.Refresh()
	return true
}

// lastStep returns the step that Undo reverts next, or nil.
func (ui *viewerUI) lastStep() *edit.Step {
	steps := ui.tools.editor.History.Steps()
	if len(steps) == 0 {
		return nil
	}
	return steps[len(steps)-1]
}

// nameLastStep puts the active layer's name before the label of the step that an
// edit tool has just added, such as "Tumor: Brush radius 3 mm", so that the Edit menu
// names the layer that Undo changes. before is the last step before the edit; when it is
// still the last, the edit added none.
func (ui *viewerUI) nameLastStep(before *edit.Step) {
	last := ui.lastStep()
	if last == nil || last == before {
		return
	}
	label := ui.layers[ui.tools.activeLayer].Name + ": " + last.Label
	ui.tools.editor.History.RelabelLast(label)
	// The stage label then names the latest edit rather than an older message.
	ui.stageLabel.SetText("Edited " + label)
}

// showStageMessage shows text in the stage label and keeps it there for 4 seconds
// against the progress reports of a run.
func (ui *viewerUI) showStageMessage(text string) {
	ui.stageLabel.SetText(text)
	ui.holdStageUntil = time.Now().Add(4 * time.Second)
}

// afterEdit brings the Edit menu and the lesion list up to date after a step was
// added, undone or redone.
func (ui *viewerUI) afterEdit() {
	ui.progress.Refresh() // its text states whether the layers come from a run
	ui.updateHistoryItems()
	ui.refreshLesions()
	ui.views.Refresh()
	ui.markSessionChanged()
}

func (ui *viewerUI) undo() {
	if ui.cancelRun != nil {
		ui.showStageMessage("Undo waits for the networks: wait for the run to finish, or Cancel it")
		return
	}
	if label, ok := ui.tools.editor.Undo(); ok {
		ui.stageLabel.SetText("Undone: " + label)
		slog.Info("undo", "step", label)
	}
	ui.afterEdit()
}

func (ui *viewerUI) redo() {
	if ui.cancelRun != nil {
		ui.showStageMessage("Redo waits for the networks: wait for the run to finish, or Cancel it")
		return
	}
	if label, ok := ui.tools.editor.Redo(); ok {
		ui.stageLabel.SetText("Redone: " + label)
		slog.Info("redo", "step", label)
	}
	ui.afterEdit()
}

// updateHistoryItems names the next undo and redo steps in the Edit menu and disables
// an item with nothing to do.
func (ui *viewerUI) updateHistoryItems() {
	t := ui.tools
	h := t.editor.History
	t.undoItem.Label, t.undoItem.Disabled = "Undo (Ctrl+Z)", true
	if l := h.UndoLabels(); len(l) > 0 {
		t.undoItem.Label, t.undoItem.Disabled = "Undo "+l[len(l)-1]+" (Ctrl+Z)", false
	}
	t.redoItem.Label, t.redoItem.Disabled = "Redo (Ctrl+Y)", true
	if l := h.RedoLabels(); len(l) > 0 {
		t.redoItem.Label, t.redoItem.Disabled = "Redo "+l[len(l)-1]+" (Ctrl+Y)", false
	}
	t.editMenu.Refresh()
}

// resetEdits drops the history, because undo steps point at the masks of a scan or a
// run that the layers no longer show.
func (ui *viewerUI) resetEdits() {
	ui.tools.editor.EndStroke()
	ui.tools.editor.History.Clear()
	ui.updateHistoryItems()
}
