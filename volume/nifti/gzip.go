package nifti

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// gzipCheckLimit is the maximum number of decompressed bytes read after the voxel
// data, or after a header that failed to parse, to reach the end of the gzip member and
// check its CRC-32. It bounds the time that a file with a huge tail can cost.
const gzipCheckLimit = 256 << 20

// isGzip reports whether br starts with the gzip magic bytes 1f 8b.
func isGzip(br *bufio.Reader) bool {
	magic, err := br.Peek(2)
	return err == nil && magic[0] == 0x1f && magic[1] == 0x8b
}

// gzipStream decompresses a gzip file member by member and records the first error
// other than io.EOF, so that decode can tell a damaged stream from a malformed header.
//
// Bytes after a member that do not start another gzip member are ignored, as nibabel
// does. A later member that starts with the gzip
// magic bytes is read as a continuation of the data.
type gzipStream struct {
	src *bufio.Reader
	zr  *gzip.Reader
	// err is the first error other than io.EOF from the gzip reader.
	err error
	// decompressed counts the bytes returned so far.
	decompressed int64
	done         bool
}

func newGzipStream(src *bufio.Reader) (*gzipStream, error) {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("gzip header is invalid (%v), so the file is damaged or not gzip: %w", err, ErrMalformed)
	}
	zr.Multistream(false)
	return &gzipStream{src: src, zr: zr}, nil
}

func (g *gzipStream) Read(p []byte) (int, error) {
	for {
		if g.err != nil {
			return 0, g.err
		}
		if g.done {
			return 0, io.EOF
		}
		n, err := g.zr.Read(p)
		g.decompressed += int64(n)
		switch {
		case err == io.EOF:
			// The member ended and its CRC-32 and length matched. src is a
			// bufio.Reader, an io.ByteReader, so it is positioned just after the member.
			g.nextMember()
		case err != nil:
			g.err = err
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
	}
}

// nextMember starts the next gzip member when the bytes after the current one begin
// with the gzip magic, and otherwise marks the stream as done.
func (g *gzipStream) nextMember() {
	if !isGzip(g.src) {
		g.done = true
		return
	}
	if err := g.zr.Reset(g.src); err != nil {
		g.err = err
		return
	}
	g.zr.Multistream(false)
}

// drain reads and discards up to gzipCheckLimit bytes, so that a damaged member
// shows its error. A stream longer than that is left unchecked.
func (g *gzipStream) drain() {
	io.CopyN(io.Discard, g, gzipCheckLimit)
}

// corruption returns an ErrMalformed error when the stream failed for a reason other
// than ending early: a flate error, a CRC-32 or length mismatch, or a bad header of a
// later member. It returns nil when the stream is intact so far or is only cut short.
func (g *gzipStream) corruption() error {
	if g.err == nil || errors.Is(g.err, io.ErrUnexpectedEOF) {
		return nil
	}
	return fmt.Errorf("gzip stream is corrupt after %d decompressed bytes (%v), so the file is damaged; copy or export it again: %w",
		g.decompressed, g.err, ErrMalformed)
}
