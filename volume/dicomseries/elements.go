package dicomseries

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

// preambleSize is the length of the DICOM file preamble, after which "DICM" follows.
const preambleSize = 128

// errMissing marks a required element that is absent or empty.
var errMissing = fmt.Errorf("missing: %w", ErrMalformed)

// hasDICMPrefix reports whether b has the "DICM" marker after the 128-byte preamble,
// as every DICOM Part 10 file does.
func hasDICMPrefix(b []byte) bool {
	return len(b) >= preambleSize+4 && string(b[preambleSize:preambleSize+4]) == "DICM"
}

// parseDataset parses a whole DICOM file held in memory. A panic inside the parser,
// which github.com/suyashkumar/dicom v1.1.0 raises on some malformed files (its
// MustGet* helpers), becomes an error.
func parseDataset(content []byte, opts ...dicom.ParseOption) (ds dicom.Dataset, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the DICOM parser panicked (%v), so the file is probably malformed: %w", r, ErrMalformed)
		}
	}()
	ds, err = dicom.Parse(bytes.NewReader(content), int64(len(content)), nil, opts...)
	if err != nil {
		return ds, fmt.Errorf("parse: %w: %w", err, ErrMalformed)
	}
	return ds, nil
}

// elementName returns the keyword and tag of an element, such as
// "ImagePositionPatient (0020,0032)", for error messages.
func elementName(t tag.Tag) string {
	if info, err := tag.Find(t); err == nil {
		return info.Keyword + " " + t.String()
	}
	return t.String()
}

// transferSyntaxName returns the UID with its name, such as
// "1.2.840.10008.1.2.4.90 (JPEG 2000 Image Compression (Lossless Only))".
func transferSyntaxName(u string) string {
	if info, err := uid.Lookup(u); err == nil {
		return fmt.Sprintf("%s (%s)", u, info.Name)
	}
	return u + " (not a standard UID)"
}

// elementStrings returns the values of a string-valued element with surrounding
// spaces and NULs removed. It returns errMissing when the element is absent or has
// no non-empty value.
func elementStrings(ds *dicom.Dataset, t tag.Tag) ([]string, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return nil, fmt.Errorf("%s is %w", elementName(t), errMissing)
	}
	values, ok := e.Value.GetValue().([]string)
	if !ok {
		return nil, fmt.Errorf("%s has value type %v, want text: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
	}
	trimmed := make([]string, len(values))
	empty := true
	for n, v := range values {
		trimmed[n] = strings.Trim(v, " \x00")
		if trimmed[n] != "" {
			empty = false
		}
	}
	if empty {
		return nil, fmt.Errorf("%s is %w (empty)", elementName(t), errMissing)
	}
	return trimmed, nil
}

// elementString returns the first value of a string-valued element.
func elementString(ds *dicom.Dataset, t tag.Tag) (string, error) {
	values, err := elementStrings(ds, t)
	if err != nil {
		return "", err
	}
	return values[0], nil
}

// optionalString returns the first value of a string element, or "" when it is
// absent or not text.
func optionalString(ds *dicom.Dataset, t tag.Tag) string {
	s, err := elementString(ds, t)
	if err != nil {
		return ""
	}
	return s
}

// elementFloats returns exactly count numbers from a decimal string (DS) or a binary
// float or integer element.
func elementFloats(ds *dicom.Dataset, t tag.Tag, count int) ([]float64, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return nil, fmt.Errorf("%s is %w", elementName(t), errMissing)
	}
	var numbers []float64
	switch values := e.Value.GetValue().(type) {
	case []string:
		for _, v := range values {
			text := strings.Trim(v, " \x00")
			if text == "" && len(values) == 1 {
				return nil, fmt.Errorf("%s is %w (empty)", elementName(t), errMissing)
			}
			f, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, fmt.Errorf("%s value %q is not a number: %w", elementName(t), strings.Join(values, `\`), ErrMalformed)
			}
			numbers = append(numbers, f)
		}
	case []float64:
		numbers = values
	case []int:
		for _, v := range values {
			numbers = append(numbers, float64(v))
		}
	default:
		return nil, fmt.Errorf("%s has value type %v, want numbers: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
	}
	if len(numbers) != count {
		return nil, fmt.Errorf("%s has %d values %v, want %d: %w", elementName(t), len(numbers), numbers, count, ErrMalformed)
	}
	return numbers, nil
}

// elementInt returns the single value of an integer element (US, SS, UL, IS).
func elementInt(ds *dicom.Dataset, t tag.Tag) (int, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return 0, fmt.Errorf("%s is %w", elementName(t), errMissing)
	}
	switch values := e.Value.GetValue().(type) {
	case []int:
		if len(values) != 1 {
			return 0, fmt.Errorf("%s has %d values %v, want 1: %w", elementName(t), len(values), values, ErrMalformed)
		}
		return values[0], nil
	case []string:
		if len(values) != 1 {
			return 0, fmt.Errorf("%s has %d values %q, want 1: %w", elementName(t), len(values), values, ErrMalformed)
		}
		text := strings.Trim(values[0], " \x00")
		if text == "" {
			return 0, fmt.Errorf("%s is %w (empty)", elementName(t), errMissing)
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			return 0, fmt.Errorf("%s value %q is not an integer: %w", elementName(t), values[0], ErrMalformed)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("%s has value type %v, want an integer: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
	}
}

// metaTransferSyntax finds TransferSyntaxUID (0002,0010) in the file meta group of a
// Part 10 file without the full parser, which panics on transfer syntaxes it does not
// know. The meta group is always explicit VR little endian. ok is false when the
// element is not found.
func metaTransferSyntax(content []byte) (syntax string, ok bool) {
	at := preambleSize + 4
	for at+8 <= len(content) {
		group := binary.LittleEndian.Uint16(content[at:])
		element := binary.LittleEndian.Uint16(content[at+2:])
		if group != 0x0002 {
			return "", false
		}
		vr := string(content[at+4 : at+6])
		var length, header int
		switch vr {
		case "OB", "OW", "OF", "SQ", "UT", "UN":
			if at+12 > len(content) {
				return "", false
			}
			length, header = int(binary.LittleEndian.Uint32(content[at+8:])), 12
		default:
			length, header = int(binary.LittleEndian.Uint16(content[at+6:])), 8
		}
		if length < 0 || at+header+length > len(content) {
			return "", false
		}
		if element == 0x0010 {
			return strings.TrimRight(string(content[at+header:at+header+length]), " \x00"), true
		}
		at += header + length
	}
	return "", false
}
