"""Summarises bench/world-size-drift.ts output (one JSON line per seed), every variant against A:
test SSE/image per seed and paired over seeds, the within-seed spread of the rounding-only one-rank
variants (the yardstick for chaos), when and how far the parameters drift from A's, loss curves and
the step-0 gradients.

    python3 bench/world-size-drift-report.py FILE.jsonl
"""
import json
import math
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = [k for k in 'ABCDEFG' if k in rows[0]]
seeds = [r['seed'] for r in rows]
sse = {k: [r[k]['sse_per_image'] for r in rows] for k in names}


def mean(x):
    return sum(x) / len(x)


def sd(x):
    m = mean(x)
    return math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1)) if len(x) > 1 else float('nan')


def tstat(d):
    # One seed, or differences all equal, give no t.
    s = sd(d)
    return mean(d) / (s / math.sqrt(len(d))) if len(d) > 1 and s > 0 else float('nan')


def binom_two_sided(k, n):
    # P(|#positive - n/2| >= |k - n/2|) under p = 1/2
    p = [math.comb(n, i) / 2**n for i in range(n + 1)]
    d = abs(k - n / 2)
    return sum(pi for i, pi in enumerate(p) if abs(i - n / 2) >= d - 1e-12)


print(f"{len(rows)} seeds ({seeds}), {rows[0]['epochs']} epochs, {rows[0]['steps']} steps\n")
print('test SSE/image')
print('seed  ' + '  '.join(f'{k:>7}' for k in names))
for i, s in enumerate(seeds):
    print(f'{s:>4}  ' + '  '.join(f'{sse[k][i]:7.3f}' for k in names))
print('mean  ' + '  '.join(f'{mean(sse[k]):7.3f}' for k in names))
print('sd    ' + '  '.join(f'{sd(sse[k]):7.3f}' for k in names))

print('\npaired differences X - A per seed, mean, sd, t = mean/(sd/sqrt(n)), sign test (two-sided)')
for k in names:
    if k == 'A':
        continue
    d = [x - a for x, a in zip(sse[k], sse['A'])]
    n = len(d)
    t = tstat(d)
    pos = sum(1 for v in d if v > 0)
    print(
        f'{k}-A: ' + ' '.join(f'{v:+.3f}' for v in d)
        + f' | mean {mean(d):+.3f} sd {sd(d):.3f} t {t:+.2f} (df {n-1}) | {pos}/{n} positive, p = {binom_two_sided(pos, n):.3f}'
        + f' | rms {math.sqrt(mean([v*v for v in d])):.3f}'
    )
if 'B' in names and 'C' in names:
    d = [b - c for b, c in zip(sse['B'], sse['C'])]
    print('B-C: ' + ' '.join(f'{v:+.3f}' for v in d) + f' | mean {mean(d):+.3f} sd {sd(d):.3f} t {tstat(d):+.2f}')

one = [k for k in names if k in 'ADEF']
four = [k for k in names if k in 'BCG']
if len(one) > 1:
    # Within-seed spread of the rounding-perturbed single-worker runs: the chaos noise.
    within = [sd([sse[k][i] for k in one]) for i in range(len(seeds))]
    pooled = math.sqrt(mean([w * w for w in within]))
    print(f'\nwithin-seed sd of the 1-rank runs {one}: pooled {pooled:.3f} (per seed: ' + ', '.join(f'{w:.3f}' for w in within) + ')')
    print(f'  => if chaos only, a difference of two runs has sd ~ {pooled*math.sqrt(2):.3f}')
    if four:
        d = [mean([sse[k][i] for k in four]) - mean([sse[k][i] for k in one]) for i in range(len(seeds))]
        print(
            f'mean(4-rank {four}) - mean(1-rank {one}) per seed: ' + ' '.join(f'{v:+.3f}' for v in d)
            + f' | mean {mean(d):+.3f} sd {sd(d):.3f} t {tstat(d):+.2f}'
        )

print('\nfirst step where max |param - A| exceeds 1e-6 / 1e-4 / 1e-2')
for k in names:
    if k == 'A':
        continue
    fe = [r[k]['first_exceed'] for r in rows]
    print(f'{k}: ' + '; '.join('/'.join(str(f[t]) for t in ('0.000001', '0.0001', '0.01')) for f in fe))

print('\nrelative L2 distance ||p_X - p_A|| / ||p_A|| at step (mean over seeds; max |diff|; params that differ)')
steps = sorted({int(s) for r in rows for k in names if k != 'A' for s in r[k]['snaps']})
print('step  ' + '  '.join(f'{k:>26}' for k in names if k != 'A'))
for s in steps:
    cells = []
    for k in names:
        if k == 'A':
            continue
        v = [r[k]['snaps'].get(str(s)) for r in rows]
        v = [x for x in v if x]
        cells.append(f"{mean([x['rel'] for x in v]):.1e} {mean([x['max'] for x in v]):.1e} {mean([x['differ'] for x in v]):9.0f}")
    print(f'{s:>4}  ' + '  '.join(f'{c:>26}' for c in cells))

# A short run (--steps, --loss-steps) records fewer steps than the curve's last points.
recorded = min(len(r[k]['loss_first']) for r in rows for k in names)
curve = [s for s in (1, 5, 10, 20, 50, 100, 150, 200) if s <= recorded]
print('\ntraining loss, seed-mean, steps ' + ', '.join(str(s) for s in curve))
for k in names:
    lf = [r[k]['loss_first'] for r in rows]
    print(f'{k}: ' + ' '.join(f'{mean([l[s-1] for l in lf]):.3f}' for s in curve))
print('\nfinal train loss (mean of last 100 steps), seed-mean: ' + ', '.join(f"{k} {mean([r[k]['final_loss_mean100'] for r in rows]):.3f}" for k in names))
if 'b_vs_c_final' in rows[0] and rows[0]['b_vs_c_final']:
    print('B vs C final rel distance: ' + ', '.join(f"{r['b_vs_c_final']['rel']:.2e}" for r in rows))
print('\nstep-0 gradients against C (the float64 average; A without C): rel rms, max rel, params differing, sign flips')
for key in rows[0]['grad_step0']:
    g = [r['grad_step0'][key] for r in rows]
    print(f"  {key}: rel_rms {mean([x['rel_rms'] for x in g]):.2e}, max_rel {max(x['max_rel'] for x in g):.2e}, differ {mean([x['differ'] for x in g]):.0f}, sign flips {sum(x['sign_flips'] for x in g)}")
