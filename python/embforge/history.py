"""What a trainer records while it trains, kept in its archive so that it
can be drawn later (embforge.plots): one row per epoch, and points sampled
within epochs from the native progress counters.

Word2Vec rows: epoch, loss (summed over the epoch, None without
compute_loss), learning_rate (at the epoch's end), words_per_second,
seconds, complete (False for an epoch cut short by stop() or Ctrl-C).
GloVe rows: epoch, cost, pairs_per_second, seconds, complete. Points: epoch
(fractional: 2.5 is half-way through the third epoch), loss (the mean loss
per term since the previous point, None when not computed), learning_rate
(Word2Vec), rate (units per second since the previous point), seconds.
"""
from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["TrainingHistory"]

POINT_SECONDS = 0.5        # at most two points a second ...
MAX_POINTS_PER_CALL = 400  # ... and at most this many per train() call (a long run thins out)


class TrainingHistory:
    """Epoch rows and within-epoch points (lists of dicts of numbers)."""

    def __init__(self, epochs: Optional[List[Dict[str, Any]]] = None,
                 points: Optional[List[Dict[str, Any]]] = None) -> None:
        self.epochs: List[Dict[str, Any]] = list(epochs or [])
        self.points: List[Dict[str, Any]] = list(points or [])
        # (time, units, loss_sum, loss_count) of the previous sample
        self._last: Optional[Tuple[float, float, float, int]] = None
        self._interval = POINT_SECONDS

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        return f"TrainingHistory({len(self.epochs)} epochs, {len(self.points)} points)"

    # ------------------------------------------------------------ recording
    def start_call(self, expected_seconds: Optional[float] = None) -> None:
        """Before a train() call's first sample."""
        self._last = None
        self._interval = POINT_SECONDS
        if expected_seconds:
            self._interval = max(POINT_SECONDS, expected_seconds / MAX_POINTS_PER_CALL)

    def sample(self, epoch: float, units: float, progress: Any, *, learning_rate: bool,
               started: float) -> None:
        """Adds a point if the interval has passed since the previous one.
        `units`: work done in this train() call (words, pairs); `progress`:
        the native counters (loss_sum and loss_count restart with each
        native call: a smaller count than the previous sample's is a new call)."""
        now = time.perf_counter()
        loss_sum, loss_count = float(progress.loss_sum), int(progress.loss_count)
        if self._last is None:
            self._last = (now, units, loss_sum, loss_count)
            return
        then, units_then, sum_then, count_then = self._last
        if now - then < self._interval:
            return
        if loss_count < count_then:      # the counters restarted with a new native call
            sum_then, count_then = 0.0, 0
        terms = loss_count - count_then
        point: Dict[str, Any] = {"epoch": round(float(epoch), 6),
                 "loss": (loss_sum - sum_then) / terms if terms > 0 else None,
                 "rate": (units - units_then) / (now - then),
                 "seconds": now - started}
        if learning_rate:
            point["learning_rate"] = float(progress.learning_rate)
        self.points.append(point)
        self._last = (now, units, loss_sum, loss_count)

    def add_epoch(self, **row: Any) -> None:
        self.epochs.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                            for k, v in row.items()})

    # ------------------------------------------------------------ archive
    def to_json(self) -> Dict[str, Any]:
        return {"epochs": self.epochs, "points": self.points}

    @classmethod
    def from_json(cls, data: object, where: str) -> "TrainingHistory":
        """Reads to_json()'s dict back; anything else is a ValueError naming `where`."""
        if data is None:
            return cls()
        if not isinstance(data, dict) or set(data) != {"epochs", "points"}:
            raise ValueError(f"{where}: the training history is not an epochs/points record")
        for name in ("epochs", "points"):
            rows = data[name]
            if not isinstance(rows, list) or not all(
                    isinstance(row, dict) and all(isinstance(k, str) and (
                        v is None or isinstance(v, (int, float)))
                        for k, v in row.items()) for row in rows):
                raise ValueError(f"{where}: the training history's {name} are not rows of numbers")
        return cls(data["epochs"], data["points"])
