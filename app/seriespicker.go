package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"protrude/volume/dicomseries"
)

// openDICOMFolder scans a DICOM folder and opens its image stack, or shows a dialog
// to choose one when there are several. It runs off the UI goroutine.
func (ui *viewerUI) openDICOMFolder(path string) error {
	start := time.Now()
	c, err := dicomseries.Scan(path)
	if err != nil {
		return err
	}
	slog.Info("folder scanned", "stacks", len(c.Stacks), "segmentations", len(c.Segmentations),
		"skipped", len(c.Skipped), "failed", len(c.Failed), "duration", time.Since(start).Round(time.Millisecond))
	if loadable := c.Loadable(); len(loadable) > 1 {
		fyne.Do(func() {
			ui.stageLabel.SetText("")
			ui.chooseStack(c, loadable)
		})
		return nil
	}
	st, err := c.Only()
	if err != nil {
		return err
	}
	return ui.openStack(c, st)
}

// openStack loads one stack of a scanned folder and shows it. It runs off the UI
// goroutine.
func (ui *viewerUI) openStack(c *dicomseries.Catalog, st *dicomseries.Stack) error {
	fyne.Do(func() { ui.stageLabel.SetText("Loading " + filepath.Base(c.Dir) + "…") })
	start := time.Now()
	s, err := loadStack(c, st)
	if err != nil {
		fyne.Do(func() { ui.stageLabel.SetText("") })
		return err
	}
	slog.Info("study opened", "stack", st.Key, "size", s.CT.Size, "spacing_mm", s.CT.SpacingMM, "duration", time.Since(start).Round(time.Millisecond))
	fyne.Do(func() { ui.showStudy(s) })
	return nil
}

// chooseStack shows a dialog that lists the loadable stacks of c and opens the one
// chosen. It runs on the UI goroutine.
func (ui *viewerUI) chooseStack(c *dicomseries.Catalog, stacks []*dicomseries.Stack) {
	labels := make([]string, len(stacks))
	for n, st := range stacks {
		labels[n] = fmt.Sprintf("%d. %s", n+1, describeStack(st))
		if len(st.Warnings) > 0 {
			labels[n] += fmt.Sprintf(" (%d warnings)", len(st.Warnings))
		}
	}
	detail := widget.NewLabel("")
	detail.Wrapping = fyne.TextWrapWord
	choice := widget.NewRadioGroup(labels, func(selected string) {
		n := slices.Index(labels, selected)
		if n < 0 {
			detail.SetText("")
			return
		}
		text := "Key: " + stacks[n].Key
		for _, w := range stacks[n].Warnings {
			text += "\nWarning: " + w
		}
		detail.SetText(text)
	})
	choice.Required = true
	choice.SetSelected(labels[0])

	intro := widget.NewLabel(fmt.Sprintf("%s contains %d image stacks (series, or orientations within a series). Choose one to open:",
		filepath.Base(c.Dir), len(stacks)))
	intro.Wrapping = fyne.TextWrapWord
	content := container.NewVBox(intro, choice, detail)
	if len(c.Segmentations) > 0 || len(c.Skipped) > 0 {
		content.Add(widget.NewLabel(fmt.Sprintf("Not listed: %d segmentations and %d skipped files (protrude series %s lists them).",
			len(c.Segmentations), len(c.Skipped), c.Dir)))
	}

	d := dialog.NewCustomConfirm("Choose a series", "Open", "Cancel", container.NewVScroll(content), func(open bool) {
		n := slices.Index(labels, choice.Selected)
		if !open || n < 0 {
			return
		}
		go ui.openInBackground(func() error { return ui.openStack(c, stacks[n]) })
	}, ui.win)
	d.Resize(fyne.NewSize(900, 480))
	d.Show()
}
