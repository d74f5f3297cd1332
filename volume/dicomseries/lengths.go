package dicomseries

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

// undefinedLength is the value length that marks a sequence or encapsulated pixel
// data ended by a delimiter.
const undefinedLength = 0xffffffff

// sequenceDelimitationElement is the element number of the (FFFE,E0DD) delimiter.
// Tags of group FFFE (items and delimiters) carry a 4-byte length and no VR in every
// transfer syntax.
const sequenceDelimitationElement = 0xe0dd

// longLengthVRs are the explicit VRs with two reserved bytes and a 4-byte length.
var longLengthVRs = map[string]bool{
	"OB": true, "OD": true, "OF": true, "OL": true, "OV": true, "OW": true,
	"SQ": true, "SV": true, "UC": true, "UN": true, "UR": true, "UT": true, "UV": true,
}

// checkElementLengths walks the element headers of a DICOM Part 10 file and rejects
// any defined value length that runs past the end of the file.
//
// github.com/suyashkumar/dicom v1.1.0 allocates a value's full length before it
// reads it, so a corrupt length such as 0xFFFFFFF0 costs gigabytes of memory even
// in a file of a few bytes. After this check, no allocation can exceed the file size.
// The walk enters sequences and skips the fragments of encapsulated pixel data.
//
// NOTE: a deflated dataset cannot be walked before inflating it, so only its file
// meta group is checked. The walk also stops, without error, at an undefined-length
// UN element, whose content is implicit VR whatever the transfer syntax.
func checkElementLengths(content []byte) error {
	w := lengthWalker{content: content, pos: preambleSize + 4, order: binary.LittleEndian}

	// The file meta group is always explicit VR little endian.
	syntax := ""
	for w.pos+4 <= len(content) && binary.LittleEndian.Uint16(content[w.pos:]) == tag.MetadataGroup {
		header, err := w.next()
		if err != nil {
			return err
		}
		if header.tag == tag.TransferSyntaxUID {
			syntax = strings.Trim(string(content[w.pos:w.pos+int(header.length)]), " \x00")
		}
		w.pos += int(header.length)
	}

	switch syntax {
	case "":
		return fmt.Errorf("%s is %w from the file meta group", elementName(tag.TransferSyntaxUID), errMissing)
	case uid.ImplicitVRLittleEndian:
		w.implicit = true
	case uid.ExplicitVRBigEndian:
		w.order = binary.BigEndian
	case uid.DeflatedExplicitVRLittleEndian:
		return nil
	}
	return w.walkDataset()
}

// elementHeader is one decoded element header.
type elementHeader struct {
	tag    tag.Tag
	vr     string // empty for implicit VR and for item and delimiter tags
	length uint32
}

// lengthWalker reads element headers from content, starting at pos.
type lengthWalker struct {
	content  []byte
	pos      int
	order    binary.ByteOrder
	implicit bool
	// fileSize, when set, is the size of the file of which content is the first
	// part. Value lengths are checked against it, and a header beyond content
	// returns errPrefixTooShort.
	fileSize int
}

// errPrefixTooShort means that the part of a file read so far ends before the
// element sought, so the whole file must be read.
var errPrefixTooShort = errors.New("the element lies beyond the bytes read so far")

// size returns the size of the whole file.
func (w *lengthWalker) size() int {
	if w.fileSize > 0 {
		return w.fileSize
	}
	return len(w.content)
}

// next decodes the element header at pos, moves pos to the value and checks that a
// defined length fits in the bytes left.
func (w *lengthWalker) next() (elementHeader, error) {
	start := w.pos
	left := len(w.content) - w.pos
	if left < 12 && w.size() > len(w.content) {
		return elementHeader{}, errPrefixTooShort
	}
	if left < 8 {
		return elementHeader{}, fmt.Errorf("element header at byte %d is cut short after %d bytes: %w", start, left, ErrMalformed)
	}
	h := elementHeader{tag: tag.Tag{
		Group:   w.order.Uint16(w.content[w.pos:]),
		Element: w.order.Uint16(w.content[w.pos+2:]),
	}}

	switch {
	case h.tag.Group == 0xfffe || w.implicit && h.tag.Group != tag.MetadataGroup:
		h.length = w.order.Uint32(w.content[w.pos+4:])
		w.pos += 8
	default:
		h.vr = string(w.content[w.pos+4 : w.pos+6])
		if longLengthVRs[h.vr] {
			if left < 12 {
				return h, fmt.Errorf("element %s header at byte %d is cut short after %d bytes: %w", h.tag, start, left, ErrMalformed)
			}
			h.length = w.order.Uint32(w.content[w.pos+8:])
			w.pos += 12
		} else {
			h.length = uint32(w.order.Uint16(w.content[w.pos+6:]))
			w.pos += 8
		}
	}

	if h.length != undefinedLength && int64(h.length) > int64(w.size()-w.pos) {
		return h, fmt.Errorf("element %s at byte %d has value length %d, but only %d bytes follow, so the file is truncated or corrupt: %w",
			elementName(h.tag), start, h.length, w.size()-w.pos, ErrMalformed)
	}
	return h, nil
}

// maxSequenceDepth is the deepest sequence nesting that the walk accepts. The DICOM
// parser recurses once per level with no limit of its own, so a few hundred thousand
// levels overflow the goroutine stack and kill the process. CT images nest a few
// levels at most.
const maxSequenceDepth = 32

// walkDataset checks every element from pos to the end of the file, and that
// sequences nest at most maxSequenceDepth levels deep.
func (w *lengthWalker) walkDataset() error {
	var definedEnds []int // ends of the enclosing defined-length sequences
	undefinedOpen := 0    // enclosing undefined-length sequences
	for w.pos < len(w.content) {
		for len(definedEnds) > 0 && w.pos >= definedEnds[len(definedEnds)-1] {
			definedEnds = definedEnds[:len(definedEnds)-1]
		}
		start := w.pos
		h, err := w.next()
		if err != nil {
			return err
		}
		switch {
		case h.tag.Group == 0xfffe:
			// Item headers of a sequence are transparent: the item's elements follow
			// and are walked next. Delimiters have no value.
			if h.tag.Element == sequenceDelimitationElement && undefinedOpen > 0 {
				undefinedOpen--
			}
		case h.length == undefinedLength && h.tag == tag.PixelData:
			if err := w.skipFragments(); err != nil {
				return err
			}
		case h.length == undefinedLength && h.vr == "UN":
			return nil
		case h.length == undefinedLength || w.isSequence(h):
			// Walk into the sequence, whose items follow.
			if h.length == undefinedLength {
				undefinedOpen++
			} else {
				definedEnds = append(definedEnds, w.pos+int(h.length))
			}
			if depth := undefinedOpen + len(definedEnds); depth > maxSequenceDepth {
				return fmt.Errorf("sequence %s at byte %d is nested %d levels deep, but at most %d levels are read: %w",
					elementName(h.tag), start, depth, maxSequenceDepth, ErrUnsupported)
			}
		default:
			w.pos += int(h.length)
		}
	}
	return nil
}

// isSequence reports whether a defined-length element is a sequence, from its VR or,
// for implicit VR, from the data dictionary.
func (w *lengthWalker) isSequence(h elementHeader) bool {
	if h.vr != "" {
		return h.vr == "SQ"
	}
	info, err := tag.Find(h.tag)
	return err == nil && len(info.VRs) > 0 && info.VRs[0] == "SQ"
}

// skipFragments skips the items of encapsulated pixel data up to and including the
// sequence delimiter.
func (w *lengthWalker) skipFragments() error {
	for w.pos < len(w.content) {
		h, err := w.next()
		if err != nil {
			return err
		}
		if h.tag.Group != 0xfffe {
			return fmt.Errorf("encapsulated %s contains element %s where an item was expected: %w", elementName(tag.PixelData), h.tag, ErrMalformed)
		}
		if h.tag.Element == sequenceDelimitationElement {
			return nil
		}
		if h.length == undefinedLength {
			return fmt.Errorf("encapsulated %s has a fragment of undefined length: %w", elementName(tag.PixelData), ErrMalformed)
		}
		w.pos += int(h.length)
	}
	return nil
}

// findPixelData walks the top-level elements from pos and returns the offset of the
// header of the top-level PixelData element. It skips sequences, including pixel
// data in icon images inside them. It returns errPrefixTooShort when content, the
// first part of the file, ends first, and -1 when the file has no top-level pixel
// data or when an undefined-length UN element stops the walk.
func (w *lengthWalker) findPixelData() (int, error) {
	depth := 0 // nesting in undefined-length sequences and items
	for w.pos < w.size() {
		start := w.pos
		h, err := w.next()
		if err != nil {
			return -1, err
		}
		switch {
		case h.tag.Group == 0xfffe:
			switch {
			case h.tag.Element == 0xe000 && h.length != undefinedLength:
				w.pos += int(h.length)
			case h.tag.Element == 0xe000:
				depth++
			default: // item or sequence delimiter
				depth--
			}
		case h.tag == tag.PixelData && depth == 0:
			return start, nil
		case h.length == undefinedLength && h.tag == tag.PixelData:
			if err := w.skipFragments(); err != nil {
				return -1, err
			}
		case h.length == undefinedLength && h.vr == "UN":
			return -1, nil
		case h.length == undefinedLength:
			depth++
		default:
			w.pos += int(h.length)
		}
	}
	return -1, nil
}
