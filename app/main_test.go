package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain points the tests at the ONNX Runtime library that `make ort` fetched, when
// PROTRUDE_ORT_LIB is not set, because the test binary does not live next to it.
func TestMain(m *testing.M) {
	if os.Getenv(ortLibEnv) == "" {
		lib, err := filepath.Abs(filepath.Join("..", "third_party", "onnxruntime-1.24.1", "libonnxruntime.so.1"))
		if err == nil {
			if _, err := os.Stat(lib); err == nil {
				os.Setenv(ortLibEnv, lib)
			}
		}
	}
	os.Exit(m.Run())
}
