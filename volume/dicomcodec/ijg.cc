#include "ijg.h"

#include <mutex>
#include <stdio.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmjpeg/djcparam.h"
#include "dcmtk/dcmjpeg/djdijg12.h"
#include "dcmtk/dcmjpeg/djdijg16.h"
#include "dcmtk/dcmjpeg/djdijg8.h"
#include "dcmtk/oflog/oflog.h"

// DCMTK logs IJG warnings to stderr by default. A library must not print, and
// decode failures come back as errors, so only fatal messages are logged.
static std::once_flag quiet_logging;

extern "C" int protrude_ijg_decode(int precision, const uint8_t *in, size_t in_size,
                                   uint8_t *out, size_t out_size, int is_signed,
                                   char *message, size_t message_size) {
  std::call_once(quiet_logging, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });

  if (in_size > 0xffffffffu || out_size > 0xffffffffu) {
    snprintf(message, message_size, "frame of %zu bytes or output of %zu bytes exceeds 4 GiB", in_size, out_size);
    return 1;
  }

  // No colour conversion: frames here are grey-scale.
  DJCodecParameter params(ECC_lossyYCbCr, EDC_never, EUC_never, EPC_colorByPlane);
  DJDecoder *decoder;
  if (precision <= 8) {
    decoder = new DJDecompressIJG8Bit(params, OFFalse);
  } else if (precision <= 12) {
    decoder = new DJDecompressIJG12Bit(params, OFFalse);
  } else {
    decoder = new DJDecompressIJG16Bit(params, OFFalse);
  }

  OFCondition result = decoder->init();
  if (result.good()) {
    // DCMTK's decode does not write to the compressed buffer; its parameter is
    // only declared non-const.
    result = decoder->decode(const_cast<Uint8 *>(in), static_cast<Uint32>(in_size), out,
                             static_cast<Uint32>(out_size), is_signed ? OFTrue : OFFalse);
  }
  delete decoder;

  if (result.good()) {
    return 0;
  }
  if (result == EJ_Suspension) {
    snprintf(message, message_size, "the JPEG data end before the frame is complete");
  } else {
    snprintf(message, message_size, "%s", result.text());
  }
  return 1;
}
