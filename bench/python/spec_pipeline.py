"""The spec's own Python pipeline, for the serving benchmark (bench/serving.ts).

cv2.imread -> cv2.resize(224x224, INTER_LINEAR) -> cv2.cvtColor(BGR2GRAY) -> torchvision ToTensor
-> PyTorch forward, one image at a time, with the SAME weights as the committed ONNX model.
Only the ONNX file is committed, so the network is rebuilt in torch from its initializers: a tiny
interpreter of the graph's Conv / BatchNormalization / Relu / MaxPool / GlobalAveragePool / Flatten /
Gemm / Add / Identity nodes with torch.nn.functional. Its logits are checked against the ONNX
Runtime logits that bench/serving.ts computed for the first image.

Usage: /usr/bin/python3 bench/python/spec_pipeline.py MODEL.onnx IMAGES_DIR SECONDS REFERENCE.json
Prints one JSON line: {"img_per_s", "p50_ms", "p99_ms", "n", "max_abs_diff", "torch"}.
"""
import json
import os
import sys
import time

import cv2
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torchvision import transforms


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxTorch:
    """Runs an ONNX graph of plain CNN operators with torch.nn.functional."""

    def __init__(self, path):
        m = onnx.load(path)
        self.graph = m.graph
        self.params = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
        self.nodes = [(n.op_type, list(n.input), list(n.output), attrs(n)) for n in m.graph.node]
        self.input = [i.name for i in m.graph.input if i.name not in self.params][0]
        self.outputs = [o.name for o in m.graph.output]

    def __call__(self, x):
        env = dict(self.params)
        env[self.input] = x
        for op, ins, outs, a in self.nodes:
            v = [env[i] if i else None for i in ins]
            if op == 'Conv':
                pads = a.get('pads', [0, 0, 0, 0])
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    raise ValueError('asymmetric padding is not supported')
                y = F.conv2d(v[0], v[1], v[2] if len(v) > 2 else None, stride=tuple(a.get('strides', [1, 1])),
                             padding=(pads[0], pads[1]), dilation=tuple(a.get('dilations', [1, 1])), groups=a.get('group', 1))
            elif op == 'BatchNormalization':
                y = F.batch_norm(v[0], v[3], v[4], v[1], v[2], training=False, eps=a.get('epsilon', 1e-5))
            elif op == 'Relu':
                y = F.relu(v[0])
            elif op == 'MaxPool':
                pads = a.get('pads', [0, 0, 0, 0])
                y = F.max_pool2d(v[0], tuple(a['kernel_shape']), stride=tuple(a.get('strides', a['kernel_shape'])),
                                 padding=(pads[0], pads[1]), ceil_mode=bool(a.get('ceil_mode', 0)))
            elif op == 'GlobalAveragePool':
                y = F.adaptive_avg_pool2d(v[0], 1)
            elif op == 'Flatten':
                y = torch.flatten(v[0], a.get('axis', 1))
            elif op == 'Gemm':
                A = v[0].t() if a.get('transA', 0) else v[0]
                B = v[1].t() if a.get('transB', 0) else v[1]
                y = a.get('alpha', 1.0) * (A @ B)
                if len(v) > 2 and v[2] is not None:
                    y = y + a.get('beta', 1.0) * v[2]
            elif op == 'Add':
                y = v[0] + v[1]
            elif op == 'Identity':
                y = v[0]
            else:
                raise ValueError(f'operator {op} is not supported by this interpreter')
            env[outs[0]] = y
        return {o: env[o] for o in self.outputs}


def main():
    model_path, images_dir, seconds, reference = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(int(os.environ.get('BENCH_TORCH_THREADS', '2')))
    net = OnnxTorch(model_path)
    to_tensor = transforms.ToTensor()
    files = sorted(os.path.join(images_dir, f) for f in os.listdir(images_dir) if f.endswith('.jpg'))

    def pipeline(path):
        img = cv2.imread(path)                                  # BGR uint8, as the spec reads it
        img = cv2.resize(img, (224, 224), interpolation=cv2.INTER_LINEAR)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        x = to_tensor(gray).unsqueeze(0)                        # [1,1,224,224], values / 255
        with torch.no_grad():
            return net(x)['logits'][0]

    with open(reference) as f:
        ref = json.load(f)
    logits = pipeline(os.path.join(images_dir, ref['file'])).numpy()
    max_abs_diff = float(np.max(np.abs(logits - np.array(ref['logits'], dtype=np.float32))))
    if max_abs_diff > 1e-3:
        print(json.dumps({'error': f'torch logits differ from onnxruntime by {max_abs_diff}'}))
        sys.exit(2)

    for f in files[:5]:
        pipeline(f)  # warm-up
    lat = []
    t_end = time.perf_counter() + seconds
    i = 0
    t0 = time.perf_counter()
    while time.perf_counter() < t_end:
        s = time.perf_counter()
        pipeline(files[i % len(files)])
        lat.append((time.perf_counter() - s) * 1000)
        i += 1
    elapsed = time.perf_counter() - t0
    lat.sort()
    print(json.dumps({
        'img_per_s': i / elapsed, 'n': i,
        'p50_ms': lat[len(lat) // 2], 'p99_ms': lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        'max_abs_diff': max_abs_diff, 'torch': torch.__version__,
    }))


if __name__ == '__main__':
    main()
