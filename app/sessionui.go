package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"protrude/volume"
)

// sessionMenuItems returns the File menu items for masks and sessions.
func (ui *viewerUI) sessionMenuItems() []*fyne.MenuItem {
	save := fyne.NewMenuItem("Save session", ui.saveSession)
	save.Shortcut = saveSessionShortcut
	saveAs := fyne.NewMenuItem("Save session as…", ui.saveSessionAsDialog)
	export := fyne.NewMenuItem("Export masks…", ui.exportMasksDialog)
	export.Shortcut = exportMasksShortcut
	return []*fyne.MenuItem{
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Open masks…", ui.askBeforeDiscarding("Opening masks", ui.unsavedWork, ui.openMasksDialog)),
		fyne.NewMenuItem("Open session…", ui.askToOpen(ui.openSessionDialog)),
		save,
		saveAs,
		export,
	}
}

// The shortcuts of Save session and Export masks.
var (
	saveSessionShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierControl}
	exportMasksShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierControl}
)

// openSessionDialog shows a folder dialog and opens the chosen session.
func (ui *viewerUI) openSessionDialog() {
	d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil {
			ui.showError("Open session failed", err)
			return
		}
		if l == nil {
			return
		}
		path := l.Path()
		go ui.openInBackground(func() error { return ui.openSession(path) })
	}, ui.win)
	d.Resize(fyne.NewSize(900, 640))
	d.Show()
}

// openSession loads the session at path, a session folder or its session.json, and
// shows it. It runs off the UI goroutine.
func (ui *viewerUI) openSession(path string) error {
	var before *study
	fyne.DoAndWait(func() {
		before = ui.study
		ui.stageLabel.SetText("Opening session " + filepath.Base(path) + "…")
	})
	start := time.Now()
	ls, err := loadSession(path)
	if err != nil {
		fyne.Do(func() { ui.stageLabel.SetText("") })
		return err
	}
	slog.Info("session opened", "dir", ls.dir, "layers", len(ls.masks), "duration", time.Since(start).Round(time.Millisecond))
	fyne.Do(func() {
		// A scan opened while the session loaded is newer work; it stays.
		if ui.study != before {
			slog.Info("session not shown, because another scan was opened meanwhile", "dir", ls.dir)
			return
		}
		ui.applySession(ls)
		ui.sessionDir = ls.dir
		ui.savedChanges = ui.changeCount()
		ui.stageLabel.SetText("Opened session " + ls.dir)
	})
	return nil
}

// saveSession saves into the folder the session was opened from or last saved to,
// without a dialog, and prompts for a folder when there is none.
func (ui *viewerUI) saveSession() {
	if ui.study != nil && ui.sessionDir != "" {
		ui.saveSessionTo(ui.sessionDir)
		return
	}
	ui.saveSessionAsDialog()
}

// saveSessionAsDialog prompts for a session folder and saves into it. A folder that
// already contains a session is replaced after a confirmation.
func (ui *viewerUI) saveSessionAsDialog() {
	if ui.study == nil {
		ui.showError("Save session", errors.New("open a scan first"))
		return
	}
	dir := ui.sessionDir
	if dir == "" {
		dir = defaultOutputDir(ui.study, "-session.protrude")
	}
	ui.folderForm("Save session as", "Save", dir, nil,
		"The masks, the lesion review and the view state go into this folder.",
		func(dir string) {
			if dir == ui.sessionDir {
				ui.saveSessionTo(dir)
				return
			}
			snap, err := ui.captureSession(func(int, *volume.Mask) bool { return false })
			if err != nil {
				ui.showError("Save session", err)
				return
			}
			names := []string{sessionFileName}
			for _, l := range snap.file.Layers {
				if l.File != "" {
					names = append(names, l.File)
				}
			}
			if snap.file.Lesions != "" {
				names = append(names, snap.file.Lesions)
			}
			ui.confirmReplace(dir, names, func() { ui.saveSessionTo(dir) })
		})
}

// folderForm shows a dialog that prompts for a folder, with a text field that starts at
// dir, a Choose… button and the extra items, and calls done with the folder.
func (ui *viewerUI) folderForm(title, confirm, dir string, extra []*widget.FormItem, note string, done func(dir string)) {
	folder := widget.NewEntry()
	folder.SetText(dir)
	choose := widget.NewButton("Choose…", func() {
		d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
			if err == nil && l != nil {
				folder.SetText(l.Path())
			}
		}, ui.win)
		d.Resize(fyne.NewSize(900, 640))
		d.Show()
	})
	items := append(extra,
		widget.NewFormItem("Folder", container.NewBorder(nil, nil, nil, choose, folder)),
		widget.NewFormItem("", widget.NewLabel(note)))
	d := dialog.NewForm(title, confirm, "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		dir := strings.TrimSpace(folder.Text)
		if dir == "" {
			ui.showError(title, errors.New("the folder is empty; enter or choose one"))
			return
		}
		done(dir)
	}, ui.win)
	d.Resize(fyne.NewSize(720, 260))
	d.Show()
}

// saveSessionTo saves the session into the folder dir in the background. After the
// save, the recovery data is removed, because the saved session holds the edits. It
// runs on the UI goroutine.
func (ui *viewerUI) saveSessionTo(dir string) {
	snap, err := ui.captureSession(func(int, *volume.Mask) bool { return true })
	if err != nil {
		ui.showError("Save session", err)
		return
	}
	ui.stageLabel.SetText("Saving session…")
	changesAtSnapshot := ui.changeCount()
	go func() {
		start := time.Now()
		err := saveSession(dir, snap)
		fyne.Do(func() {
			if err != nil {
				ui.stageLabel.SetText("Save failed")
				ui.showError("Save session failed", fmt.Errorf("save into %s: %w", dir, err))
				return
			}
			slog.Info("session saved", "dir", dir, "duration", time.Since(start).Round(time.Millisecond))
			ui.stageLabel.SetText("Saved session " + dir)
			ui.sessionDir = dir
			// Changes made while the save was running are not in it, so their
			// recovery data stays.
			if ui.changeCount() == changesAtSnapshot {
				ui.clearRecovery()
			}
			ui.savedChanges, ui.unsavedRecovery = changesAtSnapshot, false
		})
	}()
}

// openAtStart opens what the command line names: a session, a scan, or the demo case
// when it names neither, and starts a run when runNow is set. It runs off the UI
// goroutine.
func (ui *viewerUI) openAtStart(input, sessionPath string, runNow bool) {
	var err error
	switch {
	case sessionPath != "":
		err = ui.openSession(sessionPath)
	case input == "":
		err = ui.openDemo()
	case looksLikeSession(input):
		err = ui.openSession(input)
	default:
		err = ui.openPath(input)
	}
	if err != nil {
		fyne.Do(func() { ui.showError("Open failed", err) })
		return
	}
	if runNow {
		fyne.Do(ui.startRun)
	}
}

// quitOnSignal quits the app on SIGTERM or SIGINT, as closing the window does, so that
// the exit is clean and removes the recovery data. SIGKILL cannot be caught, and a
// killed process leaves its recovery data for the next start.
func quitOnSignal(a fyne.App) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-signals
		slog.Info("quitting on a signal", "signal", s.String())
		fyne.Do(a.Quit)
	}()
}
