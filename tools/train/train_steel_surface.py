#!/usr/bin/python3
"""Train the bundled LineSight demo image model `steel-surface`.

Data: NEU surface defect images (6 classes, 250 x 200x200 JPEGs each),
read-only at ../shared/datasets/neu-surface-defect (beside the checkout)/images/<class>/*.jpg
(override with --data).

Outputs (paths relative to the repo root):
  tools/train/split.json                  fixed seeded stratified 70/15/15 split (reused if present)
  tools/train/results.json                accuracies, parameter count, versions, duration
  models/steel-surface/1/model.onnx       ONNX (opset 17): input `image` [N,1,224,224] float32,
                                          outputs `logits` [N,6] and `embedding` [N,D]
  test/fixtures/neu/*.jpg                 12 test-split images (2 per class), byte-for-byte copies
  test/fixtures/steel-surface-parity.json PyTorch logits for those 12 images
  test/fixtures/cv2-gray-224.json         cv2 reference pixels for resize / grayscale / RGB checks
  samples/neu/<class>/*.jpg               30 test-split demo images (5 per class)

A backbone on a subset of the classes (e.g. one that never saw `scratches`, for an honest
few-shot demo): --classes a,b,c trains on those classes only (sorted; the same split.json,
filtered to them) and needs --out and --results; it writes only those two files (no fixtures,
no samples, never the bundled model or its results.json):
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/train/train_steel_surface.py \
      --classes crazing,inclusion,patches,pitted_surface,rolled-in_scale \
      --out /tmp/ft5/models/steel-5/1/model.onnx --results /tmp/ft5/results-steel-5.json

Preprocessing (must match the TypeScript runtime exactly):
  img = cv2.imread(path)                  # BGR uint8
  img = cv2.resize(img, (224, 224))       # INTER_LINEAR (default)
  img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
  x = torchvision.transforms.ToTensor()(img)   # float32 in [0,1], shape 1x224x224, no mean/std

Run with the Debian interpreter (it has torch, torchvision, cv2, onnx):
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/train/train_steel_surface.py
"""

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from torchvision import transforms  # noqa: E402

CLASSES = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]
INPUT_SIZE = 224
SPLIT_SEED = 1234
PREPROCESS_DESC = "cv2 imread->resize(224,224) INTER_LINEAR->cvtColor BGR2GRAY->ToTensor"

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TRAIN_DIR = os.path.join(REPO_ROOT, "tools", "train")
DEFAULT_DATA = os.path.join(REPO_ROOT, "..", "shared", "datasets", "neu-surface-defect", "images")

_to_tensor = transforms.ToTensor()


# --------------------------------------------------------------------------- preprocessing
def load_gray_u8(path):
    """cv2 imread (BGR) -> resize 224x224 INTER_LINEAR -> BGR2GRAY. Returns uint8 HxW."""
    img = cv2.imread(path)
    if img is None:
        raise IOError("cannot read image: %s" % path)
    img = cv2.resize(img, (INPUT_SIZE, INPUT_SIZE))
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def preprocess(path):
    """Full spec preprocessing: returns a float32 tensor 1x224x224 in [0,1]."""
    return _to_tensor(load_gray_u8(path))


# --------------------------------------------------------------------------- split
def sorted_files(cls_dir):
    def key(name):
        stem = os.path.splitext(name)[0]
        num = stem.rsplit("_", 1)[-1]
        return (int(num) if num.isdigit() else 1 << 30, name)

    return sorted((f for f in os.listdir(cls_dir) if f.lower().endswith(".jpg")), key=key)


def make_split(data_dir, seed):
    """Stratified 70/15/15 split per class. Byte-identical files form one group
    and always land in the same split (no leakage of duplicates)."""
    rng = random.Random(seed)
    split = {"train": [], "val": [], "test": []}
    for cls in CLASSES:
        groups = {}
        for f in sorted_files(os.path.join(data_dir, cls)):
            with open(os.path.join(data_dir, cls, f), "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()
            groups.setdefault(h, []).append("%s/%s" % (cls, f))
        group_list = sorted(groups.values(), key=lambda g: g[0])
        rng.shuffle(group_list)
        n = sum(len(g) for g in group_list)
        n_test = int(round(0.15 * n))
        n_val = int(round(0.15 * n))
        buckets = {"test": [], "val": [], "train": []}
        for g in group_list:
            if len(buckets["test"]) + len(g) <= n_test:
                buckets["test"].extend(g)
            elif len(buckets["val"]) + len(g) <= n_val:
                buckets["val"].extend(g)
            else:
                buckets["train"].extend(g)
        for k in split:
            split[k].extend(buckets[k])
    for k in split:
        split[k].sort()
    # cross-split duplicate check (also across classes)
    seen = {}
    for k in ("train", "val", "test"):
        for rel in split[k]:
            with open(os.path.join(data_dir, rel), "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()
            if h in seen and seen[h] != k:
                raise RuntimeError("duplicate bytes across splits: %s" % rel)
            seen[h] = k
    return {
        "seed": seed,
        "ratios": {"train": 0.70, "val": 0.15, "test": 0.15},
        "classes": CLASSES,
        "note": "stratified per class; byte-identical images are kept in the same split",
        "train": split["train"],
        "val": split["val"],
        "test": split["test"],
    }


def load_or_create_split(data_dir, path):
    if os.path.exists(path):
        with open(path) as fh:
            return json.load(fh)
    split = make_split(data_dir, SPLIT_SEED)
    with open(path, "w") as fh:
        json.dump(split, fh, indent=1)
        fh.write("\n")
    return split


# --------------------------------------------------------------------------- model
def conv_bn_relu(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SteelSurfaceNet(nn.Module):
    """Small CNN: 224 -> 112 (stride 2) -> 56 -> 28 -> 14 -> 7 (max-pool), GAP, Linear.
    The GAP vector (before the Linear head) is the embedding."""

    def __init__(self, num_classes=len(CLASSES), widths=(24, 32, 64, 96, 128, 160), dropout=0.2):
        super().__init__()
        w = widths
        self.features = nn.Sequential(
            conv_bn_relu(1, w[0], stride=2),          # 112
            conv_bn_relu(w[0], w[1]), nn.MaxPool2d(2),  # 56
            conv_bn_relu(w[1], w[2]), nn.MaxPool2d(2),  # 28
            conv_bn_relu(w[2], w[3]), nn.MaxPool2d(2),  # 14
            conv_bn_relu(w[3], w[4]), nn.MaxPool2d(2),  # 7
            conv_bn_relu(w[4], w[5]),
        )
        self.embedding_dim = w[5]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(w[5], num_classes)

    def embed(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)

    def forward(self, x):
        emb = self.embed(x)
        return self.head(self.dropout(emb)), emb


class LogitsOnly(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)[0]


# --------------------------------------------------------------------------- augmentation
def augment_batch(imgs_u8, rng, max_shift=16):
    """imgs_u8: list of HxW uint8. Random h/v flips, small shifts (reflect padding),
    then ToTensor and brightness/contrast jitter. Returns Nx1xHxW float32."""
    out = []
    for img in imgs_u8:
        if rng.random() < 0.5:
            img = img[:, ::-1]
        if rng.random() < 0.5:
            img = img[::-1, :]
        dx = rng.randint(-max_shift, max_shift)
        dy = rng.randint(-max_shift, max_shift)
        if dx or dy:
            p = max_shift
            padded = cv2.copyMakeBorder(np.ascontiguousarray(img), p, p, p, p, cv2.BORDER_REFLECT_101)
            img = padded[p + dy:p + dy + INPUT_SIZE, p + dx:p + dx + INPUT_SIZE]
        t = _to_tensor(np.ascontiguousarray(img))
        contrast = rng.uniform(0.8, 1.2)
        brightness = rng.uniform(-0.1, 0.1)
        mean = t.mean()
        t = ((t - mean) * contrast + mean + brightness).clamp_(0.0, 1.0)
        out.append(t)
    return torch.stack(out)


def to_batch(imgs_u8):
    return torch.stack([_to_tensor(img) for img in imgs_u8])


# --------------------------------------------------------------------------- eval
@torch.no_grad()
def predict(model, imgs_u8, bs=64):
    model.eval()
    logits = []
    for i in range(0, len(imgs_u8), bs):
        logits.append(model(to_batch(imgs_u8[i:i + bs]))[0])
    return torch.cat(logits)


def accuracy(logits, labels):
    return float((logits.argmax(1) == torch.as_tensor(labels)).float().mean())


def per_class_acc(logits, labels, classes=CLASSES):
    pred = logits.argmax(1).numpy()
    labels = np.asarray(labels)
    return {c: float((pred[labels == i] == i).mean()) for i, c in enumerate(classes)}


# --------------------------------------------------------------------------- export
def export_onnx(model, out_path):
    model.eval()
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    dummy = torch.zeros(2, 1, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        model,
        dummy,
        out_path,
        opset_version=17,
        do_constant_folding=True,
        input_names=["image"],
        output_names=["logits", "embedding"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "embedding": {0: "batch"}},
    )
    import onnx

    m = onnx.load(out_path)
    onnx.checker.check_model(m)
    size = os.path.getsize(out_path)
    if size > 5 * 1024 * 1024:
        raise RuntimeError("ONNX file too large: %d bytes" % size)
    print("onnx: %s (%d bytes), checker ok" % (out_path, size))
    for vi in list(m.graph.input) + list(m.graph.output):
        dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        print("  %s %s" % (vi.name, dims))
    return size


def verify_onnx(model, out_path, imgs_u8):
    """Compare onnx vs torch outputs with onnxruntime (if importable) or OpenCV's dnn."""
    x = to_batch(imgs_u8)
    with torch.no_grad():
        ref_logits, ref_emb = model(x)
    try:
        import onnxruntime as ort

        sess = ort.InferenceSession(out_path, providers=["CPUExecutionProvider"])
        lo, em = sess.run(["logits", "embedding"], {"image": x.numpy()})
        engine = "onnxruntime"
    except ImportError:
        try:
            net = cv2.dnn.readNetFromONNX(out_path)
            net.setInput(x.numpy())
            lo, em = net.forward(["logits", "embedding"])
            engine = "cv2.dnn"
        except Exception as e:  # pragma: no cover - depends on the local OpenCV build
            print("onnx runtime check skipped (no onnxruntime; cv2.dnn failed: %s)" % e)
            return None
    d = max(float(np.abs(lo - ref_logits.numpy()).max()), float(np.abs(em.reshape(ref_emb.shape) - ref_emb.numpy()).max()))
    print("onnx vs torch (%s): max abs diff %.2e" % (engine, d))
    if d > 1e-3:
        raise RuntimeError("ONNX output mismatch: %g" % d)
    return {"engine": engine, "max_abs_diff": d}


# --------------------------------------------------------------------------- fixtures
def write_fixtures(model, data_dir, split, test_logits):
    """Parity fixture (12 test images, 2 per class), cv2 pixel fixtures, 30 demo samples."""
    test = split["test"]
    pred = test_logits.argmax(1).tolist()
    by_class = {c: [] for c in CLASSES}
    for rel, p in zip(test, pred):
        cls = rel.split("/")[0]
        by_class[cls].append((rel, CLASSES[p] == cls))

    def numeric(rel):
        stem = os.path.splitext(rel.split("/")[1])[0]
        return int(stem.rsplit("_", 1)[-1])

    fix_dir = os.path.join(REPO_ROOT, "test", "fixtures")
    neu_dir = os.path.join(fix_dir, "neu")
    os.makedirs(neu_dir, exist_ok=True)
    for f in os.listdir(neu_dir):  # drop images left by an earlier run with other picks
        if f.lower().endswith(".jpg"):
            os.remove(os.path.join(neu_dir, f))
    chosen = []
    for cls in CLASSES:
        items = sorted(by_class[cls], key=lambda t: numeric(t[0]))
        correct = [r for r, ok in items if ok]
        pick = (correct + [r for r, ok in items if not ok])[:2]
        chosen.extend(pick)

    model.eval()
    entries = []
    for rel in chosen:
        cls, fname = rel.split("/")
        shutil.copyfile(os.path.join(data_dir, rel), os.path.join(neu_dir, fname))
        with torch.no_grad():
            lo = model(preprocess(os.path.join(data_dir, rel)).unsqueeze(0))[0][0]
        entries.append({
            "file": "neu/%s" % fname,
            "label": cls,
            "logits": [float(v) for v in lo.tolist()],
            "argmax": CLASSES[int(lo.argmax())],
        })
    with open(os.path.join(fix_dir, "steel-surface-parity.json"), "w") as fh:
        json.dump({"model": "steel-surface", "version": 1, "preprocess": PREPROCESS_DESC,
                   "labels": CLASSES, "images": entries}, fh, indent=1)
        fh.write("\n")

    # cv2 reference pixels
    b64 = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")
    px = []
    for rel in (chosen[0], chosen[2]):
        fname = rel.split("/")[1]
        g = load_gray_u8(os.path.join(data_dir, rel))
        px.append({"file": "neu/%s" % fname, "width": INPUT_SIZE, "height": INPUT_SIZE,
                   "gray_base64": b64(g)})
    rel = chosen[0]
    fname = rel.split("/")[1]
    bgr = cv2.imread(os.path.join(data_dir, rel))
    odd = cv2.cvtColor(cv2.resize(bgr, (97, 61)), cv2.COLOR_BGR2GRAY)
    assert odd.shape == (61, 97)
    px.append({"file": "neu/%s" % fname, "width": 97, "height": 61, "gray_base64": b64(odd)})
    rgb = cv2.cvtColor(cv2.resize(bgr, (INPUT_SIZE, INPUT_SIZE)), cv2.COLOR_BGR2RGB)
    px.append({"file": "neu/%s" % fname, "width": INPUT_SIZE, "height": INPUT_SIZE,
               "rgb_base64": b64(rgb)})
    with open(os.path.join(fix_dir, "cv2-gray-224.json"), "w") as fh:
        json.dump({"opencv": cv2.__version__,
                   "note": "uint8 row-major; gray: HxW, rgb: HxWx3 interleaved; "
                           "cv2.imread -> cv2.resize((width,height)) INTER_LINEAR -> cvtColor",
                   "images": px}, fh, indent=1)
        fh.write("\n")

    # demo samples: 5 test images per class (first by numeric index)
    samples_dir = os.path.join(REPO_ROOT, "samples", "neu")
    for cls in CLASSES:
        d = os.path.join(samples_dir, cls)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.lower().endswith(".jpg"):
                os.remove(os.path.join(d, f))
        for rel in sorted((r for r, _ in by_class[cls]), key=numeric)[:5]:
            shutil.copyfile(os.path.join(data_dir, rel), os.path.join(d, rel.split("/")[1]))
    return chosen


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default=None,
                    help="ONNX output path (relative paths are relative to the repo root); "
                         "default models/steel-surface/1/model.onnx, required with --classes")
    ap.add_argument("--results", default=None,
                    help="results JSON path (relative paths are relative to the repo root); "
                         "default tools/train/results.json, required with --classes")
    ap.add_argument("--classes", default=None,
                    help="comma-separated subset of %s to train on (sorted; split.json filtered to them). "
                         "Skips the test fixtures and samples, which belong to the bundled model" % ",".join(CLASSES))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    args = ap.parse_args()

    subset = args.classes is not None
    if subset:
        classes = sorted(set(c.strip() for c in args.classes.split(",") if c.strip()))
        unknown = [c for c in classes if c not in CLASSES]
        if unknown:
            ap.error("--classes: unknown class(es) %s (known: %s)" % (",".join(unknown), ",".join(CLASSES)))
        if len(classes) < 2:
            ap.error("--classes: at least two classes are needed")
        if args.out is None or args.results is None:
            ap.error("--classes needs --out and --results (so the bundled model and its results.json are not overwritten)")
    else:
        classes = CLASSES
    if args.out is None:
        args.out = "models/steel-surface/1/model.onnx"
    if args.results is None:
        args.results = os.path.join("tools", "train", "results.json")

    t_start = time.time()
    torch.set_num_threads(2)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    cv2.setNumThreads(1)

    out_path = args.out if os.path.isabs(args.out) else os.path.join(REPO_ROOT, args.out)
    results_path = args.results if os.path.isabs(args.results) else os.path.join(REPO_ROOT, args.results)
    split = load_or_create_split(args.data, os.path.join(TRAIN_DIR, "split.json"))
    if subset:
        split = dict(split)
        for k in ("train", "val", "test"):
            split[k] = [r for r in split[k] if r.split("/")[0] in classes]
        print("classes: %s" % ", ".join(classes))
    print("split: train %d, val %d, test %d" % (len(split["train"]), len(split["val"]), len(split["test"])))

    # cache preprocessed uint8 arrays once
    cache = {}
    for k in ("train", "val", "test"):
        cache[k] = ([load_gray_u8(os.path.join(args.data, r)) for r in split[k]],
                    [classes.index(r.split("/")[0]) for r in split[k]])
    print("cached %d images in %.1fs" % (sum(len(v[0]) for v in cache.values()), time.time() - t_start))
    tr_x, tr_y = cache["train"]
    va_x, va_y = cache["val"]
    te_x, te_y = cache["test"]

    model = SteelSurfaceNet(num_classes=len(classes))
    n_params = sum(p.numel() for p in model.parameters())
    print("model: %d parameters, embedding dim %d" % (n_params, model.embedding_dim))

    steps_per_epoch = (len(tr_x) + args.batch_size - 1) // args.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    rng = random.Random(args.seed)
    best = (-1.0, None, -1)
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        order = list(range(len(tr_x)))
        rng.shuffle(order)
        tot_loss, n_seen = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            x = augment_batch([tr_x[j] for j in idx], rng)
            y = torch.as_tensor([tr_y[j] for j in idx])
            logits, _ = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss) * len(idx)
            n_seen += len(idx)
        va_acc = accuracy(predict(model, va_x), va_y)
        history.append({"epoch": epoch, "loss": tot_loss / n_seen, "val_acc": va_acc})
        print("epoch %2d/%d loss %.4f val_acc %.4f (%.1fs)" % (epoch, args.epochs, tot_loss / n_seen, va_acc,
                                                              time.time() - t0), flush=True)
        # keep the best val checkpoint (ties -> later epoch, i.e. lower LR)
        if va_acc >= best[0]:
            best = (va_acc, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch)

    model.load_state_dict(best[1])
    model.eval()
    va_logits = predict(model, va_x)
    te_logits = predict(model, te_x)
    va_acc = accuracy(va_logits, va_y)
    te_acc = accuracy(te_logits, te_y)
    print("best epoch %d: val_acc %.4f test_acc %.4f" % (best[2], va_acc, te_acc))
    print("per-class test acc:", per_class_acc(te_logits, te_y, classes))

    size = export_onnx(model, out_path)
    check = verify_onnx(model, out_path, te_x[:8])
    if subset:
        print("--classes: test fixtures and samples not written (they belong to the bundled model)")
    else:
        chosen = write_fixtures(model, args.data, split, te_logits)
        print("parity fixture images:", chosen)

    results = {
        "model": "steel-surface",
        "version": 1,
    }
    if subset:
        results = {"model": "steel-surface subset", "classes": classes, "onnx": out_path}
    results.update({
        "test_accuracy": te_acc,
        "val_accuracy": va_acc,
        "per_class_test_accuracy": per_class_acc(te_logits, te_y, classes),
        "per_class_val_accuracy": per_class_acc(va_logits, va_y, classes),
        "n_train": len(tr_x), "n_val": len(va_x), "n_test": len(te_x),
        "epochs": args.epochs,
        "best_epoch": best[2],
        "seed": args.seed,
        "batch_size": args.batch_size,
        "max_lr": args.lr,
        "parameters": n_params,
        "embedding_dim": model.embedding_dim,
        "onnx_bytes": size,
        "onnx_check": check,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "opencv_version": cv2.__version__,
        "python_version": sys.version.split()[0],
        "duration_seconds": round(time.time() - t_start, 1),
        "history": history,
    })
    os.makedirs(os.path.dirname(results_path) or ".", exist_ok=True)
    with open(results_path, "w") as fh:
        json.dump(results, fh, indent=1)
        fh.write("\n")
    print("done in %.1fs" % (time.time() - t_start))


if __name__ == "__main__":
    main()
