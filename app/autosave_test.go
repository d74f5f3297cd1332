package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"protrude/lesions"
	"protrude/volume/nifti"
)

// enableTestAutosave turns on autosave into a temporary root. The delay is an hour, so
// the timer never fires during a test, which calls autosaveNow itself.
func enableTestAutosave(t *testing.T, ui *viewerUI) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "recovery")
	ui.enableAutosave(root)
	ui.autosave.delay = time.Hour
	t.Cleanup(func() {
		if ui.autosave.timer != nil {
			ui.autosave.timer.Stop()
		}
		ui.autosave.wg.Wait()
	})
	return root
}

// autosaveAndWait writes the session into the recovery folder and waits for the write.
func autosaveAndWait(t *testing.T, ui *viewerUI) {
	t.Helper()
	ui.autosaveNow()
	ui.autosave.wg.Wait()
	if ui.autosave.written == nil {
		t.Fatal("the autosave failed; see the log")
	}
}

// crashCopy copies the recovery folder dir to a new folder in root, as the folder a
// killed process leaves behind, with no process holding its lock.
func crashCopy(t *testing.T, root, dir string) string {
	t.Helper()
	crashed := filepath.Join(root, "1-1")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return crashed
}

func TestAutosaveWritesOnlyChangedMasks(t *testing.T) {
	ui := editedTestSession(t, t.TempDir())
	enableTestAutosave(t, ui)

	ui.markSessionChanged()
	if ui.autosave.timer == nil {
		t.Fatal("a change scheduled no autosave")
	}
	autosaveAndWait(t, ui)
	dir := ui.autosave.dir
	kidneyBefore, err := os.Stat(filepath.Join(dir, "kidney.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	tumorBefore, err := os.Stat(filepath.Join(dir, "tumor.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}

	// An edit of the tumor layer rewrites its file only.
	ui.setActiveLayer(tumorLayer)
	paintStroke(t, ui, [3]int{5, 7, 2})
	autosaveAndWait(t, ui)
	kidneyAfter, _ := os.Stat(filepath.Join(dir, "kidney.nii.gz"))
	tumorAfter, _ := os.Stat(filepath.Join(dir, "tumor.nii.gz"))
	if !os.SameFile(kidneyBefore, kidneyAfter) {
		t.Error("the unchanged kidney mask was written again")
	}
	if os.SameFile(tumorBefore, tumorAfter) {
		t.Error("the edited tumor mask was not written again")
	}
	m, _, err := nifti.ReadMask(filepath.Join(dir, "tumor.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	checkVoxels(t, "autosaved tumor", m, labelledVoxels(ui.layers[tumorLayer].Mask))

	// Undo changes the tumor layer back, so its file is written again.
	ui.undo()
	autosaveAndWait(t, ui)
	m, _, err = nifti.ReadMask(filepath.Join(dir, "tumor.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	checkVoxels(t, "autosaved tumor after undo", m, labelledVoxels(ui.layers[tumorLayer].Mask))
}

func TestRecoveryOffersCrashedSessionOnly(t *testing.T) {
	ui := editedTestSession(t, t.TempDir())
	root := enableTestAutosave(t, ui)
	autosaveAndWait(t, ui)

	// The running session's own folder is locked, so another process would skip it.
	orphans, _, err := findOrphanSessions(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 0 {
		t.Fatalf("found %d crashed sessions while the only one is running, want 0", len(orphans))
	}

	crashed := crashCopy(t, root, ui.autosave.dir)
	broken := filepath.Join(root, "2-2")
	if err := os.MkdirAll(broken, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, sessionFileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}

	orphans, _, err = findOrphanSessions(root, ui.autosave.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].dir != crashed {
		t.Fatalf("found %d crashed sessions, want only %s", len(orphans), crashed)
	}
	if _, err := os.Stat(filepath.Join(broken, sessionFileName)); err != nil {
		t.Errorf("the unreadable recovery folder %s was not kept: %v", broken, err)
	}
	// While this process decides, another one must not offer the same session.
	if _, err := lockRecoveryFolder(crashed); !errors.Is(err, errRecoveryLocked) {
		t.Errorf("lock of an offered session: error %v, want errRecoveryLocked", err)
	}
	orphans[0].release()
}

func TestRecoverRestoresEditsAndStatus(t *testing.T) {
	saved := editedTestSession(t, t.TempDir())
	root := enableTestAutosave(t, saved)
	autosaveAndWait(t, saved)
	crashed := crashCopy(t, root, saved.autosave.dir)
	// The first process quits cleanly now, so only the copy remains to recover.
	saved.closeAutosave()

	a := test.NewApp()
	t.Cleanup(a.Quit)
	ui := newViewerUI(a, modelFlags{})
	ui.enableAutosave(root)
	ui.autosave.delay = time.Hour
	orphans, _, err := findOrphanSessions(root, ui.autosave.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 {
		t.Fatalf("found %d crashed sessions, want 1", len(orphans))
	}
	ui.recoverSession(orphans[0], nil, func() {
		t.Error("the viewer went on to open another scan after a successful recover")
	})
	ui.autosave.wg.Wait()

	for n, l := range ui.layers {
		if s := saved.layers[n]; s.Mask != nil {
			checkVoxels(t, "recovered "+l.Name, l.Mask, labelledVoxels(s.Mask))
		}
	}
	if got := ui.lesionList.table.Lesions[1].Status; got != lesions.Accepted {
		t.Errorf("recovered status of lesion 2 is %q, want %q", got, lesions.Accepted)
	}
	if _, err := os.Stat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the recovered folder %s is still there after the new autosave (stat error %v)", crashed, err)
	}
	m, _, err := nifti.ReadMask(filepath.Join(ui.autosave.dir, "tumor.nii.gz"))
	if err != nil {
		t.Fatalf("the recovered session was not autosaved into the new folder: %v", err)
	}
	checkVoxels(t, "autosave after recovery", m, labelledVoxels(saved.layers[tumorLayer].Mask))

	ui.closeAutosave()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("recovery root holds %d entries after clean exits, want 0", len(entries))
	}
}

func TestSaveSessionClearsRecovery(t *testing.T) {
	dir := t.TempDir()
	ui := editedTestSession(t, dir)
	enableTestAutosave(t, ui)
	autosaveAndWait(t, ui)
	if _, err := os.Stat(ui.autosave.dir); err != nil {
		t.Fatal(err)
	}

	ui.saveSessionTo(filepath.Join(dir, "saved.protrude"))
	// The save removes the folder first and the lock file last, on a goroutine of its
	// own, so wait for both to go.
	waitFor(t, "the save to remove the recovery folder and its lock file", func() bool {
		_, errDir := os.Stat(ui.autosave.dir)
		_, errLock := os.Stat(ui.autosave.dir + ".lock")
		return errors.Is(errDir, os.ErrNotExist) && errors.Is(errLock, os.ErrNotExist)
	})
	if _, err := os.Stat(filepath.Join(dir, "saved.protrude", sessionFileName)); err != nil {
		t.Errorf("the saved session has no %s: %v", sessionFileName, err)
	}
}

// waitFor polls done for up to 10 s, for work that the code under test starts on a
// goroutine of its own.
func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	for range 1000 {
		if done() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
