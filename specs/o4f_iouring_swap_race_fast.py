"""O4-fast: O4 (o4_iouring_swap_race.py) with the pin taken by GUP-fast, against PageAnonExclusive's
clearing protocol (the __folio_try_share_anon_rmap comment; 6c287605fd56, 088b8aa537c2), under sequential
consistency.

From 5.19 reclaim unmaps an exclusive page in two steps: it clears and flushes the PTE, then tries to share
the page (clear PageAnonExclusive), which fails if the page may be pinned, and restores the PTE. GUP-fast
reads the PTE, pins, and reads the PTE again. Whatever the order, either reclaim sees the pin and restores the
PTE (the walk's second look finds it as it was and keeps the pin), or the walk finds the PTE cleared or
changed and drops its pin for the slow path, which waits for the page-table lock: the pin and the mapping
stay together (pin_coherent), holds from ``anon_exclusive`` on. Before 5.19 the one-shot check of
feb889fb40fa races with the pin as in O4. The barriers 088b8aa537c2 added matter only on a weakly ordered
machine, which the world does not model.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("o4_iouring_swap_race.py"))

SPEC = replace(
    BASE,
    id="O4-fast",
    title=BASE.title + " (GUP-fast against PageAnonExclusive's clearing protocol)",
    world=lambda **params: BASE.world(**params).with_operations_as({"pin_rw": "pin_rw_fast"}),
    params={"tlb": False},
    ladder=[{}],
)
