#!/usr/bin/env python3
"""Writes small checkpoints laid out exactly as torch.save (zip, data.pkl,
data/N) does, without needing torch: fake torch classes pickle under the
real names. They exercise what the Real-ESRGAN fixtures do not: fp16, bf16,
fp64 and int64 storages, a strided view with an offset, a 0-dim tensor, a
storage shared by three tensors, an nn.Parameter, pickle protocol 4 and non-tensor entries.
Run from this folder: python3 gen_synthetic.py"""
import collections, io, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
def _rebuild_parameter(*a): pass
_rebuild_parameter.__module__ = "torch._utils"; utils._rebuild_parameter = _rebuild_parameter
for name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage"):
    cls = type(name, (), {}); cls.__module__ = "torch"; setattr(torch, name, cls)

class Storage:
    def __init__(s, kind, key, fmt, values):
        s.kind, s.key, s.numel = getattr(torch, kind), key, len(values)
        if fmt == "bf16":
            s.raw = b"".join(struct.pack("<f", v)[2:] for v in values)
        else:
            s.raw = struct.pack("<%d%s" % (len(values), fmt), *values)

class Tensor:
    def __init__(s, st, off, size, stride): s.a = (st, off, size, stride, False, collections.OrderedDict())
    def __reduce__(s): return (_rebuild_tensor_v2, s.a)

class Parameter:  # nn.Parameter, as a state dict of parameters (not buffers) holds when saved with keep_vars
    def __init__(s, t): s.t = t
    def __reduce__(s): return (_rebuild_parameter, (s.t, True, collections.OrderedDict()))

def save(path, top, storages, protocol):
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=protocol)
    p.persistent_id = lambda o: ("storage", o.kind, o.key, "cpu", o.numel) if isinstance(o, Storage) else None
    p.dump(top)
    name = path.rsplit(".", 1)[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name + "/data.pkl", buf.getvalue())
        z.writestr(name + "/byteorder", "little")
        for st in storages: z.writestr(name + "/data/" + st.key, st.raw)
        z.writestr(name + "/version", "3\n")

half = Storage("HalfStorage", "0", "e", [1.0, -2.0, 0.5, 6.103515625e-05, 5.960464477539063e-08, 65504.0])
save("fp16.pth", {"params_ema": collections.OrderedDict(w=Tensor(half, 0, (2, 3), (3, 1)))}, [half], 2)

bf = Storage("BFloat16Storage", "0", "bf16", [1.5, -3.0, 0.15625])
f64 = Storage("DoubleStorage", "1", "d", [0.1, 0.2, 0.3, 0.4])
f32 = Storage("FloatStorage", "2", "f", [9.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
i64 = Storage("LongStorage", "3", "q", [-7])
sd = collections.OrderedDict()
sd["bf"] = Tensor(bf, 0, (3,), (1,))
sd["f64"] = Tensor(f64, 0, (2, 2), (2, 1))
sd["view.t"] = Tensor(f32, 1, (3, 2), (1, 3))  # [[0,3],[1,4],[2,5]]
sd["view.tail"] = Tensor(f32, 4, (3,), (1,))  # shares the storage: [3,4,5]
sd["scalar"] = Tensor(i64, 0, (), ())
sd["param"] = Parameter(Tensor(f32, 0, (2,), (1,)))  # [9, 0]
top = {"params": sd, "iter": 5, "note": "synthetic", "lr": 1e-4, "ok": True, "none": None, "list": [1, 2]}
save("mixed_p4.pth", top, [bf, f64, f32, i64], 4)
