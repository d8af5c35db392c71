"""On paper: what Word2Vec's syncs cost on W nodes, with the schedule the code uses.

    python bench/sync_projection.py [--bandwidth 3.1e9] [--hop 50e-6] [--tokens 10e9]
                                    [--sync-dtype float32|float16] [--hot-scale 1]

Prints, for a few model sizes and node counts, the bytes of a sync, the time of
one against the compute between two, one epoch's compute and communication, and
the intervals that would keep communication under 10% of the epoch. Upper
bounds on bytes: every row of a synced tier counted as changed (the noise
samples reach most output rows). The model of the wire: a ring all-reduce,
each rank sending 2(W-1)/W of the buffer at `--bandwidth` bytes/s, plus 2(W-1)
hops of `--hop` seconds. The schedule (tiers, intervals) is read from
embforge.distributed.sync_schedule, so the projection follows the defaults: the whole model
goes when the tiers reach it (every 2^L-th sync, counted in the tiers' bytes)
and once more at the end of each epoch. `--sync-dtype float16` sends the
changes in 2 bytes a value instead of 4 (Word2Vec's sync_dtype); `--hot-scale
2` syncs the tiers every 2 I(W) ids instead of the default I(W) (hot_sync_interval).
"""
import argparse
import math

from embforge.distributed.sync_schedule import HOT_SYNC_ROWS, hot_interval_for

# (vocabulary, dimension, words/s of one 16-thread node): the single-thread
# speed measured in RESULTS.md (1.97M words/s at d = 100), 0.9 a core added,
# a third of it at d = 300
MODELS = ((58_362, 100, 27e6), (1_000_000, 300, 9e6))
NODES = (2, 4, 8, 32)


def tier_levels(vocabulary: int, hot: int) -> int:
    """L: the tiers double from `hot` rows until the 2^L-th sync sends the
    whole vocabulary."""
    return max(0, math.ceil(math.log2(vocabulary / hot)))


def average_tier_rows(vocabulary: int, hot: int) -> float:
    """Rows of the average sync: the k-th sends hot 2^j rows (j = trailing zero
    bits of k), the whole model once that reaches the vocabulary, so over a
    cycle of 2^L syncs (L = ceil(log2(V / hot))) level j < L comes 2^(L-j-1)
    times and the whole model once: hot L / 2 + V / 2^L rows a sync."""
    if vocabulary <= hot:
        return float(vocabulary)
    levels = tier_levels(vocabulary, hot)
    return hot * levels / 2 + vocabulary / 2 ** levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bandwidth", type=float, default=3.1e9, help="bytes/s each way (25 Gb/s)")
    parser.add_argument("--hop", type=float, default=50e-6, help="seconds a ring step costs")
    parser.add_argument("--tokens", type=float, default=10e9, help="corpus tokens")
    parser.add_argument("--sync-dtype", choices=["float32", "float16"], default="float32",
                        help="the type the changes travel as")
    parser.add_argument("--hot-scale", type=float, default=1.0,
                        help="the tiers' interval as a multiple of the default's")
    args = parser.parse_args()
    print("          model nodes  I(W)  tier sync / compute     whole / compute    "
          "epoch: compute + tiers + whole          vs 1 node  <10%: tiers every, whole every")
    row = 2 * (4 if args.sync_dtype == "float32" else 2)  # bytes of a value in both arrays
    for vocabulary, dim, speed in MODELS:
        one_node = args.tokens / speed
        tier_bytes = row * dim * average_tier_rows(vocabulary, HOT_SYNC_ROWS)
        whole_bytes = row * dim * vocabulary
        for nodes in NODES:
            interval = round(args.hot_scale * hot_interval_for(None, nodes))
            ring, hops = 2 * (nodes - 1) / nodes, 2 * (nodes - 1) * args.hop
            tier = ring * tier_bytes / args.bandwidth + hops
            whole = ring * whole_bytes / args.bandwidth + hops
            ids = args.tokens / nodes
            compute = ids / speed
            tiers = ids / interval * tier
            whole_every = interval << tier_levels(vocabulary, HOT_SYNC_ROWS)  # ids a rank
            wholes = whole  # each epoch's last sync (the tiers' own are in `tiers`)
            total = compute + tiers + wholes
            print(f"{vocabulary:>9,} x {dim:<3d} {nodes:3d}  {interval:6d}  "
                  f"{tier * 1e3:6.1f} ms / {interval / speed * 1e3:6.3f} ms  "
                  f"{whole * 1e3:6.0f} ms / {whole_every / speed * 1e3:6.0f} ms  "
                  f"{compute:6.0f} + {tiers:7.0f} + {wholes:6.0f} s = {total:7.0f} s  "
                  f"{one_node / total:5.2f}x     "
                  f"{tier * speed / 0.1 / 1e6:5.2f}M ids, {whole * speed / 0.1 / 1e6:6.1f}M ids")


if __name__ == "__main__":
    main()
