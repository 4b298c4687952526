"""Generated tables with the columns real tables have and typing gets wrong: people's names and
ticket codes (a distinct value on nearly every row, no signal), postcodes (hundreds of levels,
each with its own effect) and free-text notes (a few words carry the signal)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

_FIRST = ["Ada", "Ben", "Cleo", "Dmitri", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kai"]
_SYLLABLES = ["ab", "bo", "ca", "de", "el", "fi", "gu", "ho", "in", "ka", "lo", "mu", "ne", "ri"]
_TICKET_PREFIXES = ["A/5", "PC", "STON/O2.", "W./C.", "SC/PARIS", "CA"]
_FILLER = "the order came in a box and was checked by our team on arrival at the depot".split()
_GOOD, _BAD = ["excellent", "perfect", "great"], ["broken", "late", "damaged"]


def mixed_table(
    rows: int, task: Literal["classification", "regression"], seed: int = 0
) -> pd.DataFrame:
    """``rows`` rows of ``name``, ``ticket``, ``postcode`` (``rows // 10`` levels, at least
    60), ``notes``, two numbers, a five-level ``segment`` and the ``target``."""
    rng = np.random.default_rng(seed)
    # Nearly distinct, as full names in a customer table are.
    surnames = ("".join(rng.choice(_SYLLABLES, 3)).capitalize() for _ in range(rows))
    names = [f"{rng.choice(_FIRST)} {surname}" for surname in surnames]
    tickets = [
        f"{rng.choice(_TICKET_PREFIXES)} {number}" for number in rng.permutation(rows) + 1000
    ]
    codes = np.array(
        [
            f"{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}{i % 90 + 10}"
            for i in range(max(60, rows // 10))
        ]
    )
    code_effect = rng.normal(scale=1.0, size=len(codes))
    postcode = rng.integers(0, len(codes), rows)
    tone = rng.integers(-1, 2, rows)  # -1 bad, 0 neutral, 1 good
    notes = []
    for mood in tone:
        words = list(rng.choice(_FILLER, rng.integers(5, 12)))
        if mood:
            words.insert(
                int(rng.integers(0, len(words))), str(rng.choice(_GOOD if mood > 0 else _BAD))
            )
        notes.append(" ".join(words))
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    segment = rng.integers(0, 5, rows)
    signal = code_effect[postcode] + 0.8 * tone + x1 - 0.5 * x2 + 0.3 * segment
    noisy = signal + rng.normal(scale=0.7, size=rows)
    target = (noisy > np.median(noisy)).astype(int) if task == "classification" else noisy
    return pd.DataFrame(
        {
            "name": names,
            "ticket": tickets,
            "postcode": codes[postcode],
            "notes": notes,
            "x1": x1,
            "x2": x2,
            "segment": np.array(["s0", "s1", "s2", "s3", "s4"])[segment],
            "target": target,
        }
    )
