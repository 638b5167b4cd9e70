//go:build cgo && !nolibav

package video

/*
#cgo pkg-config: libavformat libavcodec libswscale libswresample libavutil
#cgo CFLAGS: -O2
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// errLen is the size of the message buffer the shim writes into.
const errLen = 256

var quiet sync.Once

func avError(what string, buf []C.char) error {
	return fmt.Errorf("video: %s: %s", what, C.GoString(&buf[0]))
}

// Probe reads the container and counts the video stream's packets, without
// decoding. It fails for anything without a video stream.
func Probe(path string) (Info, error) {
	quiet.Do(func() { C.ie_quiet() })
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var p C.ie_probe
	buf := make([]C.char, errLen)
	if C.ie_probe_file(cpath, &p, &buf[0], errLen) < 0 {
		return Info{}, avError("probe", buf)
	}
	in := Info{
		Format:        C.GoString(&p.format[0]),
		VideoCodec:    C.GoString(&p.video_codec[0]),
		Width:         int(p.width),
		Height:        int(p.height),
		Rotation:      int(p.rotation),
		FrameRate:     Rational{int(p.fps_num), int(p.fps_den)},
		FrameCount:    int(p.frame_count),
		Duration:      seconds(float64(p.duration)),
		HasAudio:      p.has_audio != 0,
		AudioCodec:    C.GoString(&p.audio_codec[0]),
		AudioRate:     int(p.audio_rate),
		AudioChannels: int(p.audio_channels),
		AudioDuration: seconds(float64(p.audio_duration)),
	}
	in.FPS = in.FrameRate.Float()
	return in, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Decoder yields a file's video frames as RGBA images, rotated as the file
// asks players to show them.
type Decoder struct {
	d        *C.ie_decoder
	w, h     int
	tb, rate Rational
	msg      [errLen]C.char // the shim's error message, reused frame after frame
}

// OpenDecoder opens the video stream of path.
func OpenDecoder(path string) (*Decoder, error) {
	quiet.Do(func() { C.ie_quiet() })
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	buf := make([]C.char, errLen)
	var d *C.ie_decoder
	// 0 lets libavcodec pick its thread count from the cores.
	if C.ie_dec_open(cpath, 0, &d, &buf[0], errLen) < 0 {
		return nil, avError("open decoder", buf)
	}
	var w, h, tn, td, fn, fd C.int
	C.ie_dec_size(d, &w, &h, &tn, &td, &fn, &fd)
	dec := &Decoder{d: d, w: int(w), h: int(h), tb: Rational{int(tn), int(td)}, rate: Rational{int(fn), int(fd)}}
	runtime.SetFinalizer(dec, (*Decoder).Close)
	return dec, nil
}

// Size is the size of the frames Next returns.
func (d *Decoder) Size() (w, h int) { return d.w, d.h }

// TimeBase is the unit of Frame.PTS.
func (d *Decoder) TimeBase() Rational { return d.tb }

// FrameRate is the stream's average frame rate.
func (d *Decoder) FrameRate() Rational { return d.rate }

// Next decodes the next frame into a new image; io.EOF at the end.
func (d *Decoder) Next() (Frame, error) {
	if d.d == nil {
		return Frame{}, errors.New("video: decoder closed")
	}
	img := image.NewRGBA(image.Rect(0, 0, d.w, d.h))
	var pts C.int64_t
	ret := C.ie_dec_next(d.d, (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Stride), &pts, &d.msg[0], errLen)
	switch {
	case ret == 1:
		return Frame{}, io.EOF
	case ret < 0:
		return Frame{}, avError("decode", d.msg[:])
	}
	return Frame{Image: img, PTS: int64(pts)}, nil
}

// Close releases the decoder; it is safe to call twice.
func (d *Decoder) Close() error {
	if d.d != nil {
		C.ie_dec_close(d.d)
		d.d = nil
		runtime.SetFinalizer(d, nil)
	}
	return nil
}

// Encoder writes RGBA frames as H.264 into an MKV file, with the audio of
// another file (copied when AAC, else transcoded to AAC).
type Encoder struct {
	e     *C.ie_encoder
	codec string
	w, h  int
	msg   [errLen]C.char // the shim's error message, reused frame after frame
}

// NewEncoder creates the file at path. An unknown codec or preset is
// rejected before anything is created.
func NewEncoder(path string, cfg EncoderConfig) (*Encoder, error) {
	quiet.Do(func() { C.ie_quiet() })
	if cfg.Codec == "" {
		cfg.Codec = "libx264"
	}
	if cfg.Codec != "libx264" && cfg.Codec != "h264_nvenc" {
		return nil, fmt.Errorf("video: unknown encoder %q (libx264 or h264_nvenc)", cfg.Codec)
	}
	if err := CheckX264Preset(cfg.Preset); err != nil {
		return nil, err
	}
	if cfg.Preset == "" {
		cfg.Preset = DefaultX264Preset
	}
	if cfg.TimeBase.Num <= 0 || cfg.TimeBase.Den <= 0 {
		return nil, errors.New("video: encoder needs a time base")
	}
	if cfg.FrameRate.Num <= 0 || cfg.FrameRate.Den <= 0 {
		cfg.FrameRate = Rational{25, 1}
	}
	cpath, ccodec, cpreset := C.CString(path), C.CString(cfg.Codec), C.CString(cfg.Preset)
	defer C.free(unsafe.Pointer(cpath))
	defer C.free(unsafe.Pointer(ccodec))
	defer C.free(unsafe.Pointer(cpreset))
	var caudio *C.char
	if cfg.AudioFrom != "" {
		caudio = C.CString(cfg.AudioFrom)
		defer C.free(unsafe.Pointer(caudio))
	}
	buf := make([]C.char, errLen)
	var e *C.ie_encoder
	if C.ie_enc_open(cpath, caudio, ccodec, cpreset, C.int(cfg.Width), C.int(cfg.Height),
		C.int(cfg.TimeBase.Num), C.int(cfg.TimeBase.Den), C.int(cfg.FrameRate.Num), C.int(cfg.FrameRate.Den),
		&e, &buf[0], errLen) < 0 {
		return nil, avError("open encoder", buf)
	}
	enc := &Encoder{e: e, codec: C.GoString(C.ie_enc_codec(e)), w: cfg.Width, h: cfg.Height}
	runtime.SetFinalizer(enc, (*Encoder).Close)
	return enc, nil
}

// Codec names the H.264 encoder in use: h264_nvenc falls back to libx264
// when no NVIDIA encoder can be opened.
func (e *Encoder) Codec() string { return e.codec }

// Write encodes one frame of the configured size.
func (e *Encoder) Write(f Frame) error {
	if e.e == nil {
		return errors.New("video: encoder closed")
	}
	if b := f.Image.Bounds(); b.Dx() != e.w || b.Dy() != e.h || len(f.Image.Pix) == 0 {
		return fmt.Errorf("video: frame is %dx%d, the encoder takes %dx%d", b.Dx(), b.Dy(), e.w, e.h)
	}
	if C.ie_enc_write(e.e, (*C.uint8_t)(unsafe.Pointer(&f.Image.Pix[0])), C.int(f.Image.Stride), C.int64_t(f.PTS), &e.msg[0], errLen) < 0 {
		return avError("encode", e.msg[:])
	}
	return nil
}

// Finish flushes the encoders, adds the rest of the audio and completes the
// file. Close must still be called.
func (e *Encoder) Finish() error {
	if e.e == nil {
		return errors.New("video: encoder closed")
	}
	buf := make([]C.char, errLen)
	if C.ie_enc_finish(e.e, &buf[0], errLen) < 0 {
		return avError("finish", buf)
	}
	return nil
}

// Close releases the encoder; it is safe to call twice. Without Finish the
// file is left incomplete.
func (e *Encoder) Close() error {
	if e.e != nil {
		C.ie_enc_close(e.e)
		e.e = nil
		runtime.SetFinalizer(e, nil)
	}
	return nil
}
