"""K1 (KSM + R/O pin, O17 / C12l): a R/O pin of a KSM page, then the owner writes.

The parent marks two addresses of the same contents mergeable
(madvise(MADV_MERGEABLE)); ksmd may merge them into one KSM page (kernel
ksm_merge), then the parent takes a R/O long-term pin of a0 and stores to a0.
A pinned page is never merged afterwards: write_protect_page gives up on a
page with any reference but its mappings and the swap cache (mm/ksm.c, all
eras), so the only danger is a pin taken on a KSM page.

* v5.19 on (a7f226604170, gup_must_unshare): a KSM page is never
  PG_anon_exclusive, so the R/O pin unshares first: a0 gets an exclusive copy
  and the pin holds it; the store reuses it: pin_coherent holds.
* before 5.19: the pin takes the KSM page as it is mapped; the store
  write-faults on a KSM page, which is copied (09854ba94c6a: always; the
  mapcount rule's reuse_ksm_page only at refcount 1, and the pin adds 1024),
  so the pin and the mapping part: pin_coherent violated. 5.8's forced COW
  break in GUP (17839856fd58) copies the KSM page at pin time instead: holds.
  Andrea's copy-on-read proposal unshares read GUPs of shared pages; a KSM
  page mapped once by a0 is not shared by mapcount (a1 maps it too: mapcount
  2, shared), so it unshares: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="K1-ksm-ro-pin",
    title="R/O pin of a KSM page, then a write (O17)",
    world=lambda: CowWorld.scripted({
        "parent": ["madvise_mergeable a0", "madvise_mergeable a1", "pin_ro a0 -> pin", "store a0"],
    }, events=["ksm"]),
    invariants=["pin_coherent"],
    covers=["ksm_merge"],
    expect={
        "dirty_cow": "violated",  # the mapcount rule before 19be0eaffa3a: only FOLL_FORCE differs
        "mapcount": "violated",              # R/O pin of the KSM page; the store copies it (refcount 1025)
        "gup_cow_break": "holds",            # 17839856fd58: the pin breaks COW first
        "page_count": "violated",            # 09854ba94c6a: a KSM page is always copied
        "page_count_fork_copy": "violated",
        "refcount_5_18": "violated",
        "anon_exclusive": "holds",           # a7f226604170: a KSM page is never exclusive: the R/O pin unshares
        "anon_exclusive_6_2": "holds",
        "per_vma_lock_6_4": "holds",  # as anon_exclusive_6_2: the per-VMA lock shows only with TLBs
        "odirect_pins_6_5": "holds",
        "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (no UFFDIO_MOVE here)
        "mainline_7_3": "holds",
        "andrea_cor": "holds",               # copy-on-read: a0 and a1 both map the KSM page (mapcount 2)
        "jason_2020": "violated",            # page_count reuse: the KSM page is copied
        "page_count_refuse_wrprotect": "violated",
    },
)
