package graph

// GFPGAN is GFPGANv1Clean, the architecture of the official GFPGANv1.3 and
// GFPGANv1.4 checkpoints, in the official inference configuration
// (input_is_latent, different_w, stored noise): a U-Net whose bottleneck
// becomes one style vector per decoder layer and whose upward features
// become spatial feature transforms (SFT) for a StyleGAN2 decoder. It reads
// one Size×Size RGB face in [-1,1] and returns the restored face, the same
// size, in [-1,1] before clamping. The reference is shared/bench/gfpnet.py.
//
// Loaded on a runtime, its Model takes faces like any network (RGB in
// [0,1], NCHW, h = w = Size), maps them to [-1,1] with (x−0.5)/0.5 itself
// and writes the raw output above, in [-1,1] and not clamped: mapping it
// back to [0,1] and clamping is the caller's.
//
// Every weight is resolved to the layer that uses it, so a runtime needs no
// PyTorch key names. With n = len(Down) = len(Up) = len(ToRGBs) stages,
// Size = 4·2ⁿ (n = 7 for 512). Notation below: lrelu is the leaky ReLU of
// slope 0.2; up2 and down2 are F.interpolate(scale_factor 2 or ½, bilinear,
// align_corners=False), that is
//
//	up2:   out[2j] = ¼·x[j−1] + ¾·x[j], out[2j+1] = ¾·x[j] + ¼·x[j+1] (indices clamped to the edge), per axis
//	down2: the mean of each 2×2 cell
//
// The U-Net (encoder, then the features the SFT conditions are made from):
//
//	f = lrelu(First(x))                         // Size×Size
//	for k: f = Down[k](f); skip[k] = f           // halves: ends at 4×4
//	f = lrelu(FinalConv(f))                     // 4×4
//	w = FinalLinear(f flattened as C,H,W)      // NumLatent style vectors of NumStyleFeat
//	for k: f = Up[k](f + skip[n−1−k])           // doubles: 8·2ᵏ
//	       scale[k] = CondScale[k](f); shift[k] = CondShift[k](f)
//
// The StyleGAN2 decoder (each ModulatedConv takes its style vector w[Latent]):
//
//	o = Constant (ConstChannels×4×4)
//	o = StyleConv1(o); rgb = ToRGB1(o)
//	for k: o = StyleConvs[2k](o)                // upsamples: 8·2ᵏ
//	       if SFTHalf: o[C/2:] = o[C/2:]·scale[k] + shift[k] (C = o's channels)
//	       else:       o = o·scale[k] + shift[k]
//	       o = StyleConvs[2k+1](o)
//	       rgb = ToRGBs[k](o) + up2(rgb)
//	return rgb
//
// The checkpoint's U-Net toRGB heads (training only) and the decoder's
// style MLP (unused when the input is a latent) are not part of it.
type GFPGAN struct {
	// Size is the side of the input and output, a power of two (512 for
	// the official checkpoints): FinalLinear fixes it, so it is the only
	// input size the network accepts.
	Size int
	// NumStyleFeat is the length of one style vector (num_style_feat: 512
	// in the official checkpoints).
	NumStyleFeat int
	// NumLatent is the number of style vectors FinalLinear makes,
	// 2·log2(Size) − 2 (different_w: one per modulated convolution).
	NumLatent int
	// SFTHalf says the SFT conditions have half the decoder's channels
	// and transform only its second half (sft_half, the official setting).
	SFTHalf bool

	// First is conv_body_first: 1×1, 3 channels in, with bias; lrelu after.
	First Conv
	// Down is conv_body_down: each block halves the side (Up false).
	Down []UNetBlock
	// FinalConv is final_conv: 3×3 at 4×4, with bias; lrelu after.
	FinalConv Conv
	// FinalLinear is final_linear, a fully connected layer written as a
	// 1×1 Conv on a 1×1 image: In = FinalConv.Out·16 (the 4×4 features
	// flattened channel by channel, then row by row), Out =
	// NumLatent·NumStyleFeat (style vector l is Out[l·NumStyleFeat:]).
	FinalLinear Conv
	// Up is conv_body_up: each block doubles the side (Up true). Up[k]
	// reads the previous features plus skip[n−1−k] (see above).
	Up []UNetBlock
	// CondScale and CondShift are condition_scale and condition_shift:
	// CondScale[k] and CondShift[k] read Up[k]'s output.
	CondScale, CondShift []SFTCondition

	// ConstChannels is the channel count of Constant.
	ConstChannels int
	// Constant is the decoder's learned input (constant_input):
	// ConstChannels×4×4.
	Constant []float32
	// StyleConv1 is the decoder's first layer, at 4×4 (not upsampling).
	StyleConv1 StyleConv
	// ToRGB1 makes the first RGB image, at 4×4; it has no skip input.
	ToRGB1 StyleToRGB
	// StyleConvs are the decoder's layers in pairs: StyleConvs[2k]
	// upsamples, StyleConvs[2k+1] keeps the size.
	StyleConvs []StyleConv
	// ToRGBs[k] adds stage k's RGB to the upsampled RGB of the stage before.
	ToRGBs []StyleToRGB
}

// UNetBlock is the U-Net's residual block (ResBlock in GFPGANv1Clean),
// resizing by ½ (Up false) or 2 (Up true):
//
//	y = lrelu(Conv2(resize(lrelu(Conv1(x))))) + Skip(resize(x))
type UNetBlock struct {
	Conv1 Conv // 3×3, In → In, with bias
	Conv2 Conv // 3×3, In → Out, with bias, applied after resizing
	Skip  Conv // 1×1, In → Out, no bias, applied after resizing
	Up    bool // up2 when true, down2 when false
}

// SFTCondition is one condition branch: Conv2(lrelu(Conv1(f))), both 3×3
// with bias. Conv1 keeps the channel count; Conv2.Out is half the decoder
// layer's channels when SFTHalf, else all of them.
type SFTCondition struct {
	Conv1, Conv2 Conv
}

// ModulatedConv is StyleGAN2's modulated convolution without bias. With
// s = Modulation(w[Latent]) (In values):
//
//	W'[o][i] = Conv.Weight[o][i]·s[i]
//	if Demodulate: W'[o] /= sqrt(Σ_{i,ky,kx} W'[o][i]² + 1e-8)
//	y = conv(Upsample ? up2(x) : x, W'), zero padding K/2
//
// W' depends on the style, so it is computed per image, not at load time.
type ModulatedConv struct {
	// Conv holds the weight Out×In×K×K exactly as stored (the checkpoint's
	// weight already includes the 1/sqrt(In·K·K) initialisation scale;
	// there is no further equalised-learning-rate factor). Bias is nil.
	Conv Conv
	// Modulation is the linear layer NumStyleFeat → In (with bias),
	// written as a 1×1 Conv on a 1×1 image.
	Modulation Conv
	// Demodulate is true in StyleConvs and false in the ToRGB layers.
	Demodulate bool
	// Upsample says the input is resized by up2 before the convolution.
	Upsample bool
	// Latent is the index of the style vector this layer takes.
	Latent int
}

// StyleConv is a decoder layer (3×3, demodulated):
//
//	y = lrelu(√2·ModulatedConv(x) + NoiseWeight·Noise + Bias)
//
// The √2 multiplies the convolution only; Noise is broadcast over channels
// and Bias over pixels.
type StyleConv struct {
	ModulatedConv
	// NoiseWeight is the layer's learned noise strength (its weight).
	NoiseWeight float32
	// Noise is the stored noise buffer (noises.noiseN), one value per
	// output pixel: H×W at this layer's output size.
	Noise []float32
	// Bias has ModulatedConv.Conv.Out values.
	Bias []float32
}

// StyleToRGB is a decoder RGB head (1×1, 3 outputs, not demodulated):
//
//	y = ModulatedConv(x) + Bias (+ up2(previous rgb), except in ToRGB1)
type StyleToRGB struct {
	ModulatedConv
	// Bias has 3 values.
	Bias []float32
}

// OutScale implements Network: the face comes out at the size it went in.
func (n *GFPGAN) OutScale() int { return 1 }

// InputMultiple implements Network. The input must be exactly Size×Size
// (FinalLinear reads the whole 4×4 bottleneck), which is the one multiple
// of Size a caller can use; tiling does not apply.
func (n *GFPGAN) InputMultiple() int { return n.Size }
