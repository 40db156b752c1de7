# PyTorch CPU reference for bench/models.ts: one training step of each model at the same sizes,
# batch and thread count. Prints one JSON line per model: {"model", "step_ms", "images_per_second"}.
# Debian: apt-get install python3-torch; run by bench/models.ts as /usr/bin/python3 torch-models.py THREADS BATCH
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads, B = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.rand(B, 784)


def mlp(sizes, act, last=None):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    if last is not None:
        layers.append(last())
    return nn.Sequential(*layers)


def timed(name, params, loss_fn, n=20):
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad()
        loss_fn().backward()
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    dt = (time.perf_counter() - t) / n
    print(json.dumps({"model": name, "step_ms": dt * 1e3, "images_per_second": B / dt}), flush=True)


def ae_loss(enc, dec, inp, extra=None):
    h = enc(inp)
    out = dec(h)
    loss = F.binary_cross_entropy_with_logits(out, x, reduction="sum") / B
    return loss + (extra(h) if extra else 0)


# ae: 784-1000-500-250-30 sigmoid hidden, linear code, sigmoid output with cross-entropy
enc = mlp([784, 1000, 500, 250, 30], nn.Sigmoid)
dec = mlp([30, 250, 500, 1000, 784], nn.Sigmoid)
timed("ae", list(enc.parameters()) + list(dec.parameters()), lambda: ae_loss(enc, dec, x))

# sparse-ae: 784-1000 ReLU code, L1 on the code
enc = nn.Sequential(nn.Linear(784, 1000), nn.ReLU())
dec = nn.Linear(1000, 784)
timed("sparse-ae", list(enc.parameters()) + list(dec.parameters()),
      lambda: ae_loss(enc, dec, x, lambda h: 1e-3 * h.abs().sum() / B))

# denoising-ae: 784-500 sigmoid, 30% masking noise, clean target
enc = nn.Sequential(nn.Linear(784, 500), nn.Sigmoid())
dec = nn.Linear(500, 784)
timed("denoising-ae", list(enc.parameters()) + list(dec.parameters()),
      lambda: ae_loss(enc, dec, x * (torch.rand_like(x) > 0.3).float()))

# contractive-ae: 784-500 sigmoid, closed-form Jacobian penalty
lin = nn.Linear(784, 500)
dec = nn.Linear(500, 784)


def cae():
    h = torch.sigmoid(lin(x))
    pen = (((h * (1 - h)) ** 2) @ (lin.weight ** 2).sum(1)).sum() / B
    return F.binary_cross_entropy_with_logits(dec(h), x, reduction="sum") / B + 0.1 * pen


timed("contractive-ae", list(lin.parameters()) + list(dec.parameters()), cae)

# conv-ae: 28x28x1 (NCHW here, the same pixels with one channel), conv 3x3 to 16 and 8 channels with
# ReLU and 2x2 max-pool, 2x2 stride-2 transposed convs to 16 and 1, sigmoid output; squared error
# summed over pixels, mean over images (Harmonium's 'mse', not nn.MSELoss's per-element mean)
conv = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.ConvTranspose2d(8, 16, 2, stride=2), nn.ReLU(),
    nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid(),
)
img = x.view(B, 1, 28, 28)
timed("conv-ae", list(conv.parameters()), lambda: ((conv(img) - img) ** 2).sum() / B)

# vae: 784-512-(20, 20) / 20-512-784, Bernoulli decoder
enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU())
mu, lv = nn.Linear(512, 20), nn.Linear(512, 20)
dec = nn.Sequential(nn.Linear(20, 512), nn.ReLU(), nn.Linear(512, 784))


def vae():
    h = enc(x)
    m, l = mu(h), lv(h)
    z = m + torch.exp(0.5 * l) * torch.randn_like(m)
    rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="sum")
    kl = -0.5 * torch.sum(1 + l - m * m - l.exp())
    return (rec + kl) / B


timed("vae", [*enc.parameters(), *mu.parameters(), *lv.parameters(), *dec.parameters()], vae)

# rbm: 784-500 CD-1 with momentum SGD and weight decay (Hinton's guide)
W = torch.randn(784, 500) * 0.01
a, b = torch.zeros(784), torch.zeros(500)
vW, va, vb = torch.zeros_like(W), torch.zeros_like(a), torch.zeros_like(b)


def cd1():
    global W, a, b
    ph = torch.sigmoid(x @ W + b)
    h = torch.bernoulli(ph)
    pv = torch.sigmoid(h @ W.t() + a)
    ph2 = torch.sigmoid(pv @ W + b)
    gW = -(x.t() @ ph - pv.t() @ ph2) / B + 2e-4 * W
    vW.mul_(0.9).add_(gW, alpha=-0.1)
    va.mul_(0.9).add_(-(x - pv).mean(0), alpha=-0.1)
    vb.mul_(0.9).add_(-(ph - ph2).mean(0), alpha=-0.1)
    W += vW
    a += va
    b += vb


for _ in range(3):
    cd1()
t = time.perf_counter()
for _ in range(50):
    cd1()
dt = (time.perf_counter() - t) / 50
print(json.dumps({"model": "rbm", "step_ms": dt * 1e3, "images_per_second": B / dt}), flush=True)
