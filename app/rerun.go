package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"protrude/inference"
	"protrude/volume"
)

// Indices in viewerUI.layers of the kidney, protruded-region and base-network tumor
// layers, in the order of defaultViewerLayers. tumorLayer is between them.
const (
	kidneyLayer     = 0
	protrusionLayer = 1
	baseTumorLayer  = 3
)

// lastRun is the output of the last run or re-run, which "Re-run later stages" starts
// from.
type lastRun struct {
	// result holds the cached canonical-grid volumes that inference.Pipeline.Rerun reads.
	result *inference.Result
	// kidney, protrusion and tumor are the labels of those layers as the run left them,
	// on the CT grid. A layer whose labels differ now was edited by hand. tumor is the
	// fusion network's own output, without manual edits, so that edits kept through a
	// re-run are still recognised as manual in the next one.
	kidney, protrusion, tumor []uint8
	// network holds, by layer index, the labels as a network made them, without
	// manual edits, or nil. A layer that equals its entry is the network's output; a
	// DICOM SEG marks the others as SEMIAUTOMATIC.
	network [4][]uint8
}

// newLastRun records res and the layers' labels after a run.
func newLastRun(res *inference.Result, kidney, protrusion, tumor *volume.Mask) *lastRun {
	l := &lastRun{
		result:     res,
		kidney:     slices.Clone(kidney.Labels),
		protrusion: slices.Clone(protrusion.Labels),
		tumor:      slices.Clone(tumor.Labels),
	}
	// The three slices are never changed in place, so they can be shared.
	l.network = [4][]uint8{l.kidney, l.protrusion, l.tumor, nil}
	if res != nil && res.BaseTumor != nil {
		l.network[baseTumorLayer] = slices.Clone(res.BaseTumor.Labels)
	}
	return l
}

// rerunPlan is the work of one re-run: the network inputs that changed, copied when
// the re-run starts so that edits made while it runs do not race with it, and whether
// the manual tumor edits are kept.
type rerunPlan struct {
	input     inference.RerunInput
	keepTumor bool
}

// stages names the networks the plan runs, for the status line and the log.
func (p rerunPlan) stages() string {
	if p.input.Kidney != nil {
		return "protuberance and fusion networks"
	}
	return "fusion network"
}

// labelsDiffer reports whether a voxel is labelled in one of a and b and not in the
// other. Both have the same length.
func labelsDiffer(a, b []uint8) bool {
	for n := range a {
		if (a[n] != 0) != (b[n] != 0) {
			return true
		}
	}
	return false
}

// mergeManualEdits returns output with the manual edits of a layer laid over it. A
// voxel labelled in only one of current and reference was added or erased by hand
// since the run that produced reference, so current's label is kept there. Everywhere
// else the new output's label is taken. The three slices have one label per voxel of
// the same grid.
func mergeManualEdits(output, reference, current []uint8) []uint8 {
	merged := slices.Clone(output)
	for n := range merged {
		if (current[n] != 0) != (reference[n] != 0) {
			merged[n] = current[n]
		}
	}
	return merged
}

// editedLayers returns the layers among kidney, protruded region and tumor whose
// labels differ from what the last run left.
func (ui *viewerUI) editedLayers() (kidney, protrusion, tumor bool) {
	last := ui.last
	edited := func(layer int, reference []uint8) bool {
		m := ui.layers[layer].Mask
		return m != nil && len(m.Labels) == len(reference) && labelsDiffer(m.Labels, reference)
	}
	return edited(kidneyLayer, last.kidney), edited(protrusionLayer, last.protrusion), edited(tumorLayer, last.tumor)
}

// startRerun runs the networks after the edited layer again: protuberance and fusion
// after a kidney edit, fusion after a protruded-region edit. When the tumor layer has
// manual edits, a dialog first offers to keep them. It is called on the UI goroutine.
func (ui *viewerUI) startRerun() {
	if ui.study == nil || ui.cancelRun != nil {
		return
	}
	if ui.last == nil {
		dialog.ShowInformation("Re-run later stages", "Run the networks first: a re-run starts from the output of a run.", ui.win)
		return
	}
	ui.tools.editor.EndStroke()
	plan, tumorEdited := ui.planRerun()
	if plan.input.Kidney == nil && plan.input.Protrusion == nil {
		text := "Nothing to re-run: neither the kidney nor the protruded-region layer was edited since the last run."
		if tumorEdited {
			text += "\nTumor edits are final: no network reads the tumor layer."
		}
		dialog.ShowInformation("Re-run later stages", text, ui.win)
		return
	}
	if !tumorEdited {
		ui.launchRerun(plan)
		return
	}
	ui.askKeepTumorEdits(func(keep bool) {
		plan.keepTumor = keep
		ui.launchRerun(plan)
	})
}

// planRerun compares the layers with the last run. It returns the re-run's input and
// whether the tumor layer has manual edits. The edited masks are copied, so that edits
// made while the re-run runs do not reach it.
func (ui *viewerUI) planRerun() (plan rerunPlan, tumorEdited bool) {
	kidney, protrusion, tumor := ui.editedLayers()
	if kidney {
		plan.input.Kidney = ui.maskEdit(kidneyLayer, ui.last.kidney)
	}
	if protrusion {
		plan.input.Protrusion = ui.maskEdit(protrusionLayer, ui.last.protrusion)
	}
	return plan, tumor
}

// maskEdit returns the edit of a layer since the last run: its labels then, and a copy
// of its labels now.
func (ui *viewerUI) maskEdit(layer int, reference []uint8) *inference.MaskEdit {
	m := ui.layers[layer].Mask
	return &inference.MaskEdit{
		Before: &volume.Mask{Grid: m.Grid, Labels: slices.Clone(reference)},
		After:  &volume.Mask{Grid: m.Grid, Labels: slices.Clone(m.Labels)},
	}
}

// askKeepTumorEdits shows a dialog that offers to keep the manual tumor edits through
// the re-run, and calls choose with the choice unless the user cancels.
func (ui *viewerUI) askKeepTumorEdits(choose func(keep bool)) {
	text := widget.NewLabel("The tumor layer has manual edits since the last run.\n\n" +
		"Keep my edits: the new fusion output is used, except that the voxels you added\n" +
		"stay tumor and the voxels you erased stay background.\n" +
		"Replace: the new fusion output replaces the tumor layer. Undo brings your edits back.")
	var d *dialog.CustomDialog
	keep := widget.NewButton("Keep my edits", func() { d.Hide(); choose(true) })
	keep.Importance = widget.HighImportance
	replace := widget.NewButton("Replace with the new output", func() { d.Hide(); choose(false) })
	cancel := widget.NewButton("Cancel", func() { d.Hide() })
	d = dialog.NewCustomWithoutButtons("Keep your tumor edits?", container.NewVBox(text), ui.win)
	d.SetButtons([]fyne.CanvasObject{cancel, replace, keep})
	d.Show()
}

// launchRerun runs plan in the background, with the progress bar and Cancel of Run.
func (ui *viewerUI) launchRerun(plan rerunPlan) {
	if ui.study == nil || ui.cancelRun != nil || ui.last == nil {
		return
	}
	prev := ui.last.result
	start := time.Now()
	slog.Info("re-run started", "networks", plan.stages())
	ui.runInBackground("Re-run", func(ctx context.Context) (*inference.Result, error) {
		return ui.pipeline.Rerun(ctx, prev, plan.input, ui.reportProgress)
	}, func(res *inference.Result) {
		d := res.Durations
		slog.Info("re-run finished", "networks", plan.stages(), "duration", time.Since(start).Round(time.Millisecond),
			"blend", d.Resample.Round(time.Millisecond), "base", d.Base.Round(time.Millisecond),
			"protuberance", d.Protuberance.Round(time.Millisecond), "fusion", d.Fusion.Round(time.Millisecond),
			"resample_back", d.ResampleBack.Round(time.Millisecond), "patches", fmt.Sprintf("%+v", res.Patches))
		ui.applyRerun(plan, res)
	})
}

// applyRerun writes the re-run's output into the layers, one undo step per layer that
// changes, and records it as the last run. The kidney layer keeps the user's edit. The
// protruded-region layer gets the new protuberance output, with the manual edits that
// fusion has just read laid over it, and only when the protuberance network ran. The
// tumor layer gets the fusion output, with the manual edits laid over it when
// plan.keepTumor is set.
func (ui *viewerUI) applyRerun(plan rerunPlan, res *inference.Result) {
	last := ui.last
	next := &lastRun{result: res, kidney: last.kidney, protrusion: last.protrusion, tumor: slices.Clone(res.Tumor.Labels), network: last.network}
	next.network[tumorLayer] = next.tumor
	if plan.input.Kidney != nil {
		next.kidney = plan.input.Kidney.After.Labels
		next.network[protrusionLayer] = slices.Clone(res.Protrusion.Labels)
	}

	var changed []string
	replace := func(layer int, name string, labels []uint8) {
		n, err := ui.tools.editor.Replace("Re-run: "+name, ui.layers[layer].Mask, labels)
		if err != nil {
			ui.showError("Re-run", err)
			return
		}
		if n > 0 {
			changed = append(changed, fmt.Sprintf("%s %d voxels", name, n))
		}
	}

	protrusion := ui.layers[protrusionLayer].Mask
	switch {
	case plan.input.Kidney != nil:
		labels := res.Protrusion.Labels
		if plan.input.Protrusion != nil {
			labels = mergeManualEdits(labels, plan.input.Protrusion.Before.Labels, plan.input.Protrusion.After.Labels)
		}
		replace(protrusionLayer, "protruded region", labels)
		next.protrusion = slices.Clone(protrusion.Labels)
	case plan.input.Protrusion != nil:
		next.protrusion = plan.input.Protrusion.After.Labels
	}

	tumor := res.Tumor.Labels
	if plan.keepTumor {
		tumor = mergeManualEdits(tumor, last.tumor, ui.layers[tumorLayer].Mask.Labels)
	}
	replace(tumorLayer, "tumor", tumor)
	ui.last = next

	ui.progress.SetValue(1)
	ui.afterEdit()
	summary := "no layer changed"
	if len(changed) > 0 {
		summary = "changed " + strings.Join(changed, ", ")
	}
	ui.stageLabel.SetText(fmt.Sprintf("Re-ran the %s: %s; tumor %.1f mL", plan.stages(), summary, maskVolumeML(ui.layers[tumorLayer].Mask)))
	if len(res.Warnings) > 0 {
		warnings := make([]string, len(res.Warnings))
		for n, w := range res.Warnings {
			warnings[n] = capitalize(w)
		}
		dialog.ShowInformation("Check the result", strings.Join(warnings, "\n"), ui.win)
	}
}
