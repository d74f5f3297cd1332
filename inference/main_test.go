package inference

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// runtimeProblem is empty when ONNX Runtime was initialized for the tests. Otherwise it
// contains the reason, and runtimeMissing reports whether the library file was absent.
var (
	runtimeProblem string
	runtimeMissing bool
)

// TestMain loads ONNX Runtime from $PROTRUDE_ORT_LIB, or from the copy that `make ort`
// puts under third_party when the variable is unset.
func TestMain(m *testing.M) {
	path := os.Getenv("PROTRUDE_ORT_LIB")
	if path == "" {
		path = filepath.Join("..", "third_party", "onnxruntime-1.24.1", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(path); err != nil {
		runtimeMissing = true
		runtimeProblem = fmt.Sprintf("ONNX Runtime library not found at %q (set PROTRUDE_ORT_LIB or run `make ort`): %v", path, err)
	} else if err := InitRuntime(path); err != nil {
		runtimeProblem = err.Error()
	}
	os.Exit(m.Run())
}

// requireRuntime skips the test when the ONNX Runtime library is absent, and fails it
// when the library is present but could not be loaded.
func requireRuntime(t *testing.T) {
	t.Helper()
	if runtimeMissing {
		t.Skip(runtimeProblem)
	}
	if runtimeProblem != "" {
		t.Fatalf("ONNX Runtime failed to initialize: %s", runtimeProblem)
	}
}
