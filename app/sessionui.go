package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"

	"protrude/volume"
)

// sessionMenuItems returns the File menu items for masks and sessions.
func (ui *viewerUI) sessionMenuItems() []*fyne.MenuItem {
	save := fyne.NewMenuItem("Save session…", ui.saveSessionDialog)
	save.Shortcut = saveSessionShortcut
	export := fyne.NewMenuItem("Export masks…", ui.exportMasksDialog)
	export.Shortcut = exportMasksShortcut
	return []*fyne.MenuItem{
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Open masks…", ui.askBeforeDiscarding("Opening masks", ui.unsavedWork, ui.openMasksDialog)),
		fyne.NewMenuItem("Open session…", ui.askToOpen(ui.openSessionDialog)),
		save,
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
	fyne.Do(func() { ui.stageLabel.SetText("Opening session " + filepath.Base(path) + "…") })
	start := time.Now()
	ls, err := loadSession(path)
	if err != nil {
		fyne.Do(func() { ui.stageLabel.SetText("") })
		return err
	}
	slog.Info("session opened", "dir", ls.dir, "layers", len(ls.masks), "duration", time.Since(start).Round(time.Millisecond))
	fyne.Do(func() {
		ui.applySession(ls)
		ui.savedChanges = ui.changeCount()
		ui.stageLabel.SetText("Opened session " + ls.dir)
	})
	return nil
}

// saveSessionDialog shows a file save dialog and saves the session into a folder of
// that name. The file save dialog creates an empty file of the name, which is replaced
// by the folder.
func (ui *viewerUI) saveSessionDialog() {
	if ui.study == nil {
		ui.showError("Save session", errors.New("open a scan first"))
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			ui.showError("Save session failed", err)
			return
		}
		if w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			os.Remove(path)
		}
		ui.saveSessionTo(path)
	}, ui.win)
	d.SetFileName("session.protrude")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".protrude"}))
	d.Resize(fyne.NewSize(900, 640))
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
