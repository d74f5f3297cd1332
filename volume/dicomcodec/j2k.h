// C interface to OpenJPEG for one grey-scale JPEG 2000 frame, for cgo.
#ifndef PROTRUDE_J2K_H
#define PROTRUDE_J2K_H

#include <stddef.h>
#include <stdint.h>

// protrude_j2k_header is the part of a JPEG 2000 image header that is checked
// against the DICOM header: the image size and the first component's format.
typedef struct {
  uint32_t columns, rows;
  uint32_t components;
  uint32_t precision;
  int is_signed;
  uint32_t subsampling_x, subsampling_y;
} protrude_j2k_header;

// protrude_j2k_decode decodes a J2K codestream or JP2 file. It reads the header
// first and fills header. It returns 2 without decoding unless the image is
// columns × rows with one component of at most max_precision bits and no
// subsampling. On success it returns 0 and sets *samples to a malloc'ed array of
// columns × rows values, which the caller frees. On a decoding failure it returns 1
// and writes OpenJPEG's message to message.
int protrude_j2k_decode(const uint8_t *data, size_t size, uint32_t columns, uint32_t rows,
                        uint32_t max_precision, protrude_j2k_header *header,
                        int32_t **samples, char *message, size_t message_size);

#endif
