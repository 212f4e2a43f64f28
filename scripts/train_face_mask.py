"""Train the face-mask model (src/deface/face_mask.onnx) from pydeface's
public template, and write it as ONNX.

Reproduce (CPU only, 40 to 60 minutes on 2 cores):

    tests/fetch_reference.sh pydeface-template      # prints the directory
    python3 -m venv /tmp/train && /tmp/train/bin/pip install \
        "jax[cpu]==0.10.2" "scipy==1.17.1" "nibabel==5.4.2" "onnx==1.23.2" "numpy==2.4.6"
    /tmp/train/bin/python scripts/train_face_mask.py \
        --template .cache/pydeface-2.1.0 --out src/deface/face_mask.onnx

The bundled model has the 8 mm output (the default). A 4 mm output was
tried as a refinement of it (`--output-grid 64 --init <bundled model>
--train-only f1,fout --examples 800 --steps 500 --lr 1e-3`, 40 minutes):
on the accuracy test's tuning poses it moved along the same trade-off
between face and other head removed as changing the threshold does, so it
was not adopted; `--examples-cache` keeps the examples for such reruns.

Every random draw is seeded (`--seed`), so a rerun gives the same examples
and the same training order; XLA's CPU kernels may still round differently
on another machine, so the weights agree closely, not bit for bit.

Training material: pydeface 2.1.0 (PyPI, MIT licence) ships a full-head T1
template, `mean_reg2mean.nii.gz` (176×256×256, 1 mm), and its face mask,
`facemask.nii.gz` (0 = face). Nothing else is used. Every training example
is that head under a random pose (rotation, scale, translation, neck cut
off at a random level, left-right flip), in a field of view that is whole
or stops 3 to 45 mm short of the vertex or starts 0 to 25 mm above the
chin (the head's centre found on what the field holds), and with
`--front-cut-share P` (0 by default: the bundled model was trained
without) a share P of fields of view also end in front, up to 30 mm
behind the tip of the nose (with `--front-cut-keeps-chin`, only fields
of view that keep the chin), and a random intensity remapping
(a random piecewise-linear curve over the T1 intensities, not necessarily
monotonic, with a smooth multiplicative bias field and noise), so that the
model learns the shape of a head and not one contrast. The three contrasts
and the poses the accuracy test uses (tests/deface_accuracy.rs: T1,
inverted T2-like, CT-like in Hounsfield units) are never drawn here: the
remapping curves are random, never those three functions, and the poses
come from another generator.

The contract with the Rust side (src/deface/canonical.rs), which must
prepare its input exactly as `canonical_input` below does:

- the grid: 64³ voxels of 4 mm, axes along patient right, anterior,
  superior (RAS); voxel (i, j, k) is centred at
  c + 4 · (i − 31.5, j − 31.5, k − 31.5), where c is the centre of mass of
  the head: the voxels of the native volume brighter than
  lo + 0.1 · (hi − lo), lo and hi being its 2nd and 99.5th percentiles;
- the image: the native volume sampled trilinearly at those centres
  (outside it: lo); then normalised by the grid's own 2nd and 99.5th
  percentiles, n = clip((v − lo) / (hi − lo), 0, 1.5);
- input `image` [1, 2, 64, 64, 64] float32, axes (channel, S, A, R):
  channel 0 is n, channel 1 is 1 where n > 0.1 and 0 elsewhere;
- output `mask` [1, 1, n, n, n], n = 32 (8 mm voxels, `--output-grid 32`,
  the default) or 64 (4 mm, `--output-grid 64`), over the input grid's
  extent: the probability that the voxel is face (pydeface's face region,
  including the air in front of the face).
"""

import argparse
import hashlib
import inspect
import math
import time

import numpy as np

GRID = 64
SPACING = 4.0
HEAD_FRACTION = 0.1


def percentiles(v):
    lo, hi = np.percentile(v, [2.0, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def canonical_input(grid_values):
    """The two input channels from grid values (axes i, j, k = R, A, S),
    returned with axes (channel, S, A, R)."""
    lo, hi = percentiles(grid_values)
    n = np.clip((grid_values - lo) / (hi - lo), 0.0, 1.5).astype(np.float32)
    head = (n > HEAD_FRACTION).astype(np.float32)
    return np.stack([n.transpose(2, 1, 0), head.transpose(2, 1, 0)])


BRAIN_LEVEL = 0.3
BRAIN_ERODE = 8


def brain_mask(t):
    """The template's brain (pydeface ships none), derived as the Rust
    accuracy test derives it (tests/common/head_phantom.rs, `brain_mask`):
    the voxels of `t` (T1 scaled so that its 99.5th percentile is about 1)
    above BRAIN_LEVEL, eroded by BRAIN_ERODE voxels, the largest piece
    kept, cut below its narrowest axial section under its widest one (the
    brainstem), and grown back within the voxels above the level."""
    from scipy import ndimage

    size = 2 * BRAIN_ERODE + 1
    bright = t > BRAIN_LEVEL

    def largest(m):
        labels, n = ndimage.label(m)
        if n == 0:
            return m
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        return labels == sizes.argmax()

    eroded = ~ndimage.maximum_filter(~bright, size=size, mode="constant", cval=False)
    core = largest(eroded)
    area = core.sum(axis=(0, 1))
    widest = int(area.argmax())
    wider_below, cut = 0, None
    for k in range(widest):
        if area[k] > 0 and wider_below >= 2 * area[k] and (cut is None or area[k] < area[cut]):
            cut = k
        wider_below = max(wider_below, area[k])
    if cut is not None:
        core[:, :, :cut] = False
        core = largest(core)
    return ndimage.maximum_filter(core, size=size, mode="constant", cval=False) & bright


def rotation(ax, ay, az):
    cx, sx, cy, sy, cz, sz = (math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


class Template:
    def __init__(self, directory, front_cut_share=0.0, front_cut_keeps_chin=False):
        import nibabel as nib

        self.front_cut_share = front_cut_share
        self.front_cut_keeps_chin = front_cut_keeps_chin

        image = nib.load(f"{directory}/mean_reg2mean.nii.gz")
        face = nib.load(f"{directory}/facemask.nii.gz")
        self.t1 = np.asarray(image.get_fdata(), dtype=np.float32)
        self.face = (np.asarray(face.get_fdata()) == 0).astype(np.float32)
        self.affine = image.affine  # voxel → RAS
        lo, hi = percentiles(self.t1[::2, ::2, ::2])
        self.t = self.t1 / hi  # T1 intensities in about [0, 1.4]
        self.shape = self.t1.shape
        # Face voxels (every other one along each axis), for the chin.
        self.face_vox = np.argwhere(self.face[::2, ::2, ::2] > 0.5) * 2.0
        self.brain = brain_mask(self.t).astype(np.float32)

    def example(self, rng):
        """One training example: (input [2, 64, 64, 64], face [64, 64, 64],
        brain [32, 32, 32], the share of each output voxel that is brain)."""
        from scipy.ndimage import affine_transform, zoom

        # Contrast: a random piecewise-linear curve over T1 intensities;
        # air stays the darkest value.
        knots = np.array([0.0, 0.06, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05, 1.5])
        values = rng.uniform(0.08, 1.0, size=knots.size)
        if rng.random() < 0.3:
            values = np.sort(values)
        elif rng.random() < 0.3:
            values = np.sort(values)[::-1].copy()
        values[0] = rng.uniform(0.0, 0.04)
        img = np.interp(self.t, knots, values).astype(np.float32)
        air = values[0]
        # The neck cut off at a random level (slices are along S).
        neck = rng.integers(10, 80) if rng.random() < 0.5 else 0
        img[:, :, :neck] = air
        # Pose about the template's head centre.
        sub = img[::2, ::2, ::2]
        lo, hi = percentiles(sub)
        fg = np.argwhere(sub > lo + HEAD_FRACTION * (hi - lo)) * 2.0
        com_vox = fg.mean(axis=0)
        com = self.affine[:3, :3] @ com_vox + self.affine[:3, 3]
        angles = np.radians([rng.uniform(-30, 30), rng.uniform(-20, 20), rng.uniform(-20, 20)])
        scale = rng.uniform(0.87, 1.13)
        shift = rng.uniform(-25, 25, size=3)
        pose = np.eye(4)
        pose[:3, :3] = rotation(*angles) * scale
        pose[:3, 3] = com + shift - pose[:3, :3] @ com
        to_world = pose @ self.affine

        def world(vox):
            return vox @ to_world[:3, :3].T + to_world[:3, 3]

        # A partial field of view, as a scan planned tight gives: the
        # slices (along S, after the pose) stop short of the vertex, or
        # start above the chin. The head's centre is then found on what
        # the field of view holds, as the Rust side finds it.
        head = world(fg)
        below, above = -np.inf, np.inf
        view = rng.random()
        if view < 0.3:
            above = head[:, 2].max() - rng.uniform(3.0, 45.0)
        elif view < 0.55:
            face = world(self.face_vox[self.face_vox[:, 2] >= neck])
            if len(face):
                below = face[:, 2].min() + rng.uniform(0.0, 25.0)
        # A field of view planned tight in front: its anterior edge cuts
        # through the face, up to 30 mm behind the tip of the nose (no
        # draw at all with a share of 0, so that the examples are the
        # ones the bundled model was trained on).
        front = np.inf
        may_cut_front = self.front_cut_share > 0 and (below == -np.inf or not self.front_cut_keeps_chin)
        if may_cut_front and rng.random() < self.front_cut_share:
            front = head[:, 1].max() - rng.uniform(0.0, 30.0)
        inside = (head[:, 2] >= below) & (head[:, 2] <= above) & (head[:, 1] <= front)
        centre = head[inside].mean(axis=0) + rng.uniform(-8, 8, size=3)
        grid = np.eye(4)
        grid[:3, :3] *= SPACING
        grid[:3, 3] = centre - SPACING * (GRID / 2 - 0.5)
        to_template = np.linalg.inv(to_world) @ grid
        x = affine_transform(img, to_template, output_shape=(GRID,) * 3, order=1, cval=air)
        y = affine_transform(self.face, to_template, output_shape=(GRID,) * 3, order=1, cval=0.0)
        brain = affine_transform(self.brain, to_template, output_shape=(GRID,) * 3, order=1, cval=0.0)
        # Smooth bias field and noise, as a scanner adds them.
        field = rng.normal(0.0, 0.15, size=(4, 4, 4))
        x = x * np.exp(zoom(field, GRID / 4, order=3))
        sigma = rng.uniform(0.0, 0.04)
        x = np.abs(x + rng.normal(0.0, sigma, size=x.shape))
        x = x * rng.uniform(0.5, 2000.0) + rng.uniform(-1000, 1000)
        # Beyond the field of view the Rust side samples its 2nd
        # percentile, without noise.
        s = grid[2, 3] + SPACING * np.arange(GRID)
        cut = (s < below) | (s > above)
        if front == np.inf:
            if cut.any():
                x[:, :, cut] = np.percentile(x[:, :, ~cut], 2.0)
        else:
            a = grid[1, 3] + SPACING * np.arange(GRID)
            cut = np.broadcast_to(cut[None, None, :] | (a > front)[None, :, None], x.shape)
            x = np.where(cut, np.percentile(x[~cut], 2.0), x)
        brain = block_mean(brain.transpose(2, 1, 0))
        return canonical_input(x), y.transpose(2, 1, 0).astype(np.float32), brain.astype(np.float32)


def _examples(args):
    directory, seed, count, front_cut = args
    template = Template(directory, *front_cut)
    rng = np.random.default_rng(seed)
    xs, ys, bs = [], [], []
    for _ in range(count):
        x, y, b = template.example(rng)
        xs.append(x.astype(np.float16))
        ys.append(y.astype(np.float16))
        bs.append(b.astype(np.float16))
    return np.stack(xs), np.stack(ys), np.stack(bs)


def examples_key(args):
    """What the examples depend on, as one digest for `--examples-cache`:
    the options that draw them, the template's two files (their bytes),
    and the code that makes them (this module's `Template` and
    `make_examples`), so a cache made from another template or by an
    earlier version of this script is never taken for this one."""
    digest = hashlib.sha256()
    options = (args.examples, args.seed, args.front_cut_share, args.front_cut_keeps_chin)
    digest.update(repr(options).encode())
    for name in ("mean_reg2mean.nii.gz", "facemask.nii.gz"):
        with open(f"{args.template}/{name}", "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    for code in (Template, make_examples):
        digest.update(inspect.getsource(code).encode())
    return digest.hexdigest()


def make_examples(directory, count, seed, workers, front_cut=(0.0, False)):
    from multiprocessing import Pool

    per = [count // workers + (1 if w < count % workers else 0) for w in range(workers)]
    with Pool(workers) as pool:
        jobs = [(directory, seed * 1000 + w, n, front_cut) for w, n in enumerate(per)]
        parts = pool.map(_examples, jobs)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


# ---------------------------------------------------------------- network

# (name, kernel, stride, in, out): the convolutions, in the order the graph
# uses them. The 64³ input is summarised at 8 mm by a strided convolution;
# the rest works at 32³, 16³, 8³ and 4³, and the output is the 32³ grid.
LAYERS = [
    ("s1", 2, 2, 2, 8),
    ("e1", 3, 1, 8, 8),
    ("e2a", 3, 1, 8, 24),
    ("e2b", 3, 1, 24, 24),
    ("e3a", 3, 1, 24, 48),
    ("e3b", 3, 1, 48, 48),
    ("e4a", 3, 1, 48, 64),
    ("e4b", 3, 1, 64, 64),
    ("d3", 3, 1, 112, 48),
    ("d2", 3, 1, 72, 16),
    ("d1a", 1, 1, 24, 8),
    ("d1b", 3, 1, 8, 8),
    ("out", 1, 1, 8, 1),
    ("f1", 1, 1, 10, 16),
    ("fout", 3, 1, 16, 1),
]

# The last two layers (`--output-grid 64` only) refine the 8 mm logits at
# 4 mm: the 8 mm features repeated onto the input grid, beside the input
# itself, give a correction that is added to the 8 mm logits repeated
# likewise. `fout` starts at zero, so a model started from an 8 mm one
# (`--init`) begins where that model was.
FINE = {"f1", "fout"}
ZERO_INIT = {"fout"}


def init_params(rng, output_grid):
    params = {}
    for name, k, _s, cin, cout in LAYERS:
        if name in FINE and output_grid != GRID:
            continue
        fan_in = cin * k**3
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(cout, cin, k, k, k)).astype(np.float32)
        if name in ZERO_INIT:
            w = np.zeros_like(w)
        params[name] = (w, np.zeros(cout, np.float32))
    return params


def forward(params, x):
    import jax.numpy as jnp
    from jax import lax

    strides = {n: s for n, _k, s, _i, _o in LAYERS}

    def conv(name, h):
        w, b = params[name]
        s = strides[name]
        padding = "VALID" if s > 1 else "SAME"
        out = lax.conv_general_dilated(h, w, (s, s, s), padding, dimension_numbers=("NCDHW", "OIDHW", "NCDHW"))
        return out + b[None, :, None, None, None]

    def relu(h):
        return jnp.maximum(h, 0.0)

    def pool(h):
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2), "VALID")

    def up(h):
        return h.repeat(2, axis=2).repeat(2, axis=3).repeat(2, axis=4)

    def cat(a, b):
        return jnp.concatenate([a, b], axis=1)

    s1 = relu(conv("s1", x))
    e1 = relu(conv("e1", s1))
    e2 = relu(conv("e2b", relu(conv("e2a", pool(e1)))))
    e3 = relu(conv("e3b", relu(conv("e3a", pool(e2)))))
    e4 = relu(conv("e4b", relu(conv("e4a", pool(e3)))))
    d3 = relu(conv("d3", cat(up(e4), e3)))
    d2 = relu(conv("d2", cat(up(d3), e2)))
    d1 = relu(conv("d1b", relu(conv("d1a", cat(up(d2), e1)))))
    coarse = conv("out", d1)  # logits, 32³
    if "fout" not in params:
        return coarse
    fine = conv("fout", relu(conv("f1", cat(up(d1), x))))
    return up(coarse) + fine  # logits, 64³


def block_mean(v):
    """[..., 64, 64, 64] → [..., 32, 32, 32], the mean of each 2×2×2 block."""
    s = v.shape[:-3] + (GRID // 2, 2, GRID // 2, 2, GRID // 2, 2)
    return v.reshape(s).mean(axis=(-5, -3, -1))


# How much more a brain voxel counts in the loss than another head voxel:
# the mask must stay out of the brain, wherever the face ends.
BRAIN_WEIGHT = 4.0


def train(params, xs, ys, bs, steps, batch, seed, log, lr_max=2e-3, only=None):
    import jax
    import jax.numpy as jnp

    def loss_fn(p, x, y, b):
        if only is not None:  # the other layers stay as they are
            p = {n: v if n in only else jax.lax.stop_gradient(v) for n, v in p.items()}
        logits = forward(p, x)[:, 0]
        # Head voxels count five times as much as air, brain more still.
        head = x[:, 1]
        if logits.shape[-1] == GRID:
            b = b.repeat(2, axis=1).repeat(2, axis=2).repeat(2, axis=3)
        else:
            y, head = block_mean(y), block_mean(head)
        weight = 0.25 + head + BRAIN_WEIGHT * b
        bce = jnp.maximum(logits, 0) - logits * y + jnp.log1p(jnp.exp(-jnp.abs(logits)))
        return jnp.sum(weight * bce) / jnp.sum(weight)

    b1, b2, eps = 0.9, 0.999, 1e-8

    @jax.jit
    def step(p, m, v, t, x, y, b):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y, b)
        lr = lr_max * 0.5 * (1 + jnp.cos(jnp.pi * t / steps))
        m = jax.tree_util.tree_map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        corr = jnp.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
        p = jax.tree_util.tree_map(lambda a, mm, vv: a - lr * corr * mm / (jnp.sqrt(vv) + eps), p, m, v)
        return p, m, v, loss

    params = jax.tree_util.tree_map(jnp.asarray, params)
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(seed)
    started = time.time()
    running = None
    for t in range(steps):
        idx = rng.choice(len(xs), size=batch, replace=False)
        x = xs[idx].astype(np.float32)
        y = ys[idx].astype(np.float32)
        b = bs[idx].astype(np.float32)
        if rng.random() < 0.5:  # left-right flip (axis R is last)
            x, y, b = x[..., ::-1].copy(), y[..., ::-1].copy(), b[..., ::-1].copy()
        params, m, v, loss = step(params, m, v, t, x, y, b)
        loss = float(loss)
        running = loss if running is None else 0.98 * running + 0.02 * loss
        if t % 50 == 0 or t == steps - 1:
            log(f"step {t:5d}  loss {running:.4f}  {time.time() - started:6.0f} s")
    return jax.tree_util.tree_map(np.asarray, params)


def evaluate(params, xs, ys, bs):
    """Face voxels found and head voxels wrongly taken, on the 4 mm grid,
    and the 8 mm voxels (mostly brain) where most of the output is taken."""
    import jax

    f = jax.jit(forward)
    found = face = wrong = rest = brain = 0.0
    for i in range(len(xs)):
        logits = np.asarray(f(params, xs[i : i + 1].astype(np.float32)))[0, 0]
        p = 1 / (1 + np.exp(-np.clip(logits, -60.0, 60.0)))
        if p.shape[-1] != GRID:  # 8 mm: repeated onto the 4 mm grid
            p = p.repeat(2, 0).repeat(2, 1).repeat(2, 2)
        brain += np.sum((bs[i] > 0.5) & (block_mean(p > 0.5) > 0.5))
        head = xs[i, 1] > 0.5
        y = ys[i] > 0.5
        face += np.sum(head & y)
        found += np.sum(head & y & (p > 0.5))
        rest += np.sum(head & ~y)
        wrong += np.sum(head & ~y & (p > 0.5))
    return found / face, wrong / rest, brain


# ---------------------------------------------------------------- ONNX


def load_params(path):
    """The weights of the layers of LAYERS that the ONNX file at `path` has."""
    import onnx
    from onnx import numpy_helper

    arrays = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    params = {}
    for name, k, _s, cin, cout in LAYERS:
        w, b = arrays.get(f"{name}.w"), arrays.get(f"{name}.b")
        if w is None or b is None:
            continue
        if w.shape != (cout, cin, k, k, k):
            raise SystemExit(f"{path}: layer {name} has shape {w.shape}, expected {(cout, cin, k, k, k)}")
        params[name] = (w.astype(np.float32), b.astype(np.float32))
    return params


def export(params, out):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    init = []
    fine = "fout" in params
    for name, *_ in LAYERS:
        if name not in params:
            continue
        w, b = params[name]
        init.append(numpy_helper.from_array(np.asarray(w, np.float32), f"{name}.w"))
        init.append(numpy_helper.from_array(np.asarray(b, np.float32), f"{name}.b"))
    init.append(numpy_helper.from_array(np.array([1, 1, 2, 2, 2], np.float32), "scales"))
    nodes = []
    shapes = {n: (k, s) for n, k, s, _i, _o in LAYERS}

    def conv(name, src):
        k, s = shapes[name]
        pad = 0 if s > 1 else k // 2
        nodes.append(
            helper.make_node(
                "Conv", [src, f"{name}.w", f"{name}.b"], [name], kernel_shape=[k] * 3, strides=[s] * 3, pads=[pad] * 6
            )
        )
        return name

    def relu(src):
        nodes.append(helper.make_node("Relu", [src], [src + ".r"]))
        return src + ".r"

    def pool(src):
        nodes.append(helper.make_node("MaxPool", [src], [src + ".p"], kernel_shape=[2] * 3, strides=[2] * 3))
        return src + ".p"

    def up(src):
        nodes.append(helper.make_node("Resize", [src, "", "scales"], [src + ".u"], mode="nearest"))
        return src + ".u"

    def cat(a, b):
        nodes.append(helper.make_node("Concat", [a, b], [a + "+" + b], axis=1))
        return a + "+" + b

    s1 = relu(conv("s1", "image"))
    e1 = relu(conv("e1", s1))
    e2 = relu(conv("e2b", relu(conv("e2a", pool(e1)))))
    e3 = relu(conv("e3b", relu(conv("e3a", pool(e2)))))
    e4 = relu(conv("e4b", relu(conv("e4a", pool(e3)))))
    d3 = relu(conv("d3", cat(up(e4), e3)))
    d2 = relu(conv("d2", cat(up(d3), e2)))
    d1 = relu(conv("d1b", relu(conv("d1a", cat(up(d2), e1)))))
    if fine:
        correction = conv("fout", relu(conv("f1", cat(up(d1), "image"))))
        nodes.append(helper.make_node("Add", [up(conv("out", d1)), correction], ["logits"]))
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["mask"]))
        side = GRID
    else:
        nodes.append(helper.make_node("Sigmoid", [conv("out", d1)], ["mask"]))
        side = GRID // 2
    graph = helper.make_graph(
        nodes,
        "face_mask",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 2, GRID, GRID, GRID])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, side, side, side])],
        initializer=init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="train_face_mask.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", required=True, help="directory with pydeface's template and face mask")
    parser.add_argument("--out", required=True, help="the ONNX file to write")
    parser.add_argument("--examples", type=int, default=1600)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--front-cut-share",
        type=float,
        default=0.0,
        help="share of fields of view cut in front of the face (0: as the bundled model)",
    )
    parser.add_argument(
        "--front-cut-keeps-chin",
        action="store_true",
        help="cut in front only fields of view that keep the chin",
    )
    parser.add_argument(
        "--output-grid",
        type=int,
        choices=(GRID // 2, GRID),
        default=GRID // 2,
        help="voxels per side of the output: 32 (8 mm) or 64 (4 mm, two more layers)",
    )
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to 0)")
    parser.add_argument(
        "--init",
        help="an ONNX model written by this script: start from its weights for the layers it has "
        "(the others start as a fresh model's)",
    )
    parser.add_argument(
        "--examples-cache",
        help="an .npz file: the examples are read from it if it exists, else made and written to it",
    )
    parser.add_argument("--train-only", help="comma-separated layers to train (default: all)")
    args = parser.parse_args()

    def log(msg):
        print(msg, flush=True)

    started = time.time()
    front_cut = (args.front_cut_share, args.front_cut_keeps_chin)
    key = examples_key(args)
    cached = None
    if args.examples_cache:
        try:
            cached = np.load(args.examples_cache)
        except FileNotFoundError:
            pass
    if cached is not None and str(cached["key"]) == key:
        xs, ys, bs, vx, vy, vb = (cached[n] for n in ("xs", "ys", "bs", "vx", "vy", "vb"))
        log(f"examples read from {args.examples_cache}")
    else:
        if cached is not None:
            raise SystemExit(f"{args.examples_cache} holds examples made with other options")
        xs, ys, bs = make_examples(args.template, args.examples, args.seed, args.workers, front_cut)
        vx, vy, vb = make_examples(args.template, 64, args.seed + 1, args.workers, front_cut)
        if args.examples_cache:
            np.savez(args.examples_cache, key=key, xs=xs, ys=ys, bs=bs, vx=vx, vy=vy, vb=vb)
    log(f"{len(xs)} examples (+{len(vx)} for validation) in {time.time() - started:.0f} s")
    params = init_params(np.random.default_rng(args.seed), args.output_grid)
    if args.init:
        params.update({n: v for n, v in load_params(args.init).items() if n in params})
    only = None
    if args.train_only:
        only = set(args.train_only.split(","))
        unknown = only - set(params)
        if unknown:
            raise SystemExit(f"--train-only: no layer {', '.join(sorted(unknown))}")
    params = train(params, xs, ys, bs, args.steps, args.batch, args.seed, log, args.lr, only)
    found, wrong, brain = evaluate(params, vx, vy, vb)
    log(
        f"validation (4 mm grid): {100 * found:.2f} % of face voxels found, "
        f"{100 * wrong:.2f} % of other head voxels taken, {brain:.0f} brain voxels (8 mm) taken"
    )
    export(params, args.out)
    log(f"wrote {args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
