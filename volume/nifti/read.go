package nifti

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"protrude/volume"
)

// maxVoxOffset bounds vox_offset so that a corrupt header cannot make the reader skip
// an absurd number of bytes. Extensions larger than 1 GiB are not expected.
const maxVoxOffset = 1 << 30

// initialReadBuffer is the first buffer size for voxel data from a stream of unknown
// length. The buffer then doubles as data arrives, so a header that claims more data
// than the stream holds costs about twice the data actually present.
const initialReadBuffer = 1 << 20

// Read reads a NIfTI-1 file as a scalar volume, with scl_slope and scl_inter applied,
// and returns its header. It rejects voxels that are NaN or infinite, and a path that
// is not a regular file, as [OpenRegular] does.
func Read(path string) (*volume.Volume, *Header, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: %w", err)
	}
	defer f.Close()

	v, h, err := decodeVolume(f)
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: read %s: %w", path, err)
	}
	return v, h, nil
}

// ReadMask reads a NIfTI-1 label file as a mask. Every value, after scl_slope and
// scl_inter, must be an integer from 0 to 255. A path that is not a regular file is
// rejected, as [OpenRegular] does.
func ReadMask(path string) (*volume.Mask, *Header, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: %w", err)
	}
	defer f.Close()

	m, h, err := decodeMask(f, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: read mask %s: %w", path, err)
	}
	return m, h, nil
}

// ReadMaskOnGrid reads a NIfTI-1 label file as [ReadMask] does, but first compares
// the grid in its header with want. When they differ, it returns an error wrapping
// [ErrGridMismatch] without reading any voxel, so a small gzip file whose header
// claims a huge grid costs no voxel memory. The sizes must be equal and the LPS
// affines must agree within [GridToleranceMM].
//
// NOTE: to check the CRC-32 of a rejected gzip file, up to 256 MiB of it is still
// decompressed and discarded, which takes a fraction of a second.
func ReadMaskOnGrid(path string, want volume.Grid) (*volume.Mask, *Header, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: %w", err)
	}
	defer f.Close()

	m, h, err := decodeMask(f, &want)
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: read mask %s: %w", path, err)
	}
	return m, h, nil
}

// ReadHeader reads only the header of a NIfTI-1 file, so that a caller can check its
// grid with [Header.Grid] before it reads the voxels. For a gzip file it decompresses
// only the first 348 bytes, so the gzip CRC-32 is not checked.
func ReadHeader(path string) (*Header, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: %w", err)
	}
	defer f.Close()

	h, err := decodeHeader(f)
	if err != nil {
		return nil, fmt.Errorf("nifti: read header %s: %w", path, err)
	}
	return h, nil
}

// CheckBinaryMask checks that every label of m is 0 or 1, as a mask file of one layer
// requires. Its error gives the number of other voxels and the index and label of the
// first one in file order. It has no package prefix, so callers can add the file.
func CheckBinaryMask(m *volume.Mask) error {
	count, first := 0, -1
	for n, label := range m.Labels {
		if label > 1 {
			if count == 0 {
				first = n
			}
			count++
		}
	}
	if count == 0 {
		return nil
	}
	i, j, k := unflatten(first, m.Size)
	return fmt.Errorf("%d voxels have labels other than 0 and 1, the first at index (%d, %d, %d) with label %d, but a mask of one layer must contain only 0 (outside) and 1 (inside)",
		count, i, j, k, m.Labels[first])
}

// decoded is a parsed file before its samples are converted.
type decoded struct {
	header *Header
	grid   volume.Grid
	raw    []byte
	slope  float64
	inter  float64
}

func decodeVolume(r io.Reader) (*volume.Volume, *Header, error) {
	d, err := decode(r, nil)
	if err != nil {
		return nil, nil, err
	}

	v := volume.NewVolume(d.grid)
	bad, firstBad, firstBadValue := 0, -1, 0.0
	forEachSample(d.raw, d.header.Datatype, d.header.ByteOrder, func(n int, stored float64) {
		value := float32(stored*d.slope + d.inter)
		if math.IsNaN(float64(value)) || math.IsInf(float64(value), 0) {
			if bad == 0 {
				firstBad, firstBadValue = n, stored*d.slope+d.inter
			}
			bad++
		}
		v.Voxels[n] = value
	})
	if bad > 0 {
		i, j, k := unflatten(firstBad, d.grid.Size)
		return nil, nil, fmt.Errorf("%d voxels are NaN or infinite as float32, the first at index (%d, %d, %d) with value %g; fill or crop them before loading: %w",
			bad, i, j, k, firstBadValue, ErrUnsupported)
	}
	return v, d.header, nil
}

// decodeMask reads a mask. When want is not nil, a file on another grid is rejected
// before its voxels are read.
func decodeMask(r io.Reader, want *volume.Grid) (*volume.Mask, *Header, error) {
	d, err := decode(r, want)
	if err != nil {
		return nil, nil, err
	}

	m := volume.NewMask(d.grid)
	bad, firstBad, firstBadValue := 0, -1, 0.0
	forEachSample(d.raw, d.header.Datatype, d.header.ByteOrder, func(n int, stored float64) {
		value := stored*d.slope + d.inter
		if !(value >= 0 && value <= 255) || value != math.Trunc(value) {
			if bad == 0 {
				firstBad, firstBadValue = n, value
			}
			bad++
			return
		}
		m.Labels[n] = uint8(value)
	})
	if bad > 0 {
		i, j, k := unflatten(firstBad, d.grid.Size)
		return nil, nil, fmt.Errorf("%d voxels are not integer labels from 0 to 255, the first at index (%d, %d, %d) with value %g; a label file must contain only such values: %w",
			bad, i, j, k, firstBadValue, ErrUnsupported)
	}
	return m, d.header, nil
}

// decode parses the header, checks the geometry and datatype and reads the raw voxel
// bytes. r may be gzip-compressed, which is detected from its first two bytes. When
// want is not nil, a header grid that differs from it is an error and no voxel is read.
func decode(r io.Reader, want *volume.Grid) (*decoded, error) {
	// The size of a plain file bounds the data before any large allocation.
	available := int64(-1)
	if f, ok := r.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			available = info.Size()
		}
	}

	br := bufio.NewReader(r)
	if !isGzip(br) {
		return decodeStream(br, available, want)
	}

	gz, err := newGzipStream(br)
	if err != nil {
		return nil, err
	}
	d, err := decodeStream(gz, -1, want)
	if err != nil {
		// A damaged stream can inflate to wrong bytes before flate notices, so a
		// header or data error may have corruption as its real cause. Reading on
		// finds the flate error or the CRC-32 mismatch, which is then reported.
		if gz.err == nil {
			gz.drain()
		}
		if gzErr := gz.corruption(); gzErr != nil {
			return nil, gzErr
		}
		return nil, err
	}
	// Reading to the end of the member checks its CRC-32, so voxel data damaged
	// inside the compressed stream is rejected rather than used.
	gz.drain()
	if gzErr := gz.corruption(); gzErr != nil {
		return nil, gzErr
	}
	if errors.Is(gz.err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("gzip stream ends after %d decompressed bytes, before its CRC-32, so the file is cut short: %w", gz.decompressed, ErrMalformed)
	}
	return d, nil
}

// decodeHeader reads the header from the start of r, which may be gzip-compressed.
func decodeHeader(r io.Reader) (*Header, error) {
	br := bufio.NewReader(r)
	if !isGzip(br) {
		return readHeader(br)
	}
	gz, err := newGzipStream(br)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(gz)
	if gzErr := gz.corruption(); err != nil && gzErr != nil {
		return nil, gzErr
	}
	return h, err
}

// readHeader reads and parses the 348 header bytes at the start of r.
func readHeader(r io.Reader) (*Header, error) {
	headerBytes := make([]byte, headerSize)
	if n, err := io.ReadFull(r, headerBytes); err != nil {
		return nil, fmt.Errorf("header: read %d of %d bytes (%v): %w", n, headerSize, err, ErrMalformed)
	}
	return parseHeader(headerBytes)
}

// decodeStream is [decode] on an uncompressed stream. available is the number of
// bytes r holds, or -1 when that is not known.
func decodeStream(r io.Reader, available int64, want *volume.Grid) (*decoded, error) {
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	g, err := h.grid()
	if err != nil {
		return nil, err
	}
	if want != nil {
		if err := volume.CheckSameGrid(g, *want); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrGridMismatch, err)
		}
	}
	bytesPerVoxel := datatypeSize(h.Datatype)
	if bytesPerVoxel == 0 {
		return nil, fmt.Errorf("datatype %s is not supported; convert the file to an integer or float32 type: %w",
			datatypeName(h.Datatype), ErrUnsupported)
	}
	slope, inter, err := h.scaling()
	if err != nil {
		return nil, err
	}

	// Skip extensions up to vox_offset. A single file's data cannot start before byte
	// 352, so a smaller vox_offset, such as 0, is read as 352.
	// NOTE: nibabel 5.0 instead reads such a file from the stored offset.
	offset := float64(h.VoxOffset)
	if !(offset >= 0 && offset <= maxVoxOffset) || offset != math.Trunc(offset) {
		return nil, fmt.Errorf("vox_offset is %g, want a whole number of bytes from 352 to %d: %w", h.VoxOffset, maxVoxOffset, ErrMalformed)
	}
	if offset < singleFileDataOffset {
		offset = singleFileDataOffset
	}
	if skipped, err := io.CopyN(io.Discard, r, int64(offset)-headerSize); err != nil {
		return nil, fmt.Errorf("file ends after %d bytes, before vox_offset %g: %w", headerSize+skipped, offset, ErrMalformed)
	}

	need := int64(g.NumVoxels()) * int64(bytesPerVoxel)
	if available >= 0 && available-int64(offset) < need {
		return nil, fmt.Errorf("voxel data is %d bytes, but dim %v with datatype %s needs %d: %w",
			available-int64(offset), h.Dim[1:4], datatypeName(h.Datatype), need, ErrMalformed)
	}
	var raw []byte
	if available >= 0 {
		raw = make([]byte, need)
		var n int
		n, err = io.ReadFull(r, raw)
		raw = raw[:n]
	} else {
		raw, err = readUpTo(r, need)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("voxel data ends after %d of %d bytes, so the file is cut short: %w", len(raw), need, ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("voxel data: %w", err)
	}
	if int64(len(raw)) < need {
		return nil, fmt.Errorf("voxel data is %d bytes, but dim %v with datatype %s needs %d: %w",
			len(raw), h.Dim[1:4], datatypeName(h.Datatype), need, ErrMalformed)
	}
	return &decoded{header: h, grid: g, raw: raw, slope: slope, inter: inter}, nil
}

// scaling returns the slope and intercept to apply to stored values. As in nibabel 5,
// a slope of 0 or a non-finite slope means no scaling, and a non-finite intercept with
// a valid slope is an error.
func (h *Header) scaling() (slope, inter float64, err error) {
	slope, inter = float64(h.SclSlope), float64(h.SclInter)
	if slope == 0 || math.IsNaN(slope) || math.IsInf(slope, 0) {
		return 1, 0, nil
	}
	if math.IsNaN(inter) || math.IsInf(inter, 0) {
		return 0, 0, fmt.Errorf("scl_inter is %g with scl_slope %g, want a finite intercept: %w", inter, slope, ErrMalformed)
	}
	return slope, inter, nil
}

// readUpTo reads up to n bytes, growing the buffer as data arrives rather than
// allocating n bytes up front. A read error other than end of file is returned.
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, initialReadBuffer))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, int64(cap(buf))*2))
			copy(grown, buf)
			buf = grown
		}
		got, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+got]
		if err == io.EOF {
			break
		}
		// Bytes after a complete volume are ignored, as nibabel does.
		if int64(len(buf)) >= n {
			break
		}
		if err != nil {
			return buf, fmt.Errorf("read after %d bytes: %w", len(buf), err)
		}
	}
	return buf, nil
}

// forEachSample calls fn with the flat index and value of every stored sample in raw.
// datatype must be one that datatypeSize accepts.
func forEachSample(raw []byte, datatype int16, order binary.ByteOrder, fn func(n int, stored float64)) {
	switch datatype {
	case DatatypeUint8:
		for n, b := range raw {
			fn(n, float64(b))
		}
	case DatatypeInt8:
		for n, b := range raw {
			fn(n, float64(int8(b)))
		}
	case DatatypeInt16:
		for n := 0; n < len(raw)/2; n++ {
			fn(n, float64(int16(order.Uint16(raw[2*n:]))))
		}
	case DatatypeUint16:
		for n := 0; n < len(raw)/2; n++ {
			fn(n, float64(order.Uint16(raw[2*n:])))
		}
	case DatatypeInt32:
		for n := 0; n < len(raw)/4; n++ {
			fn(n, float64(int32(order.Uint32(raw[4*n:]))))
		}
	case DatatypeUint32:
		for n := 0; n < len(raw)/4; n++ {
			fn(n, float64(order.Uint32(raw[4*n:])))
		}
	case DatatypeFloat32:
		for n := 0; n < len(raw)/4; n++ {
			fn(n, float64(math.Float32frombits(order.Uint32(raw[4*n:]))))
		}
	case DatatypeFloat64:
		for n := 0; n < len(raw)/8; n++ {
			fn(n, math.Float64frombits(order.Uint64(raw[8*n:])))
		}
	}
}

// unflatten converts a flat voxel offset back to (i, j, k).
func unflatten(n int, size [3]int) (i, j, k int) {
	return n % size[0], (n / size[0]) % size[1], n / (size[0] * size[1])
}
