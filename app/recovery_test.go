package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// crashedTestSession autosaves an edited session, leaves a copy of its recovery folder
// in root as a killed process would, and then exits the first process cleanly. It
// returns the copy, whose name is name.
func crashedTestSession(t *testing.T, root, name string) string {
	t.Helper()
	saved := editedTestSession(t, t.TempDir())
	saved.enableAutosave(root)
	saved.autosave.delay = time.Hour
	autosaveAndWait(t, saved)
	crashed := filepath.Join(root, name)
	if err := os.CopyFS(crashed, os.DirFS(saved.autosave.dir)); err != nil {
		t.Fatal(err)
	}
	saved.closeAutosave()
	return crashed
}

// copyRecoveryFolder copies the recovery folder src to root/name and returns the copy.
func copyRecoveryFolder(t *testing.T, src, root, name string) string {
	t.Helper()
	dst := filepath.Join(root, name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// editSessionJSON replaces the first old in dir's session.json with replacement, or
// fails when session.json does not contain old.
func editSessionJSON(t *testing.T, dir, old, replacement string) {
	t.Helper()
	path := filepath.Join(dir, sessionFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	edited := strings.Replace(string(data), old, replacement, 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
}

// folderEntries returns the names of the entries in dir, or nil when it cannot be read.
func folderEntries(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkOffered checks that orphans contains exactly the folders want, in that order, and
// releases them.
func checkOffered(t *testing.T, orphans []*orphanSession, want ...string) {
	t.Helper()
	var got []string
	for _, o := range orphans {
		got = append(got, o.dir)
		o.release()
	}
	if !slices.Equal(got, want) {
		t.Errorf("offered recovery folders %q, want %q", got, want)
	}
}

func TestRecoveryScanKeepsUnreadableFolders(t *testing.T) {
	source := crashedTestSession(t, t.TempDir(), "0-0")
	cases := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
	}{
		{"newer format version", func(t *testing.T, dir string) {
			editSessionJSON(t, dir, `"version": 1,`, `"version": 2,`)
		}},
		{"unknown field", func(t *testing.T, dir string) {
			editSessionJSON(t, dir, `"modelBundle": "test-bundle-1"`, `"modelBundle": "test-bundle-1", "comment": "x"`)
		}},
		{"invalid JSON", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, sessionFileName), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"masks without session.json", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, sessionFileName)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			valid := copyRecoveryFolder(t, source, root, "1-1")
			broken := copyRecoveryFolder(t, source, root, "2-2")
			c.corrupt(t, broken)
			before := folderEntries(broken)

			orphans, unreadable, err := findOrphanSessions(root, "")
			if err != nil {
				t.Fatal(err)
			}
			checkOffered(t, orphans, valid)
			if !slices.Equal(unreadable, []string{broken}) {
				t.Errorf("the scan reports %q as unreadable, want only %s", unreadable, broken)
			}
			if after := folderEntries(broken); !slices.Equal(after, before) {
				t.Errorf("the unreadable folder contains %q after the scan, want %q", after, before)
			}
			lock, err := lockRecoveryFolder(broken)
			if err != nil {
				t.Fatalf("the scan left the unreadable folder locked: %v", err)
			}
			lock.Close()
		})
	}
}

func TestRecoveryScanRemovesEmptyFolder(t *testing.T) {
	root := t.TempDir()
	valid := crashedTestSession(t, root, "1-1")
	empty := filepath.Join(root, "2-2")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}

	orphans, _, err := findOrphanSessions(root, "")
	if err != nil {
		t.Fatal(err)
	}
	checkOffered(t, orphans, valid)
	for _, path := range []string{empty, empty + ".lock"} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the scan (stat error %v)", path, err)
		}
	}
}

// findOrphansWithin runs findOrphanSessions and fails when it takes more than 10 s,
// which only a blocked read of a FIFO or device file would take.
func findOrphansWithin(t *testing.T, root, ownDir string) []*orphanSession {
	t.Helper()
	type result struct {
		orphans []*orphanSession
		err     error
	}
	done := make(chan result, 1)
	go func() {
		orphans, _, err := findOrphanSessions(root, ownDir)
		done <- result{orphans, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.orphans
	case <-time.After(10 * time.Second):
		t.Fatal("the recovery scan was still running after 10 s")
		return nil
	}
}

func TestRecoveryScanSkipsIrregularFiles(t *testing.T) {
	source := crashedTestSession(t, t.TempDir(), "0-0")
	replaceWithFIFO := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, name)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
	}{
		{"session.json is a FIFO", replaceWithFIFO(sessionFileName)},
		{"kidney mask is a FIFO", replaceWithFIFO("kidney.nii.gz")},
		{"lesions.json is a FIFO", replaceWithFIFO(sessionLesionsFile)},
		{"session.json is a folder", func(t *testing.T, dir string) {
			path := filepath.Join(dir, sessionFileName)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"tumor mask is missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "tumor.nii.gz")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			valid := copyRecoveryFolder(t, source, root, "1-1")
			broken := copyRecoveryFolder(t, source, root, "2-2")
			c.corrupt(t, broken)
			before := folderEntries(broken)

			checkOffered(t, findOrphansWithin(t, root, ""), valid)
			if after := folderEntries(broken); !slices.Equal(after, before) {
				t.Errorf("the folder contains %q after the scan, want %q", after, before)
			}
		})
	}
}

func TestRecoveryScanSkipsBadLockEntry(t *testing.T) {
	root := t.TempDir()
	valid := crashedTestSession(t, root, "4242-1")
	// The folder 1000-1 sorts first, and its lock path is a folder that no lock can open.
	for _, name := range []string{"1000-1", "1000-1.lock"} {
		if err := os.Mkdir(filepath.Join(root, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	orphans, _, err := findOrphanSessions(root, "")
	if err != nil {
		t.Fatalf("the scan stopped at the bad entry: %v", err)
	}
	checkOffered(t, orphans, valid)
	for _, name := range []string{"1000-1", "1000-1.lock"} {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("the scan removed %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "1000-1.lock.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the scan created a lock file for the folder 1000-1.lock (stat error %v)", err)
	}
}

// newRecoveryTestUI returns a headless viewer with no scan open whose autosave writes
// into root, as a viewer does at start before it offers recovery.
func newRecoveryTestUI(t *testing.T, root string) *viewerUI {
	t.Helper()
	a := test.NewApp()
	t.Cleanup(a.Quit)
	ui := newViewerUI(a, modelFlags{})
	ui.win.Resize(fyne.NewSize(1200, 860))
	ui.enableAutosave(root)
	ui.autosave.delay = time.Hour
	t.Cleanup(func() {
		if ui.autosave.timer != nil {
			ui.autosave.timer.Stop()
		}
		ui.autosave.wg.Wait()
	})
	return ui
}

// dialogButton returns the button labelled text of the dialog on top, or fails when
// that dialog is not titled title.
func dialogButton(t *testing.T, ui *viewerUI, title, text string) *widget.Button {
	t.Helper()
	overlay := ui.win.Canvas().Overlays().Top()
	if overlay == nil {
		t.Fatalf("no dialog is shown, want %q", title)
	}
	titles := findObjects(t, overlay, func(o fyne.CanvasObject) bool {
		l, ok := o.(*widget.Label)
		return ok && l.Text == title
	})
	if len(titles) == 0 {
		t.Fatalf("the dialog shown is not titled %q", title)
	}
	buttons := findObjects(t, overlay, func(o fyne.CanvasObject) bool {
		b, ok := o.(*widget.Button)
		return ok && b.Text == text
	})
	if len(buttons) != 1 {
		t.Fatalf("the dialog %q has %d buttons %q, want 1", title, len(buttons), text)
	}
	return buttons[0].(*widget.Button)
}

// moveRecoveredScan makes the scan of the recovery folder dir missing, as when the user
// moved it after the crash, and dates the session to the year 9999 so that it sorts
// before every other crashed session.
func moveRecoveredScan(t *testing.T, dir string) {
	t.Helper()
	file, _, err := readSessionFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	file.SavedAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	file.Source.Path = filepath.Join(t.TempDir(), "moved.nii.gz")
	if err := writeSessionJSON(dir, file); err != nil {
		t.Fatal(err)
	}
}

// waitForOpen waits until opened receives, which the tests' orElse sends when the
// viewer goes on to open what the command line names.
func waitForOpen(t *testing.T, opened <-chan struct{}) {
	t.Helper()
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the viewer did not go on to open the command line's scan within 10 s")
	}
}

// findOneOrphan returns the only crashed session in root, locked for ui.
func findOneOrphan(t *testing.T, ui *viewerUI, root string) *orphanSession {
	t.Helper()
	orphans, _, err := findOrphanSessions(root, ui.autosave.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 {
		t.Fatalf("found %d crashed sessions, want 1", len(orphans))
	}
	return orphans[0]
}

// The tests below call recoverSession on the test goroutine, where fyne's test driver
// also runs what it passes to fyne.Do, so that they read the dialogs without a data
// race. A tap on Recover would run it on a goroutine of its own.

func TestRecoverFailureKeepsFolderAndOpensInput(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
	}{
		{"scan moved", moveRecoveredScan},
		{"kidney mask truncated", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "kidney.nii.gz"), []byte{0x1f, 0x8b}, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			broken := crashedTestSession(t, root, "2-2")
			c.corrupt(t, broken)
			before := folderEntries(broken)
			ui := newRecoveryTestUI(t, root)
			opened := make(chan struct{}, 1)

			ui.recoverSession(findOneOrphan(t, ui, root), nil, func() { opened <- struct{}{} })
			test.Tap(dialogButton(t, ui, "Recover failed", "Keep"))
			waitForOpen(t, opened)

			if after := folderEntries(broken); !slices.Equal(after, before) {
				t.Errorf("the folder contains %q after the failed recover, want %q", after, before)
			}
			lock, err := lockRecoveryFolder(broken)
			if err != nil {
				t.Fatalf("the folder is still locked after the failed recover: %v", err)
			}
			lock.Close()
		})
	}
}

func TestRecoverFailureDiscardRemovesFolder(t *testing.T) {
	root := t.TempDir()
	broken := crashedTestSession(t, root, "2-2")
	moveRecoveredScan(t, broken)
	ui := newRecoveryTestUI(t, root)
	opened := make(chan struct{}, 1)

	ui.recoverSession(findOneOrphan(t, ui, root), nil, func() { opened <- struct{}{} })
	test.Tap(dialogButton(t, ui, "Recover failed", "Discard"))
	waitForOpen(t, opened)

	for _, path := range []string{broken, broken + ".lock"} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after Discard (stat error %v)", path, err)
		}
	}
}

func TestRecoverFailureOffersOlderSession(t *testing.T) {
	root := t.TempDir()
	valid := crashedTestSession(t, root, "1-1")
	broken := copyRecoveryFolder(t, valid, root, "2-2")
	moveRecoveredScan(t, broken)
	ui := newRecoveryTestUI(t, root)
	orphans, _, err := findOrphanSessions(root, ui.autosave.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 2 || orphans[0].dir != broken {
		t.Fatalf("found %d crashed sessions, want 2 with %s first", len(orphans), broken)
	}

	ui.recoverSession(orphans[0], orphans[1:], func() {
		t.Error("the viewer went on to open the command line's scan, want the older crashed session offered")
	})
	test.Tap(dialogButton(t, ui, "Recover failed", "Keep"))
	test.Tap(dialogButton(t, ui, "Recover unsaved edits?", "Recover"))

	// The recovered folder goes once its session is autosaved into the new folder.
	waitFor(t, "the recovered folder to be removed", func() bool {
		_, err := os.Stat(valid)
		return errors.Is(err, os.ErrNotExist)
	})
	ui.autosave.wg.Wait()
	if ui.study == nil {
		t.Fatal("no scan is open after the older session was recovered")
	}
	if _, err := os.Stat(filepath.Join(broken, sessionFileName)); err != nil {
		t.Errorf("the folder whose recover failed was not kept: %v", err)
	}
}
