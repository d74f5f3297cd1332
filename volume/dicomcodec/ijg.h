// C interface to DCMTK's IJG JPEG decoders, for cgo.
#ifndef PROTRUDE_IJG_H
#define PROTRUDE_IJG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// protrude_ijg_decode decodes one grey-scale JPEG frame with DCMTK's IJG library for
// the given sample precision: ijg8 up to 8 bits, ijg12 up to 12 and ijg16 above.
// out receives rows × columns samples of 1 byte (ijg8) or 2 bytes in host byte order
// (ijg12, ijg16). It returns 0 on success, and otherwise writes DCMTK's message to
// message.
int protrude_ijg_decode(int precision, const uint8_t *in, size_t in_size,
                        uint8_t *out, size_t out_size, int is_signed,
                        char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
