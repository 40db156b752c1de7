# PyTorch CPU and numpy reference for bench/compute.ts: the same workloads at the same batch and
# thread count, each step timed on its own, reported as the median (the machine is shared and noisy).
# Prints JSON lines: first {"info": {...}} (versions, threads, the BLAS numpy loaded), then
#   {"workload", "threads", "step_ms"}            for deep-ae, rbm, conv-ae
#   {"workload": "sgemm-MxKxN", "threads", "gflops"} for the two products (numpy.matmul, float32)
# and {"note": "..."} where PyTorch is absent (the numpy rows still come).
# Debian: apt-get install python3-torch python3-numpy; run by bench/compute.ts as
#   /usr/bin/python3 bench/torch-compute.py --threads T --batch B --steps N [--warmup W]
import argparse, json, os, statistics, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--batch", type=int, default=100)
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--warmup", type=int, default=3)
args = parser.parse_args()
T, B = args.threads, args.batch

# OpenMP (torch) and OpenBLAS (numpy, and torch's BLAS on Debian) size their pools when the library
# loads, so the thread count must be in the environment before the imports below, not only set later.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(T)

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:
    torch = None
    torch_missing = str(err)

if torch is not None:
    torch.set_num_threads(T)  # before any work: the pool is fixed once used
    torch.manual_seed(0)

SGEMMS = [(100, 784, 500), (1000, 1000, 1000)]  # m, k, n: a batch through 784-500, a square product


def emit(**fields):
    print(json.dumps(fields), flush=True)


def median_step_ms(step):
    """Median wall time of one call of step(), after the warm-up calls, in milliseconds."""
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def sgd_step(model, x, lr=0.01):
    """One step of the reference loop of torch-train-steps.py: MSE reconstruction, SGD momentum 0.9."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def step():
        opt.zero_grad()
        F.mse_loss(model(x), x).backward()
        opt.step()

    return step


def deep_ae():
    # torch-train-steps.py's deep AE: 784-1000-500-250-30 sigmoid, linear code, mirrored decoder, sigmoid output
    model = nn.Sequential(
        nn.Linear(784, 1000), nn.Sigmoid(), nn.Linear(1000, 500), nn.Sigmoid(),
        nn.Linear(500, 250), nn.Sigmoid(), nn.Linear(250, 30),
        nn.Linear(30, 250), nn.Sigmoid(), nn.Linear(250, 500), nn.Sigmoid(),
        nn.Linear(500, 1000), nn.Sigmoid(), nn.Linear(1000, 784), nn.Sigmoid(),
    )
    return sgd_step(model, torch.rand(B, 784))


def conv_ae():
    # torch-train-steps.py's conv AE: 2 conv + max-pool, 2 transposed conv, sigmoid output
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(8, 16, 2, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid(),
    )
    return sgd_step(model, torch.rand(B, 1, 28, 28))


def rbm():
    # torch-train-steps.py's CD-1 loop on binary data, extended to do the work of Harmonium's rbm step
    # plus its SGD update: the reconstruction error, weight decay, both bias statistics, and the
    # momentum update v = m*v - lr*g, p += v of every parameter (Hinton's guide values).
    lr, momentum, decay = 0.1, 0.9, 2e-4
    v = (torch.rand(B, 784) > 0.5).float()
    W, a, b = torch.randn(784, 500) * 0.01, torch.zeros(784), torch.zeros(500)
    params = [W, a, b]
    velocity = [torch.zeros_like(p) for p in params]

    def step():
        ph = torch.sigmoid(v @ W + b)
        h = torch.bernoulli(ph)
        pv = torch.sigmoid(h @ W.t() + a)
        ph2 = torch.sigmoid(pv @ W + b)
        _loss = ((v - pv) ** 2).sum().item() / B  # ours computes it every step
        grads = [
            -(v.t() @ ph - pv.t() @ ph2) / B + decay * W,
            -(v - pv).mean(0),
            -(ph - ph2).mean(0),
        ]
        for p, g, vel in zip(params, grads, velocity):
            vel.mul_(momentum).add_(g, alpha=-lr)
            p.add_(vel)

    return step


def sgemm_gflops(m, k, n):
    """Median GFLOP/s of numpy.matmul on float32; each sample repeats the product to last about 5 ms."""
    rng = np.random.default_rng(0)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    for _ in range(args.warmup):
        np.matmul(a, b, out=out)
    t = time.perf_counter()
    np.matmul(a, b, out=out)
    inner = max(1, int(0.005 / max(time.perf_counter() - t, 1e-9)))
    rates = []
    for _ in range(args.steps):
        t = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        rates.append(2 * m * n * k * inner / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


def loaded_blas():
    """The BLAS libraries mapped into this process (which one numpy actually calls)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.split()[-1]}
    return sorted(paths)


np.matmul(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))  # loads the BLAS for loaded_blas()
emit(info={
    "python": sys.version.split()[0],
    "numpy": np.__version__,
    "torch": torch.__version__ if torch is not None else None,
    "torch_threads": torch.get_num_threads() if torch is not None else None,
    "blas": loaded_blas(),
})

if torch is None:
    emit(note=f"PyTorch absent (apt-get install python3-torch): {torch_missing}")
else:
    for name, make in (("deep-ae", deep_ae), ("rbm", rbm), ("conv-ae", conv_ae)):
        emit(workload=name, threads=T, step_ms=median_step_ms(make()))

for m, k, n in SGEMMS:
    emit(workload=f"sgemm-{m}x{k}x{n}", threads=T, gflops=sgemm_gflops(m, k, n))
