// C side of package video: a small layer over libavformat, libavcodec,
// libswscale and libswresample (FFmpeg 5.1). Every function returns 0 or a
// negative AVERROR and writes a message into err; nothing here aborts.
// One call does a whole file (probe) or a whole frame (decode, encode).
#ifndef IE_VIDEO_SHIM_H
#define IE_VIDEO_SHIM_H

#include <stdint.h>

typedef struct ie_probe {
	char format[64];
	char video_codec[32];
	char audio_codec[32];
	int width, height;       // as displayed, rotation applied
	int rotation;            // clockwise degrees to apply: 0, 90, 180, 270
	int fps_num, fps_den;    // average frame rate
	int64_t frame_count;     // video packets counted one by one
	double duration;         // seconds spanned by the video packets
	int has_audio;
	int audio_rate, audio_channels;
	double audio_duration;   // seconds spanned by the audio packets
} ie_probe;

// ie_quiet keeps libav* from printing: errors come back as return values.
void ie_quiet(void);

int ie_probe_file(const char *path, ie_probe *out, char *err, int errlen);

typedef struct ie_decoder ie_decoder;

int ie_dec_open(const char *path, int threads, ie_decoder **out, char *err, int errlen);
// ie_dec_size gives the size of the frames ie_dec_next writes (rotation
// applied) and the stream's time base, in which pts are given.
void ie_dec_size(const ie_decoder *d, int *w, int *h, int *tb_num, int *tb_den, int *fr_num, int *fr_den);
// ie_dec_next decodes the next frame into dst (RGBA, w*h, stride bytes a
// row) and its presentation time, counted from the file's start. It returns
// 0 for a frame, 1 at the end, or a negative AVERROR.
int ie_dec_next(ie_decoder *d, uint8_t *dst, int stride, int64_t *pts, char *err, int errlen);
void ie_dec_close(ie_decoder *d);

typedef struct ie_encoder ie_encoder;

// ie_enc_open creates an MKV file with an H.264 stream of w*h frames whose
// pts are in tb, and the audio of audio_src (copied when AAC, else
// transcoded to AAC) when it has any. codec is "libx264" or "h264_nvenc";
// nvenc falls back to libx264 when it cannot open. preset is libx264's
// ("veryfast", ...), used by libx264 alone, fallback included.
int ie_enc_open(const char *path, const char *audio_src, const char *codec, const char *preset, int w, int h,
                int tb_num, int tb_den, int fr_num, int fr_den, ie_encoder **out, char *err, int errlen);
// ie_enc_codec names the video encoder actually in use.
const char *ie_enc_codec(const ie_encoder *e);
int ie_enc_write(ie_encoder *e, const uint8_t *rgba, int stride, int64_t pts, char *err, int errlen);
// ie_enc_finish drains the encoders, copies the audio left and writes the
// trailer. The file is complete only after it returns 0.
int ie_enc_finish(ie_encoder *e, char *err, int errlen);
void ie_enc_close(ie_encoder *e);

#endif
