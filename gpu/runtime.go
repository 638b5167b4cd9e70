//go:build cgo

package gpu

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"imageenhancer/enhance/graph"
)

// Runtime is a CUDA context on one GPU. It is safe for concurrent use; the
// Models it loads are not (enhance serialises them).
type Runtime struct {
	cfg  Config
	mu   sync.Mutex
	ctx  *C.iegpu_context
	info Info
	// The context outlives its models: Close defers destroying it until
	// the last Model is closed.
	models int
	closed bool
}

// status is a failed call of the library: its code and message.
type status struct {
	code int
	msg  string
}

func (s *status) Error() string { return "gpu: " + s.msg }

// Is makes errors.Is(err, ErrOutOfMemory), graph.ErrOutOfMemory and
// ErrUnavailable work.
func (s *status) Is(target error) bool {
	switch target {
	case ErrOutOfMemory, graph.ErrOutOfMemory:
		return s.code == C.IEGPU_ERR_OOM
	case ErrUnavailable:
		return s.code == C.IEGPU_ERR_NO_DEVICE || s.code == C.IEGPU_ERR_DRIVER
	}
	return false
}

// call runs f on a locked OS thread, so that the library's thread-local last
// error belongs to this call, and turns a failure into an error.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == C.IEGPU_OK {
		return nil
	}
	var buf [512]C.char
	C.ie_last_error(&buf[0], C.size_t(len(buf)))
	return &status{code: int(st), msg: C.GoString(&buf[0])}
}

var openMu sync.Mutex

// open loads the library at path (once per process); its error wraps
// ErrUnavailable and says why.
func open(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var errbuf [1024]C.char
	openMu.Lock()
	rc := C.ie_open(cpath, &errbuf[0], C.size_t(len(errbuf)))
	openMu.Unlock()
	if rc != 0 {
		return fmt.Errorf("%w: loading the CUDA library: %s", ErrUnavailable, C.GoString(&errbuf[0]))
	}
	return nil
}

// New loads the library, finds the device and creates a context on it. Its
// errors wrap ErrUnavailable when the GPU cannot be used here; they say why
// (library not found, no CUDA device, driver too old) for logs and health.
func New(cfg Config) (*Runtime, error) {
	path := cfg.LibPath
	if path == "" {
		path = "libiegpu.so"
	}
	if err := open(path); err != nil {
		return nil, err
	}
	var n C.int
	if err := call(func() C.int { return C.ie_device_count(&n) }); err != nil {
		return nil, fmt.Errorf("%w: no CUDA device: %v", ErrUnavailable, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no CUDA device", ErrUnavailable)
	}
	r := &Runtime{cfg: cfg}
	if err := call(func() C.int { return C.ie_context_create(C.int(cfg.Device), &r.ctx) }); err != nil {
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return nil, err
	}
	runtime.SetFinalizer(r, (*Runtime).Close)
	info, err := r.Info()
	if err != nil {
		r.Close()
		return nil, err
	}
	r.info = info
	return r, nil
}

// Name implements enhance.Runtime: "gpu".
func (r *Runtime) Name() string { return "gpu" }

// Info reports the GPU's name and memory (free memory as of now).
func (r *Runtime) Info() (Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.closed {
		return Info{}, errors.New("gpu: runtime closed")
	}
	var name [256]C.char
	var total, free C.size_t
	var drv, rt, major, minor C.int
	err := call(func() C.int {
		return C.ie_context_info(r.ctx, &name[0], C.size_t(len(name)), &total, &free, &drv, &rt, &major, &minor)
	})
	if err != nil {
		return Info{}, err
	}
	// The driver does not change under a running process: /proc is read
	// once, by New, not on each MaxTile.
	driver := r.info.Driver
	if driver == "" {
		driver = driverVersion(int(drv))
	}
	return Info{
		Device:       r.cfg.Device,
		Name:         C.GoString(&name[0]),
		TotalBytes:   uint64(total),
		FreeBytes:    uint64(free),
		Driver:       driver,
		CUDARuntime:  int(rt),
		ComputeMajor: int(major),
		ComputeMinor: int(minor),
	}, nil
}

// driverVersion is the kernel module's version when Linux shows it, else
// the CUDA driver API version: plans are tuned per driver.
func driverVersion(api int) string {
	if b, err := os.ReadFile("/proc/driver/nvidia/version"); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if strings.Count(f, ".") >= 1 && f[0] >= '0' && f[0] <= '9' {
				return f
			}
		}
	}
	return fmt.Sprintf("cuda%d", api)
}

// Close releases the context once every Model loaded from it is closed.
// Calling it twice is safe.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	runtime.SetFinalizer(r, nil)
	return r.destroyLocked()
}

// release is a closed Model's: one model fewer, and the context goes if
// the runtime is closed and this was the last.
func (r *Runtime) release() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.models--
	return r.destroyLocked()
}

func (r *Runtime) destroyLocked() error {
	if r.ctx == nil || !r.closed || r.models > 0 {
		return nil
	}
	err := call(func() C.int { return C.ie_context_destroy(r.ctx) })
	r.ctx = nil
	return err
}
