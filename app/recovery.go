package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// The recovery root holds one session folder per running or crashed process, named
// PID-STARTNANOS, next to a lock file of the same name with ".lock" appended. A running
// process holds an exclusive flock on its lock file, which the kernel releases when the
// process ends in any way. So a folder whose lock can be taken belongs to a process that
// ended without removing it, because it crashed or was killed.

// lockRecoveryFolder creates or opens dir+".lock" and takes an exclusive lock on it
// without waiting. It returns errRecoveryLocked when a running process holds it.
func lockRecoveryFolder(dir string) (*os.File, error) {
	path := dir + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the recovery lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, errRecoveryLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// orphanSession is the recovery folder of a process that ended without a clean exit,
// locked by this process while it decides.
type orphanSession struct {
	dir  string
	lock *os.File
	file *sessionFile
}

// remove deletes the folder and its lock file.
func (o *orphanSession) remove() {
	if err := os.RemoveAll(o.dir); err != nil {
		slog.Error("remove recovered session", "dir", o.dir, "err", err)
	}
	os.Remove(o.lock.Name())
	o.lock.Close()
}

// release unlocks the folder and leaves it for a later start.
func (o *orphanSession) release() { o.lock.Close() }

// findOrphanSessions returns the recovery folders in root that no running process
// holds and that this viewer can read, newest first, each locked by this process.
// ownDir, this process's own folder, is skipped. A folder that cannot be read, such as
// one whose session.json a newer Protrude wrote, is kept for a viewer that can read it.
// It is not returned, and the reason is logged. So is a folder whose lock cannot be
// taken. Only an empty folder is removed. A missing root means there is nothing to
// recover. unreadable lists the folders kept because they cannot be read, so that
// the viewer can show where they are.
func findOrphanSessions(root, ownDir string) (orphans []*orphanSession, unreadable []string, err error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list recovery data in %s: %w", root, err)
	}
	for _, e := range entries {
		name := e.Name()
		dir := filepath.Join(root, name)
		if dir == ownDir || strings.HasPrefix(name, ".") {
			continue
		}
		if base, ok := strings.CutSuffix(dir, ".lock"); ok {
			if base != ownDir {
				removeStaleLock(base, e)
			}
			continue
		}
		if !e.IsDir() {
			continue
		}
		lock, err := lockRecoveryFolder(dir)
		if errors.Is(err, errRecoveryLocked) {
			continue // a running Protrude writes there
		}
		if err != nil {
			// The lock path may be a folder, or a file that another user owns. The
			// folder is kept, and the scan goes on with the other entries.
			slog.Warn("recovery folder skipped because its lock cannot be taken", "dir", dir, "err", err)
			continue
		}
		o := &orphanSession{dir: dir, lock: lock}
		file, err := readRecoveryFolder(dir)
		if errors.Is(err, errEmptyRecoveryFolder) {
			// A process that was killed before its first write finished leaves no edits.
			slog.Info("empty recovery folder removed", "dir", dir)
			o.remove()
			continue
		}
		if err != nil {
			slog.Warn("recovery data cannot be read by this viewer and is kept", "dir", dir, "err", err)
			o.release()
			unreadable = append(unreadable, dir)
			continue
		}
		o.file = file
		orphans = append(orphans, o)
	}
	slices.SortFunc(orphans, func(a, b *orphanSession) int { return b.file.SavedAt.Compare(a.file.SavedAt) })
	return orphans, unreadable, nil
}

// removeStaleLock removes the lock file of the recovery folder dir when dir is gone, such
// as after a crash before the first write finished, and no process holds the lock.
// entry is the lock file's entry in the recovery root. A lock path that is not a
// regular file is left alone and logged.
func removeStaleLock(dir string, entry os.DirEntry) {
	if !entry.Type().IsRegular() {
		slog.Warn("recovery lock path skipped because it is not a regular file", "path", dir+".lock", "type", entry.Type())
		return
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if lock, err := lockRecoveryFolder(dir); err == nil {
			os.Remove(lock.Name())
			lock.Close()
		}
	}
}

// errEmptyRecoveryFolder is returned by readRecoveryFolder for a folder without entries.
var errEmptyRecoveryFolder = errors.New("the recovery folder is empty")

// readRecoveryFolder reads the session.json of the recovery folder dir and checks with
// stat that every file it names is a regular file, without opening those files. It
// returns errEmptyRecoveryFolder when dir contains no entries. A FIFO or device file in
// dir makes it return an error and never makes it wait.
func readRecoveryFolder(dir string) (*sessionFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list the recovery folder: %w", err)
	}
	if len(entries) == 0 {
		return nil, errEmptyRecoveryFolder
	}

	file, err := readRecoverySessionFile(filepath.Join(dir, sessionFileName))
	if err != nil {
		return nil, err
	}

	// decodeSession accepts only the standard file names, such as kidney.nii.gz, so
	// these paths stay inside dir.
	for n, l := range file.Layers {
		if l.File == "" {
			continue
		}
		if err := checkRegularFile(filepath.Join(dir, l.File)); err != nil {
			return nil, fmt.Errorf("layers[%d] (%s): %w", n, l.Name, err)
		}
	}
	if file.Lesions != "" {
		if err := checkRegularFile(filepath.Join(dir, file.Lesions)); err != nil {
			return nil, fmt.Errorf("lesions: %w", err)
		}
	}
	return file, nil
}

// readRecoverySessionFile reads and checks the session.json at path. The stat before
// the open keeps it from opening a device file. The open does not wait for a writer,
// and the check of the open file rejects a FIFO put there after the stat, so that no
// read can block.
func readRecoverySessionFile(path string) (*sessionFile, error) {
	if err := checkRegularFile(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %v)", path, info.Mode().Type())
	}

	file, err := decodeSession(f)
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", path, err)
	}
	return file, nil
}

// checkRegularFile returns an error when path is missing or, after symbolic links are
// followed, is not a regular file.
func checkRegularFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (mode %v)", path, info.Mode().Type())
	}
	return nil
}

// offerRecovery looks for the recovery data of crashed sessions and offers the newest
// one, as offerOrphans does. When there is none, it calls orElse at once. It runs off
// the UI goroutine.
func (ui *viewerUI) offerRecovery(orElse func()) {
	a := ui.autosave
	if a == nil {
		orElse()
		return
	}
	orphans, unreadable, err := findOrphanSessions(a.root, a.dir)
	if err != nil {
		slog.Error("look for recovery data", "err", err)
	}
	if len(unreadable) > 0 {
		fyne.Do(func() { ui.showKeptRecoveryData(unreadable) })
	}
	if len(orphans) == 0 {
		orElse()
		return
	}
	fyne.Do(func() { ui.offerOrphans(orphans, orElse) })
}

// showKeptRecoveryData shows the user where recovery data that this viewer cannot
// read was left, such as edits autosaved by a newer Protrude. It runs on the UI
// goroutine.
func (ui *viewerUI) showKeptRecoveryData(dirs []string) {
	dialog.ShowInformation("Recovery data kept",
		"Protrude found autosaved edits that this version cannot read, and left them in place:\n\n"+
			strings.Join(dirs, "\n")+
			"\n\nA newer Protrude may recover them. Delete these folders when they are no longer needed.",
		ui.win)
}

// offerOrphans shows the recovery dialog for the first of orphans, which are sorted
// newest first. When its Recover fails, the next one is offered. orElse, which opens
// what the command line names, runs after Discard, after the last failed Recover, or
// at once when orphans is empty. The other orphans stay locked until the user decides
// and are then left for a later start. It runs on the UI goroutine.
func (ui *viewerUI) offerOrphans(orphans []*orphanSession, orElse func()) {
	if len(orphans) == 0 {
		go orElse()
		return
	}
	o, older := orphans[0], orphans[1:]
	slog.Info("recovery data found", "dir", o.dir, "saved_at", o.file.SavedAt)
	ui.showRecoveryDialog(o, older, orElse)
}

// releaseOrphans unlocks the folders of orphans and leaves them for a later start.
func releaseOrphans(orphans []*orphanSession) {
	for _, o := range orphans {
		o.release()
	}
}

// showRecoveryDialog shows the dialog that recovers or discards the orphan's edits. It
// runs on the UI goroutine.
func (ui *viewerUI) showRecoveryDialog(o *orphanSession, older []*orphanSession, orElse func()) {
	scan := "the demo case"
	if o.file.Source.Kind != sourceDemo {
		scan = filepath.Base(o.file.Source.Path)
	}
	text := fmt.Sprintf("Protrude did not close cleanly last time.\n\n"+
		"Unsaved edits to %s were autosaved at %s.\n"+
		"Recover opens them; Discard deletes them.",
		scan, o.file.SavedAt.Local().Format("2006-01-02 15:04:05"))
	d := dialog.NewConfirm("Recover unsaved edits?", text, func(recover bool) {
		if !recover {
			slog.Info("recovery data discarded", "dir", o.dir)
			o.remove()
			releaseOrphans(older)
			go orElse()
			return
		}
		go ui.recoverSession(o, older, orElse)
	}, ui.win)
	d.SetConfirmText("Recover")
	d.SetDismissText("Discard")
	d.Show()
}

// recoverSession opens the orphan's session and writes it into this process's own
// recovery folder at once. The orphan is removed only after that write, so a second
// crash still leaves the edits on disk. When the session cannot be opened, it shows
// why and lets the user keep or discard the orphan, and then offers the older ones.
// It runs off the UI goroutine.
func (ui *viewerUI) recoverSession(o *orphanSession, older []*orphanSession, orElse func()) {
	fyne.Do(func() { ui.stageLabel.SetText("Recovering…") })
	ls, err := loadSession(o.dir)
	if err != nil {
		fyne.Do(func() {
			ui.stageLabel.SetText("")
			ui.showRecoverFailed(o, err, older, orElse)
		})
		return
	}
	releaseOrphans(older)
	fyne.Do(func() {
		ui.applySession(ls)
		ui.unsavedRecovery = true
		ui.win.SetTitle(fmt.Sprintf("Protrude — %s (recovered) — %s", filepath.Base(ls.study.Path), researchNotice))
		ui.stageLabel.SetText("Recovered the autosaved session of " + o.file.SavedAt.Local().Format("15:04:05"))
		slog.Info("session recovered", "dir", o.dir)
		a := ui.autosave
		a.afterWrite = append(a.afterWrite, o.remove)
		ui.autosaveNow()
	})
}

// showRecoverFailed shows why the orphan's session could not be opened, with Keep,
// which leaves its folder for a later start, and Discard, which deletes it. Either way,
// this run does not offer it again and goes on with the older orphans. It runs on the
// UI goroutine.
func (ui *viewerUI) showRecoverFailed(o *orphanSession, err error, older []*orphanSession, orElse func()) {
	slog.Error("recover failed", "dir", o.dir, "err", err)
	text := fmt.Sprintf("The autosaved session could not be opened: %v\n\n"+
		"Its files are kept in %s. Keep leaves them there, and the next start offers them again. "+
		"Discard deletes them.", err, o.dir)
	d := dialog.NewConfirm("Recover failed", text, func(discard bool) {
		if discard {
			slog.Info("recovery data discarded after a failed recover", "dir", o.dir)
			o.remove()
		} else {
			slog.Info("recovery data kept after a failed recover", "dir", o.dir)
			o.release()
		}
		ui.offerOrphans(older, orElse)
	}, ui.win)
	d.SetConfirmText("Discard")
	d.SetConfirmImportance(widget.DangerImportance)
	d.SetDismissText("Keep")
	d.Show()
}
