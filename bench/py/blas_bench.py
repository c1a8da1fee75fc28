"""VGG16's dense layers (fc1, fc2) forward + input gradient for 16 images, 2 threads:
the part of Grad-CAM that goes through the system BLAS. Run it under
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas (reference) or .../openblas-pthread.
Prints the median of 5 timings in ms as JSON."""
import json, os, time
import torch
torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)
x = torch.randn(16, 25088, requires_grad=True)
w1, w2 = torch.randn(4096, 25088) * 0.01, torch.randn(4096, 4096) * 0.01


def once():
    y = torch.nn.functional.linear(torch.nn.functional.linear(x, w1).relu(), w2)
    torch.autograd.grad(y.sum(), x)


once()
ts = []
for _ in range(5):
    t = time.perf_counter()
    once()
    ts.append(time.perf_counter() - t)
print(json.dumps({"ms": sorted(ts)[2] * 1000}))
