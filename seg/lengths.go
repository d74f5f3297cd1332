package seg

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// undefinedLength marks a sequence, item or encapsulated pixel data ended by a
// delimiter.
const undefinedLength = 0xffffffff

// implicitVRLittleEndian is the transfer syntax UID of implicit VR little endian.
const implicitVRLittleEndian = "1.2.840.10008.1.2"

// maxSequenceDepth is the deepest sequence nesting that [checkElementLengths] accepts.
// github.com/suyashkumar/dicom v1.1.0 parses each level with a recursive call and has
// no limit of its own, so about 700,000 levels overflow the goroutine stack, which
// kills the process rather than panicking. The SEGs that [Write] produces nest 4
// levels deep.
const maxSequenceDepth = 32

// checkElementLengths walks the element headers of a DICOM Part 10 file and rejects
// any defined value length that runs past the end of the file, sequences nested more
// than maxSequenceDepth levels deep, and transfer syntaxes other than implicit and
// explicit VR little endian and their compressed variants.
//
// github.com/suyashkumar/dicom v1.1.0 allocates a value's full length before it
// reads it, so a corrupt length such as 0xFFFFFFF0 would cost gigabytes of memory
// in a file of a few bytes. After this check, no allocation exceeds the file size.
//
// NOTE: package dicomseries has the same walk for CT slices, unexported. Both
// should move to one shared package.
func checkElementLengths(content []byte) error {
	w := lengthWalker{content: content, pos: 132, explicit: true}

	// The file meta group is always explicit VR little endian.
	syntax := ""
	for w.pos+2 <= len(content) && binary.LittleEndian.Uint16(content[w.pos:]) == 0x0002 {
		h, err := w.next()
		if err != nil {
			return err
		}
		if err := w.skipValue(h); err != nil {
			return err
		}
		if h.tag == tag.TransferSyntaxUID {
			syntax = strings.TrimRight(string(content[w.pos-int(h.length):w.pos]), " \x00")
		}
	}
	switch {
	case syntax == implicitVRLittleEndian:
		w.explicit = false
	case syntax == explicitVRLittleEndian || strings.HasPrefix(syntax, "1.2.840.10008.1.2.4.") || syntax == "1.2.840.10008.1.2.5":
		// Compressed syntaxes keep explicit VR little endian outside the pixel data.
	default:
		return fmt.Errorf("%s is %q; only little endian, uncompressed or encapsulated files are read: %w", elementName(tag.TransferSyntaxUID), syntax, ErrUnsupported)
	}
	return w.walkDataset(len(content), false)
}

// elementHeader is a decoded element header: tag, VR (explicit VR only) and length.
type elementHeader struct {
	tag    tag.Tag
	vr     string
	length uint32
}

// lengthWalker reads element headers from content, starting at pos.
type lengthWalker struct {
	content  []byte
	pos      int
	explicit bool
	// depth is the number of sequences that enclose pos.
	depth int
}

// next reads one element header.
func (w *lengthWalker) next() (elementHeader, error) {
	if w.pos+8 > len(w.content) {
		return elementHeader{}, fmt.Errorf("element header at byte %d runs past the end of the %d-byte file: %w", w.pos, len(w.content), ErrMalformed)
	}
	b := w.content[w.pos:]
	h := elementHeader{tag: tag.Tag{Group: binary.LittleEndian.Uint16(b), Element: binary.LittleEndian.Uint16(b[2:])}}
	if h.tag.Group == 0xfffe || !w.explicit {
		h.length = binary.LittleEndian.Uint32(b[4:])
		w.pos += 8
		return h, nil
	}
	h.vr = string(b[4:6])
	if hasLongLength(h.vr) {
		if w.pos+12 > len(w.content) {
			return elementHeader{}, fmt.Errorf("element %s header at byte %d runs past the end of the %d-byte file: %w", h.tag, w.pos, len(w.content), ErrMalformed)
		}
		h.length = binary.LittleEndian.Uint32(b[8:])
		w.pos += 12
		return h, nil
	}
	h.length = uint32(binary.LittleEndian.Uint16(b[6:]))
	w.pos += 8
	return h, nil
}

// skipValue moves past a defined-length value after checking that it fits the file.
func (w *lengthWalker) skipValue(h elementHeader) error {
	if h.length == undefinedLength || int64(w.pos)+int64(h.length) > int64(len(w.content)) {
		return fmt.Errorf("element %s at byte %d has length %d, past the end of the %d-byte file: %w", h.tag, w.pos, h.length, len(w.content), ErrMalformed)
	}
	w.pos += int(h.length)
	return nil
}

// isSequence reports whether an element's value is a sequence of items.
func (w *lengthWalker) isSequence(h elementHeader) bool {
	if w.explicit {
		return h.vr == "SQ"
	}
	info, err := tag.Find(h.tag)
	return err == nil && len(info.VRs) > 0 && info.VRs[0] == "SQ"
}

// walkDataset checks the elements up to end, or up to an item delimiter when
// inItem is true and the item has undefined length.
func (w *lengthWalker) walkDataset(end int, inItem bool) error {
	for w.pos < end {
		h, err := w.next()
		if err != nil {
			return err
		}
		if h.tag.Group == 0xfffe {
			if inItem && h.tag.Element == 0xe00d {
				return nil
			}
			return fmt.Errorf("unexpected item or delimiter %s at byte %d: %w", h.tag, w.pos-8, ErrMalformed)
		}
		switch {
		case h.tag == tag.PixelData && h.length == undefinedLength:
			if err := w.walkItems(true); err != nil {
				return err
			}
		case h.length == undefinedLength || w.isSequence(h):
			if err := w.walkSequence(h); err != nil {
				return err
			}
		default:
			if err := w.skipValue(h); err != nil {
				return err
			}
		}
	}
	if w.pos > end {
		return fmt.Errorf("elements run to byte %d, past their enclosing end at byte %d: %w", w.pos, end, ErrMalformed)
	}
	return nil
}

// walkSequence checks the items of a sequence with a defined or undefined length.
func (w *lengthWalker) walkSequence(h elementHeader) error {
	if w.depth >= maxSequenceDepth {
		return fmt.Errorf("sequence %s at byte %d is nested %d levels deep, but at most %d levels are read: %w",
			elementName(h.tag), w.pos, w.depth+1, maxSequenceDepth, ErrUnsupported)
	}
	w.depth++
	defer func() { w.depth-- }()

	if h.length == undefinedLength {
		return w.walkItems(false)
	}
	end := int64(w.pos) + int64(h.length)
	if end > int64(len(w.content)) {
		return fmt.Errorf("sequence %s at byte %d has length %d, past the end of the %d-byte file: %w", h.tag, w.pos, h.length, len(w.content), ErrMalformed)
	}
	for w.pos < int(end) {
		if err := w.walkItem(int(end)); err != nil {
			return err
		}
	}
	return nil
}

// walkItems checks items up to a sequence delimiter. Fragments of encapsulated pixel
// data are skipped, and the items of a sequence are walked.
func (w *lengthWalker) walkItems(fragments bool) error {
	for {
		if w.pos+8 > len(w.content) {
			return fmt.Errorf("sequence delimiter missing before the end of the %d-byte file: %w", len(w.content), ErrMalformed)
		}
		if binary.LittleEndian.Uint16(w.content[w.pos:]) == 0xfffe && binary.LittleEndian.Uint16(w.content[w.pos+2:]) == 0xe0dd {
			w.pos += 8
			return nil
		}
		if fragments {
			h, err := w.next()
			if err != nil {
				return err
			}
			if err := w.skipValue(h); err != nil {
				return err
			}
			continue
		}
		if err := w.walkItem(len(w.content)); err != nil {
			return err
		}
	}
}

// walkItem checks one item, which must end by end.
func (w *lengthWalker) walkItem(end int) error {
	h, err := w.next()
	if err != nil {
		return err
	}
	if h.tag != tag.Item {
		return fmt.Errorf("expected an item (FFFE,E000) at byte %d, found %s: %w", w.pos-8, h.tag, ErrMalformed)
	}
	if h.length == undefinedLength {
		err = w.walkDataset(end, true)
	} else {
		itemEnd := int64(w.pos) + int64(h.length)
		if itemEnd > int64(end) {
			return fmt.Errorf("item at byte %d has length %d, past its enclosing end at byte %d: %w", w.pos-8, h.length, end, ErrMalformed)
		}
		err = w.walkDataset(int(itemEnd), false)
	}
	return err
}
