"""Your strategy for the iterated Battle of the Sexes (you are the row player).

Edit `row_strategy`, keep its name and signature. Helper modules next to this file may
be imported.
"""

import random


def row_strategy(history):
    """Return the row player's next move, 0 or 1.

    history: list of (row_move, column_move) tuples, one per round already played in the
    current game (empty in the first round).
    """
    if not history:
        return 0
    my_last, their_last = history[-1]
    r = random.random()
    if r < 0.1:
        return 0
    if r < 0.2:
        return 1
    if r < 0.9:
        # Mostly go where the other player went last time.
        return their_last
    return my_last
