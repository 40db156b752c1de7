"""Median all-reduce time of torch.distributed's gloo backend on loopback, one process per rank.

Measured the same way as bench/allreduce.ts measures the gRPC ring: float32 sum, a few warm-up
calls, then per iteration a barrier and one timed all_reduce; an iteration's time is the slowest
rank's, and the median over iterations is reported. Prints one JSON object per size.

    /usr/bin/python3 bench/gloo-allreduce.py --world 2 --sizes 1048576,4194304 --iters 10 --warmup 2

With --rank R --master HOST:PORT it runs rank R alone (one process per emulated host, started by
bench/scaling.ts; GLOO_SOCKET_IFNAME names the host's interface); rank 0 prints.

Needs Debian's python3-torch (torch 1.13 with gloo).
"""

import argparse
import json
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_rank(rank: int, world: int, master: str, sizes: list, warmup: int, iters: list) -> None:
    # One thread per rank, like one Node process per rank: the machine has few cores.
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://{master}", rank=rank, world_size=world)
    generator = torch.Generator().manual_seed(rank)
    for size, count in zip(sizes, iters):
        data = torch.randn(size // 4, generator=generator, dtype=torch.float32)
        for _ in range(warmup):
            dist.all_reduce(data)
        times = torch.zeros(count, dtype=torch.float64)
        for i in range(count):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(data)
            times[i] = time.perf_counter() - start
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        if rank == 0:
            median = statistics.median(times.tolist())
            print(json.dumps({"world": world, "bytes": size, "iters": count, "median_s": median}), flush=True)
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=int, required=True)
    parser.add_argument("--sizes", required=True, help="comma-separated buffer sizes in bytes")
    parser.add_argument("--iters", required=True, help="comma-separated timed iterations per size")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rank", type=int, default=-1, help="run this rank only (with --master)")
    parser.add_argument("--master", default="", help="HOST:PORT of rank 0's rendezvous")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    iters = [int(s) for s in args.iters.split(",")]
    if len(iters) != len(sizes):
        parser.error("--iters needs one count per size")
    if args.rank >= 0:
        run_rank(args.rank, args.world, args.master, sizes, args.warmup, iters)
        return
    master = f"127.0.0.1:{free_port()}"
    mp.spawn(run_rank, args=(args.world, master, sizes, args.warmup, iters), nprocs=args.world)


if __name__ == "__main__":
    main()
