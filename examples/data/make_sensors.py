"""Write examples/data/sensors.npz: 5,000 rows of 3 sensor readings, made deterministically.

Readings lie between 10 and 70 with noise; about 3% are missing (nan), 2% are negative
error codes and 2% are spikes above 100. Run it again and you get the same bytes.

    python examples/data/make_sensors.py [OUT.npz]
"""

import sys
from pathlib import Path

import numpy as np

ROWS = 5_000
SEED = 20_240_501


def make_sensors(rows: int = ROWS, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(10, 70, size=(rows, 3)) + rng.normal(0, 2, size=(rows, 3))
    events = rng.random((rows, 3))
    x[events < 0.03] = np.nan                                           # dropouts
    glitch = (events >= 0.03) & (events < 0.05)
    x[glitch] = -rng.integers(1, 100, size=int(glitch.sum()))           # error codes
    spike = (events >= 0.05) & (events < 0.07)
    x[spike] = rng.uniform(100, 500, size=int(spike.sum()))             # spikes
    return np.round(x, 2).astype(np.float32)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("sensors.npz")
    np.savez(out, x=make_sensors())
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
