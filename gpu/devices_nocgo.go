//go:build !cgo

package gpu

// DeviceCount reports that this binary was built without cgo.
func DeviceCount(libPath string) (int, error) { return 0, errNoCgo }
