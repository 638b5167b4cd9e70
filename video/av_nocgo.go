//go:build !cgo || nolibav

package video

// Probe fails: this build has no FFmpeg.
func Probe(path string) (Info, error) { return Info{}, ErrNoFFmpeg }

// Decoder is a stub in builds without FFmpeg.
type Decoder struct{}

// OpenDecoder fails: this build has no FFmpeg.
func OpenDecoder(path string) (*Decoder, error) { return nil, ErrNoFFmpeg }

// Size is zero.
func (d *Decoder) Size() (w, h int) { return 0, 0 }

// TimeBase is zero.
func (d *Decoder) TimeBase() Rational { return Rational{} }

// FrameRate is zero.
func (d *Decoder) FrameRate() Rational { return Rational{} }

// Next fails.
func (d *Decoder) Next() (Frame, error) { return Frame{}, ErrNoFFmpeg }

// Close does nothing.
func (d *Decoder) Close() error { return nil }

// Encoder is a stub in builds without FFmpeg.
type Encoder struct{}

// NewEncoder fails: this build has no FFmpeg.
func NewEncoder(path string, cfg EncoderConfig) (*Encoder, error) { return nil, ErrNoFFmpeg }

// Codec is empty.
func (e *Encoder) Codec() string { return "" }

// Write fails.
func (e *Encoder) Write(f Frame) error { return ErrNoFFmpeg }

// Finish fails.
func (e *Encoder) Finish() error { return ErrNoFFmpeg }

// Close does nothing.
func (e *Encoder) Close() error { return nil }
