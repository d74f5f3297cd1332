#include "j2k.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

// memory_stream is the source of an OpenJPEG stream that reads from a buffer.
typedef struct {
  const uint8_t *data;
  size_t size;
  size_t position;
} memory_stream;

static OPJ_SIZE_T memory_read(void *buffer, OPJ_SIZE_T count, void *user) {
  memory_stream *stream = user;
  if (stream->position >= stream->size) {
    return (OPJ_SIZE_T)-1; // end of stream, as OpenJPEG expects
  }
  size_t left = stream->size - stream->position;
  if (count > left) {
    count = left;
  }
  memcpy(buffer, stream->data + stream->position, count);
  stream->position += count;
  return count;
}

static OPJ_OFF_T memory_skip(OPJ_OFF_T count, void *user) {
  memory_stream *stream = user;
  if (count < 0) {
    if ((size_t)(-count) > stream->position) {
      return -1;
    }
  } else if ((size_t)count > stream->size - stream->position) {
    count = (OPJ_OFF_T)(stream->size - stream->position);
  }
  stream->position += count;
  return count;
}

static OPJ_BOOL memory_seek(OPJ_OFF_T offset, void *user) {
  memory_stream *stream = user;
  if (offset < 0 || (size_t)offset > stream->size) {
    return OPJ_FALSE;
  }
  stream->position = (size_t)offset;
  return OPJ_TRUE;
}

// message_buffer keeps the first error message of one decode.
typedef struct {
  char *text;
  size_t size;
  int written;
} message_buffer;

static void keep_error(const char *text, void *user) {
  message_buffer *message = user;
  if (message->written || message->size == 0) {
    return;
  }
  snprintf(message->text, message->size, "%s", text);
  // OpenJPEG messages end in a newline, which does not belong in an error string.
  size_t length = strlen(message->text);
  while (length > 0 && (message->text[length - 1] == '\n' || message->text[length - 1] == '\r')) {
    message->text[--length] = '\0';
  }
  message->written = 1;
}

static void ignore_message(const char *text, void *user) {
  (void)text;
  (void)user;
}

// is_jp2 reports whether data starts with the JP2 signature box rather than the
// SOC marker of a bare codestream.
static int is_jp2(const uint8_t *data, size_t size) {
  static const uint8_t signature[12] = {0, 0, 0, 0x0c, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a};
  return size >= sizeof signature && memcmp(data, signature, sizeof signature) == 0;
}

int protrude_j2k_decode(const uint8_t *data, size_t size, uint32_t columns, uint32_t rows,
                        uint32_t max_precision, protrude_j2k_header *header,
                        int32_t **samples, char *message_text, size_t message_size) {
  message_buffer message = {message_text, message_size, 0};
  memory_stream source = {data, size, 0};
  opj_codec_t *codec = NULL;
  opj_stream_t *stream = NULL;
  opj_image_t *image = NULL;
  int result = 1;
  *samples = NULL;
  memset(header, 0, sizeof *header);

  codec = opj_create_decompress(is_jp2(data, size) ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
  stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
  if (codec == NULL || stream == NULL) {
    snprintf(message_text, message_size, "cannot create an OpenJPEG decoder (out of memory)");
    goto done;
  }
  opj_stream_set_user_data(stream, &source, NULL);
  opj_stream_set_user_data_length(stream, size);
  opj_stream_set_read_function(stream, memory_read);
  opj_stream_set_skip_function(stream, memory_skip);
  opj_stream_set_seek_function(stream, memory_seek);

  opj_set_error_handler(codec, keep_error, &message);
  opj_set_warning_handler(codec, ignore_message, NULL);
  opj_set_info_handler(codec, ignore_message, NULL);

  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  if (!opj_setup_decoder(codec, &parameters) || !opj_decoder_set_strict_mode(codec, OPJ_TRUE)) {
    keep_error("cannot set up the decoder", &message);
    goto done;
  }
  if (!opj_read_header(stream, codec, &image)) {
    keep_error("cannot read the header", &message);
    goto done;
  }

  // Check the header before decoding, so that a corrupt size costs nothing.
  header->columns = image->x1 - image->x0;
  header->rows = image->y1 - image->y0;
  header->components = image->numcomps;
  if (image->numcomps > 0) {
    header->precision = image->comps[0].prec;
    header->is_signed = image->comps[0].sgnd != 0;
    header->subsampling_x = image->comps[0].dx;
    header->subsampling_y = image->comps[0].dy;
  }
  if (header->columns != columns || header->rows != rows || header->components != 1 ||
      header->precision < 1 || header->precision > max_precision ||
      header->subsampling_x != 1 || header->subsampling_y != 1) {
    result = 2;
    goto done;
  }

  if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
    keep_error("cannot decode the codestream", &message);
    goto done;
  }
  opj_image_comp_t *component = &image->comps[0];
  if (component->data == NULL || component->w != columns || component->h != rows) {
    snprintf(message_text, message_size, "decoded component is %ux%u, want %ux%u",
             component->w, component->h, columns, rows);
    goto done;
  }
  size_t count = (size_t)columns * rows;
  *samples = malloc(count * sizeof(int32_t));
  if (*samples == NULL) {
    snprintf(message_text, message_size, "cannot allocate %zu samples", count);
    goto done;
  }
  memcpy(*samples, component->data, count * sizeof(int32_t));
  result = 0;

done:
  if (image != NULL) {
    opj_image_destroy(image);
  }
  if (stream != NULL) {
    opj_stream_destroy(stream);
  }
  if (codec != NULL) {
    opj_destroy_codec(codec);
  }
  return result;
}
