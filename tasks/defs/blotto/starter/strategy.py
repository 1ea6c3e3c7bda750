"""Your strategy for Colonel Blotto (you are the row player).

Edit `row_strategy`, keep its name and signature. Helper modules next to this file may
be imported.
"""

import random

FIELDS = 6
SOLDIERS = 120


def row_strategy(history):
    """Return the row player's allocation: a list of 6 non-negative Python ints with a
    sum of at most 120.

    history: list of (row_allocation, column_allocation) tuples, one per round already
    played in the current game (empty in the first round).
    """
    alloc = [0] * FIELDS
    # Reinforce a few random battlefields.
    for _ in range(random.randint(1, FIELDS)):
        alloc[random.randint(0, FIELDS - 1)] += random.randint(10, 30)
    # Spread what is left over the untouched battlefields, one after the other.
    left = SOLDIERS - sum(alloc)
    if left > 0:
        for i in range(FIELDS):
            if alloc[i] == 0:
                alloc[i] = random.randint(0, left)
                left -= alloc[i]
    # Scale to 120 (rounding down) and give what rounding lost to one random battlefield.
    total = sum(alloc)
    alloc = [int(x * SOLDIERS / total) for x in alloc]
    short = SOLDIERS - sum(alloc)
    if short:
        alloc[random.randint(0, FIELDS - 1)] += short
    return alloc
