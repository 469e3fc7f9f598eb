"""S6 (c8070b787519): a short-term R/O pin of the shared zero page raises the count every process shares.

The process read-faults a0 (the shared zero page goes in, read-only) and takes a FOLL_PIN without
FOLL_LONGTERM of it, as O_DIRECT writes from a buffer never written do from v6.5 (a7e689dd1c06, the same
series), then the device reads it and the pin is dropped. The zero page's refcount is one count of every
mapping in the system; a pin that adds GUP_PIN_COUNTING_BIAS (1024) to it is one user space can repeat, one
per address of a large read-faulted mapping, about 2 million times before the 32-bit count is negative and
every GUP of the zero page fails. The world's one address stands for any number of them: a pin that holds the
zero page with a reference is the violation (zero_page_pins_bounded).

* ``mapcount`` and before, ``page_count`` to ``per_vma_lock_6_4``, and the proposals: a R/O pin takes what is
  mapped, and a FOLL_PIN of the zero page counts 1024: violated. A short-term pin is never unshared (the
  unsharing of 84209e87c696, v6.2, is for FOLL_LONGTERM only). (pin_user_pages and its bias came in v5.6 and
  v5.7; the world's older eras pin as they do, where a kernel took a FOLL_GET, +1, 2^31 of them.)
* ``gup_cow_break`` (v5.8): every GUP in a COW mapping breaks COW first, so the pin takes a fresh page of its
  own: holds.
* c8070b787519 (v6.5, ``odirect_pins_6_5`` on): the pin of the zero page takes no reference: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="S6",
    title="a short-term R/O pin of the shared zero page counts in its refcount before 6.5",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "pin_ro_short a0 -> pin", "dma_read pin", "put pin"],
    }, fresh=["a0"]),
    invariants=["zero_page_pins_bounded", "pin_coherent", "refcount_sane"],
    expect=changed_in("odirect_pins_6_5") | {
        "gup_cow_break": "holds",  # 17839856fd58: the forced break copies the zero page first
        "andrea_cor": "violated", "jason_2020": "violated", "page_count_refuse_wrprotect": "violated",
    },
)
