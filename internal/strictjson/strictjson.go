// Package strictjson decodes the JSON files that Protrude writes, rejecting what a
// lenient decoder would let through: unknown fields, data after the object and files
// larger than a limit.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode reads at most maxBytes from r and decodes them into v, which must be a
// pointer. what names the content in errors, such as "table object". An unknown field
// is an error that names it, as encoding/json does.
func Decode(r io.Reader, maxBytes int, v any, what string) error {
	data, err := io.ReadAll(io.LimitReader(r, int64(maxBytes)+1))
	if err != nil {
		return err
	}
	if len(data) > maxBytes {
		return fmt.Errorf("file is larger than %d bytes, the limit for a %s", maxBytes, what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: data after the " + what)
	}
	return nil
}
