// Package strictjson decodes the JSON files that Protrude writes, rejecting what a
// lenient decoder would let through: unknown fields, missing fields (DecodeComplete),
// data after the object and files larger than a limit.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Decode reads at most maxBytes from r and decodes them into v, which must be a
// pointer to a struct. what names the content in errors, such as "table object". An
// unknown field is an error that names it, as encoding/json does, and a value of the
// wrong JSON type names the field and the type wanted.
func Decode(r io.Reader, maxBytes int, v any, what string) error {
	_, err := decode(r, maxBytes, v, what)
	return err
}

// DecodeComplete is Decode for files whose every field matters: each struct field
// with a json tag and without omitempty must be present, at every depth. A missing one
// is an error that names its path, such as "layers[1].opacity is missing".
func DecodeComplete(r io.Reader, maxBytes int, v any, what string) error {
	data, err := decode(r, maxBytes, v, what)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return describe(err, data)
	}
	return checkPresent(tree, reflect.TypeOf(v).Elem(), "")
}

// decode is Decode; it also returns the bytes read.
func decode(r io.Reader, maxBytes int, v any, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(maxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBytes {
		return nil, fmt.Errorf("file is larger than %d bytes, the limit for a %s", maxBytes, what)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		start := string(trimmed[:min(len(trimmed), 12)])
		return nil, fmt.Errorf("invalid JSON: the file starts with %q, want a %s in braces", start, what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, describe(err, data)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: data after the " + what)
	}
	return data, nil
}

// describe rewrites a decoding error so that it names the JSON field and byte
// position, not the Go type.
func describe(err error, data []byte) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the top-level value"
		}
		return fmt.Errorf("invalid JSON: %s is a JSON %s, want %s", field, typeErr.Value, jsonKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		line := 1 + bytes.Count(data[:min(int(syntaxErr.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("invalid JSON on line %d (byte %d): %v", line, syntaxErr.Offset, syntaxErr)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// jsonKind names the JSON value that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// checkPresent walks the decoded JSON value alongside the Go type t and reports the
// first required struct field that the JSON lacks. path is the JSON path of value.
func checkPresent(value any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		object, ok := value.(map[string]any)
		if !ok {
			return nil // null, or a type the decoder already rejected
		}
		for n := 0; n < t.NumField(); n++ {
			f := t.Field(n)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			name, options, _ := strings.Cut(tag, ",")
			fieldPath := name
			if path != "" {
				fieldPath = path + "." + name
			}
			v, present := object[name]
			if !present {
				if strings.Contains(options, "omitempty") {
					continue
				}
				return fmt.Errorf("%s is missing", fieldPath)
			}
			if err := checkPresent(v, f.Type, fieldPath); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		items, _ := value.([]any)
		for n, item := range items {
			if err := checkPresent(item, t.Elem(), fmt.Sprintf("%s[%d]", path, n)); err != nil {
				return err
			}
		}
	case reflect.Map:
		object, _ := value.(map[string]any)
		for key, item := range object {
			if err := checkPresent(item, t.Elem(), path+"."+key); err != nil {
				return err
			}
		}
	}
	return nil
}
