package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
	"weak"

	"fyne.io/fyne/v2"

	"protrude/volume"
)

// autosaveDelay is how long after the first unsaved change the autosave writes, so
// that a burst of edits is written once.
const autosaveDelay = 3 * time.Second

// autosaver writes the session into this process's recovery folder in the background
// after changes, so that the next start can offer the edits back after a crash.
//
// Each write takes a snapshot on the UI goroutine and writes it on another. The
// snapshot copies only the masks that changed since the last write into the folder:
// an unchanged layer keeps its file, as the edit history's mask versions tell. So the
// memory an autosave needs is one copy of each changed layer, for as long as its write
// takes, and never a copy per edit.
//
// Every field is used on the UI goroutine only, except dir and lock, which the
// background write uses while writing is set and the UI goroutine leaves alone then.
type autosaver struct {
	// root is the recovery root, such as $XDG_STATE_HOME/protrude/recovery.
	root string
	// dir is this process's session folder in root, and lock is the open, locked file
	// dir+".lock". Both are created by the first write.
	dir  string
	lock *os.File
	// delay is autosaveDelay, or shorter in tests.
	delay time.Duration

	timer   *time.Timer
	writing bool
	// pending is set when a change came while a write was in flight.
	pending bool
	// discardAfterWrite is set when the recovery data was cleared during a write.
	discardAfterWrite bool
	// written holds, per layer index, the mask and its edit-history version that the
	// file in dir was written from.
	written map[int]writtenMask
	// afterWrite runs once on the UI goroutine after the next successful write, such
	// as removing the crashed session that was just recovered.
	afterWrite []func()
	wg         sync.WaitGroup
}

// writtenMask identifies the content of a layer's file in the recovery folder. The weak
// pointer does not keep a replaced mask in memory.
type writtenMask struct {
	mask    weak.Pointer[volume.Mask]
	version uint64
}

// recoveryRoot returns the folder that holds the recovery data of every Protrude
// process: $XDG_STATE_HOME/protrude/recovery, or ~/.local/state/protrude/recovery, the
// XDG default, or the user cache folder when there is no home folder.
func recoveryRoot() (string, error) {
	if state := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(state) {
		return filepath.Join(state, "protrude", "recovery"), nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "protrude", "recovery"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a folder for recovery data: set XDG_STATE_HOME or HOME: %w", err)
	}
	return filepath.Join(cache, "protrude", "recovery"), nil
}

// enableAutosave turns on autosaving into a new folder in root.
func (ui *viewerUI) enableAutosave(root string) {
	name := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	ui.autosave = &autosaver{root: root, dir: filepath.Join(root, name), delay: autosaveDelay}
}

// markSessionChanged schedules an autosave after a change to the masks or the review.
// It runs on the UI goroutine and does nothing when autosave is off.
func (ui *viewerUI) markSessionChanged() {
	if ui.study == nil {
		return
	}
	ui.changes++
	a := ui.autosave
	if a == nil {
		return
	}
	if a.writing {
		a.pending = true
		return
	}
	if a.timer == nil {
		a.timer = time.AfterFunc(a.delay, func() { fyne.Do(ui.autosaveNow) })
	}
}

// changeCount returns the number of changes to the masks or the review so far.
func (ui *viewerUI) changeCount() uint64 {
	return ui.changes
}

// autosaveNow starts a background write of the session into the recovery folder. It
// runs on the UI goroutine.
func (ui *viewerUI) autosaveNow() {
	a := ui.autosave
	if a == nil {
		return
	}
	a.stopTimer()
	if a.writing {
		a.pending = true
		return
	}
	if ui.tools.editor.StrokeInProgress() {
		// A stroke is one step; write it when the mouse is released.
		a.timer = time.AfterFunc(a.delay, func() { fyne.Do(ui.autosaveNow) })
		return
	}
	stamps := map[int]writtenMask{}
	snap, err := ui.captureSession(func(layer int, m *volume.Mask) bool {
		stamp := writtenMask{mask: weak.Make(m), version: ui.tools.editor.History.MaskVersion(m)}
		stamps[layer] = stamp
		old, ok := a.written[layer]
		return !ok || old.mask.Value() != m || old.version != stamp.version
	})
	if err != nil {
		return // no scan is open, so there is nothing to recover
	}

	a.writing = true
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		start := time.Now()
		err := a.write(snap)
		duration := time.Since(start).Round(time.Millisecond)
		fyne.Do(func() { ui.autosaveFinished(stamps, len(snap.masks), duration, err) })
	}()
}

// write writes the snapshot into the recovery folder, creating and locking it first.
// Each file is replaced atomically and session.json comes last.
func (a *autosaver) write(snap *sessionSnapshot) error {
	if a.lock == nil {
		if err := os.MkdirAll(a.root, 0o700); err != nil {
			return fmt.Errorf("create the recovery folder: %w", err)
		}
		lock, err := lockRecoveryFolder(a.dir)
		if err != nil {
			return err
		}
		a.lock = lock
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return fmt.Errorf("create the recovery folder: %w", err)
	}
	for _, f := range snap.outputFiles() {
		if err := f.write(filepath.Join(a.dir, f.name)); err != nil {
			return err
		}
	}
	return nil
}

// autosaveFinished records a finished write. It runs on the UI goroutine.
func (ui *viewerUI) autosaveFinished(stamps map[int]writtenMask, masksWritten int, duration time.Duration, err error) {
	a := ui.autosave
	a.writing = false
	switch {
	case a.discardAfterWrite:
		a.discardAfterWrite = false
		a.removeOwnData()
	case err != nil:
		// The next write rewrites every mask, whatever the folder holds now.
		a.written = nil
		slog.Error("autosave failed", "dir", a.dir, "err", err)
		ui.stageLabel.SetText("Autosave failed: " + err.Error())
	default:
		a.written = stamps
		slog.Info("autosave written", "dir", a.dir, "masks_written", masksWritten, "duration", duration)
		for _, f := range a.afterWrite {
			f()
		}
		a.afterWrite = nil
	}
	if a.pending {
		a.pending = false
		ui.markSessionChanged()
	}
}

// clearRecovery removes this process's recovery data, after an explicit save or at a
// clean exit. A write in flight is removed when it finishes. It runs on the UI
// goroutine.
func (ui *viewerUI) clearRecovery() {
	a := ui.autosave
	if a == nil {
		return
	}
	a.stopTimer()
	a.pending = false
	a.written = nil
	for _, f := range a.afterWrite {
		f()
	}
	a.afterWrite = nil
	if a.writing {
		a.discardAfterWrite = true
		return
	}
	a.removeOwnData()
}

func (a *autosaver) stopTimer() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

// removeOwnData deletes the session folder and unlocks it.
func (a *autosaver) removeOwnData() {
	if err := os.RemoveAll(a.dir); err != nil {
		slog.Error("remove recovery data", "dir", a.dir, "err", err)
	}
	if a.lock != nil {
		os.Remove(a.lock.Name())
		a.lock.Close()
		a.lock = nil
	}
}

// closeAutosave waits for a write in flight and removes this process's recovery data,
// because the exit is clean. It runs after the app's event loop has ended.
func (ui *viewerUI) closeAutosave() {
	a := ui.autosave
	if a == nil {
		return
	}
	a.stopTimer()
	a.wg.Wait()
	a.writing = false
	// The lock exists from the first autosave on, so without it there is nothing to remove.
	hadData := a.lock != nil
	ui.clearRecovery()
	if hadData {
		slog.Info("recovery data removed at a clean exit", "dir", a.dir)
	}
}

// errRecoveryLocked is returned by lockRecoveryFolder when another process holds the lock.
var errRecoveryLocked = errors.New("the recovery folder is in use by another Protrude process")
