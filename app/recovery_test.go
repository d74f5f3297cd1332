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

			orphans, err := findOrphanSessions(root, "")
			if err != nil {
				t.Fatal(err)
			}
			checkOffered(t, orphans, valid)
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

	orphans, err := findOrphanSessions(root, "")
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
		orphans, err := findOrphanSessions(root, ownDir)
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

	orphans, err := findOrphanSessions(root, "")
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
