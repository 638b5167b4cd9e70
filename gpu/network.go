//go:build cgo

package gpu

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"imageenhancer/enhance/graph"
)

// cnet is a network description in C memory whose weight pointers point at
// the Go slices, pinned until unpin: the library copies them while building.
type cnet struct {
	net    *C.iegpu_network
	convs  *C.iegpu_conv
	prelu  **C.float
	pinner runtime.Pinner
}

func (c *cnet) unpin() { c.pinner.Unpin() }

func (c *cnet) free() {
	c.pinner.Unpin()
	C.free(unsafe.Pointer(c.net))
	C.free(unsafe.Pointer(c.convs))
	if c.prelu != nil {
		C.free(unsafe.Pointer(c.prelu))
	}
}

// describe lays net out as the library's iegpu_network.
func describe(net graph.Network) (*cnet, error) {
	var convs []*graph.Conv
	var prelu [][]float32
	c := &cnet{net: (*C.iegpu_network)(C.calloc(1, C.size_t(unsafe.Sizeof(C.iegpu_network{}))))}
	switch n := net.(type) {
	case *graph.RRDBNet:
		convs = append(convs, &n.First)
		for b := range n.Body {
			for r := range n.Body[b] {
				for i := range n.Body[b][r] {
					convs = append(convs, &n.Body[b][r][i])
				}
			}
		}
		convs = append(convs, &n.ConvBody, &n.Up1, &n.Up2, &n.HR, &n.Last)
		c.net.arch = C.IEGPU_ARCH_RRDB
		c.net.scale = C.int(n.Scale)
		c.net.num_feat = C.int(n.NumFeat)
		c.net.num_grow = C.int(n.NumGrow)
	case *graph.SRVGG:
		for i := range n.Convs {
			convs = append(convs, &n.Convs[i])
		}
		if len(n.PReLU) < len(n.Convs)-1 {
			C.free(unsafe.Pointer(c.net))
			return nil, fmt.Errorf("gpu: SRVGG has %d PReLUs for %d convolutions", len(n.PReLU), len(n.Convs))
		}
		prelu = n.PReLU
		c.net.arch = C.IEGPU_ARCH_SRVGG
		c.net.scale = C.int(n.Upscale)
		c.net.num_feat = C.int(n.NumFeat)
	default:
		C.free(unsafe.Pointer(c.net))
		return nil, fmt.Errorf("gpu: unsupported network %T", net)
	}
	size := C.size_t(unsafe.Sizeof(C.iegpu_conv{}))
	c.convs = (*C.iegpu_conv)(C.calloc(C.size_t(len(convs)), size))
	cs := unsafe.Slice(c.convs, len(convs))
	for i, cv := range convs {
		if len(cv.Weight) != cv.Out*cv.In*cv.K*cv.K || (cv.Bias != nil && len(cv.Bias) != cv.Out) {
			c.free()
			return nil, fmt.Errorf("gpu: convolution %d: weight sizes do not match %dx%dx%d", i, cv.Out, cv.In, cv.K)
		}
		cs[i].out, cs[i].in, cs[i].k = C.int(cv.Out), C.int(cv.In), C.int(cv.K)
		if len(cv.Weight) > 0 {
			c.pinner.Pin(&cv.Weight[0])
			cs[i].weight = (*C.float)(unsafe.Pointer(&cv.Weight[0]))
		}
		if len(cv.Bias) > 0 {
			c.pinner.Pin(&cv.Bias[0])
			cs[i].bias = (*C.float)(unsafe.Pointer(&cv.Bias[0]))
		}
	}
	c.net.num_convs = C.int(len(convs))
	c.net.convs = c.convs
	if prelu != nil {
		c.prelu = (**C.float)(C.calloc(C.size_t(len(prelu)), C.size_t(unsafe.Sizeof((*C.float)(nil)))))
		ps := unsafe.Slice(c.prelu, len(prelu))
		for i, p := range prelu {
			if len(p) > 0 {
				c.pinner.Pin(&p[0])
				ps[i] = (*C.float)(unsafe.Pointer(&p[0]))
			}
		}
		c.net.prelu = c.prelu
	}
	return c, nil
}
