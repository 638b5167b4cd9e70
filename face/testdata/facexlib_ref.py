#!/usr/bin/python3
"""Golden outputs for TestFacexlibReference, made the way facexlib's FaceRestoreHelper
does it (align_warp_face, get_inverse_affine, paste_faces_to_input_image without the
parsing network), with OpenCV. Run from face/: /usr/bin/python3 testdata/facexlib_ref.py
(Debian python3-opencv). The "restorer" inverts the aligned face so the paste shows.
The affine is plain least squares, which is what face.Align fits; cv2's LMEDS fit
gives the same matrix on these five landmarks."""
import json
import cv2
import numpy as np

lm = np.array([[p['X'], p['Y']] for p in json.load(open('testdata/astronaut_landmarks.json'))])
tmpl = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                 [201.26117, 371.41043], [313.08905, 371.15118]])
ps, qs = lm.mean(0), tmpl.mean(0)
p, q = lm - ps, tmpl - qs
a = (p * q).sum() / (p ** 2).sum()
b = (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum() / (p ** 2).sum()
M = np.array([[a, -b, qs[0] - (a * ps[0] - b * ps[1])], [b, a, qs[1] - (b * ps[0] + a * ps[1])]])

img = cv2.imread('/usr/lib/python3/dist-packages/skimage/data/astronaut.png')  # BGR, as facexlib
aligned = cv2.warpAffine(img, M, (512, 512), borderMode=cv2.BORDER_CONSTANT, borderValue=(135, 133, 132))
cv2.imwrite('testdata/facexlib_aligned.png', aligned)
restored = 255 - aligned
crops = {}
for s in (1, 2):
    h, w = img.shape[:2]
    up = np.repeat(np.repeat(img, s, 0), s, 1).astype(np.float64)  # the "upscaled" background
    inv = cv2.invertAffineTransform(M) * s
    if s > 1:
        inv[:, 2] += 0.5 * s
    inv_restored = cv2.warpAffine(restored, inv, (w * s, h * s))
    inv_mask = cv2.warpAffine(np.ones((512, 512), np.float32), inv, (w * s, h * s))
    inv_mask_erosion = cv2.erode(inv_mask, np.ones((int(2 * s), int(2 * s)), np.uint8))
    pasted = inv_mask_erosion[:, :, None] * inv_restored
    w_edge = int(np.sum(inv_mask_erosion) ** 0.5) // 20
    center = cv2.erode(inv_mask_erosion, np.ones((w_edge * 2, w_edge * 2), np.uint8))
    soft = cv2.GaussianBlur(center, (w_edge * 2 + 1, w_edge * 2 + 1), 0)[:, :, None]
    out = soft * pasted + (1 - soft) * up
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)  # facexlib truncates; face rounds
    ys, xs = np.nonzero(inv_mask[:, :] > 0)
    y0, y1, x0, x1 = max(ys.min() - 8, 0), ys.max() + 9, max(xs.min() - 8, 0), xs.max() + 9
    cv2.imwrite('testdata/facexlib_paste_x%d.png' % s, out[y0:y1, x0:x1])
    crops['x%d' % s] = [int(x0), int(y0)]
json.dump(crops, open('testdata/facexlib_paste_origin.json', 'w'))
