package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeListsEveryShortcut keeps the Shortcuts table of README.md in step with the
// Help > Keyboard shortcuts dialog.
func TestReadmeListsEveryShortcut(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\n## Shortcuts\n")
	if start < 0 {
		t.Fatal("README.md has no \"## Shortcuts\" section")
	}
	section := text[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	rows := strings.Count(section, "\n| ") - 1 // minus the header row
	if rows != len(shortcuts) {
		t.Errorf("README.md Shortcuts table has %d rows, the dialog %d", rows, len(shortcuts))
	}
	for _, s := range shortcuts {
		row := "| " + strings.ToLower(s.input) + " | " + s.action + " |"
		if !strings.Contains(lowerFirstColumn(section), row) {
			t.Errorf("README.md Shortcuts table lacks the row %q", row)
		}
	}
}

// lowerFirstColumn lowers the case of the first cell of every table row in section, so
// that "Wheel" in the dialog matches "wheel" in the README.
func lowerFirstColumn(section string) string {
	lines := strings.Split(section, "\n")
	for n, l := range lines {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		if end := strings.Index(l[2:], " |"); end >= 0 {
			lines[n] = "| " + strings.ToLower(l[2:2+end]) + l[2+end:]
		}
	}
	return strings.Join(lines, "\n")
}
