//go:build cgo

package gpu

// #include "shim.h"
import "C"

import "fmt"

// DeviceCount loads the library at libPath (empty: "libiegpu.so" on the
// loader's search path), as New does, and returns how many CUDA devices it
// sees; a Runtime runs on one of them (Config.Device), and the service
// builds one per device. Its errors wrap ErrUnavailable and say why (no
// library, no driver). No device at all is 0 and no error.
func DeviceCount(libPath string) (int, error) {
	if libPath == "" {
		libPath = "libiegpu.so"
	}
	if err := open(libPath); err != nil {
		return 0, err
	}
	var n C.int
	if err := call(func() C.int { return C.ie_device_count(&n) }); err != nil {
		return 0, fmt.Errorf("%w: counting CUDA devices: %v", ErrUnavailable, err)
	}
	return int(n), nil
}
