"""Page migration (compaction, NUMA balancing, move_pages) of a small anonymous page.

Facts read in the 7.1.5 tree (mm/migrate.c, mm/rmap.c). migrate_pages
isolates the folio from the LRU (a reference of its own) and locks it;
try_to_migrate_one clears and flushes each PTE, and for an exclusive page tries
to clear PG_anon_exclusive (folio_try_share_anon_rmap_pte), which fails for a
page that may be pinned: the PTE is restored and the migration fails. Else the
PTE becomes a migration entry, writable (the PTE was), readable-exclusive (the
page was exclusive) or readable, with the soft-dirty and uffd-wp bits; the
mapping and its reference are dropped. __migrate_folio then wants the refcount
to be exactly the isolation's reference and the swap cache's
(folio_expected_ref_count, then folio_ref_freeze): any GUP, pipe, speculative
or batch reference makes it fail with -EAGAIN, and remove_migration_ptes puts
the old page back from its entries. Otherwise the contents are copied and
remove_migration_pte maps the new page from each entry: writable if the entry
was, soft-dirty and uffd-wp as it was, exclusive (RMAP_EXCLUSIVE) unless the
entry was readable. So migration keeps exclusivity (unlike KSM, and swap
without the arch's bit), and a pinned page is never migrated, in every era:
the refcount test is as old as page migration; the pin test of the first step
came with PG_anon_exclusive (6c287605fd56, v5.19).

What the world abstracts: the isolation's reference is left out of both sides
of the refcount test (as the transient reference it is, it is what
speculative references model); the migration entries exist only inside the
step that both installs them and maps the new page, since every fault and
walk under the page-table lock waits for a migration entry
(migration_entry_wait) and GUP-fast, which does not, finds no page in one and
leaves it to the slow path, which waits too. Where a thread pins locklessly
beside migration of an exclusive page mapped once (the PAE era), the clearing
of the PTE is a step of its own, as reclaim's is (``swap.clear_and_hold``):
GUP-fast can run between it and the pin test. Large folios, KSM pages and
swap-cache pages are not migrated here.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import (PAGE_EXCLUSIVE, PAGE_HUGETLB, PAGE_KSM, PAGE_KSM_REPLACING, PAGE_LOCKED,
                                   PAGE_LRU_BATCH, PAGE_SWAPCACHE, PAGE_UNMAPPING, PTE_FLAG_MASK, pte_make)
from modelcheck.cow.mechanisms.memory import copy_page, free_page, info, is_anon, is_large, mapcount
from modelcheck.cow.mechanisms.swap import clear_and_hold, held_pte_bits, present_ptes, release_hold, unmapping_pte
from modelcheck.cow.mechanisms.tlb import flush_address
from modelcheck.cow.policies import PageInfo
from modelcheck.cow.registry import Branch, mechanism


class Migrate(Branch):
    MIGRATE = ("migrate", "the kernel migrates the page (compaction): its contents copied to a new page, which "
               "every PTE of it maps instead, with the same bits and, from its migration entry, the same "
               "exclusivity")
    MIGRATE_BUSY = ("migrate_busy", "the page holds references besides its mappings: the refcount freeze fails "
                    "(-EAGAIN) and migration maps the old page back from its migration entries")
    MIGRATE_CLEAR = ("migrate_clear", "migration clears and flushes the exclusive page's PTE; it checks for pins "
                     "next (PageAnonExclusive's clearing protocol)")
    MIGRATE_RESTORE = ("migrate_restore", "the page may be pinned: migration cannot clear PageAnonExclusive, "
                       "restores the PTE and gives up ({policy})")


def migrating(m: Machine, s: Slots, page: int) -> bool:
    """Migration has cleared the page's PTE and holds it (a held PTE of a page outside the swap cache: reclaim's
    are of swap-cache pages)."""
    flags = s[m.layout.flags_base + page]
    return bool(flags & PAGE_UNMAPPING and not flags & PAGE_SWAPCACHE)


def migratable(m: Machine, s: Slots, page: int) -> bool:
    """A page compaction may isolate and lock: a small anonymous page on the LRU (not in a CPU's LRU batch),
    mapped, not locked by another path, and not one of the kinds the world does not migrate."""
    L = m.layout
    flags = s[L.flags_base + page] if L.features.pageflags else 0
    return (s[L.value_index(page)] != 0 and is_anon(m, page) and not is_large(m, s, page)
            and not flags & (PAGE_LOCKED | PAGE_LRU_BATCH | PAGE_SWAPCACHE | PAGE_KSM | PAGE_KSM_REPLACING
                             | PAGE_UNMAPPING | PAGE_HUGETLB)
            and mapcount(m, s, page) > 0)


@mechanism(Migrate)
def op_migrate(k: Kernel, t: MutableSlots, page: int) -> str | None:
    """migrate_pages on ``page``: unmap it to migration entries, freeze its refcount, copy it and map the copy;
    None when it cannot be isolated, or when the refcount test fails outright (nothing changes)."""
    if migrating(k, t, page):
        return _second_step(k, t, page)
    if not migratable(k, t, page):
        return None
    page_info = info(k, t, page)
    if k.unmap_in_steps and page_info.exclusive and page_info.mapcount == 1:
        clear_and_hold(k, t, page)
        t[k.layout.flags_base + page] |= PAGE_LOCKED  # migrate_folio_unmap holds the folio lock throughout
        return "migrate_clear"
    if k.policy.unmap_refuses(page_info) or not refcount_freezes(page_info):
        return None  # the PTEs come back as they were: the state is as before
    return _move(k, t, page, [(i, t[i]) for i in present_ptes(k, t, page)])


def refcount_freezes(page: PageInfo) -> bool:
    """__migrate_folio's test of an anonymous page outside the swap cache, once try_to_migrate has unmapped it
    (its mappings gone: the world still counts them) and with the isolation's reference left out: nothing but
    its mappings holds it."""
    return page.refcount == page.mapcount


def _second_step(k: Kernel, t: MutableSlots, page: int) -> str:
    """After the PTE was cleared: the pin test (folio_try_share_anon_rmap_pte), then the migration entry, the
    refcount test and the move, or the PTE restored."""
    L = k.layout
    index = unmapping_pte(k, t, page)
    bits = held_pte_bits(k, t, page)
    page_info = info(k, t, page)
    refused = k.policy.unmap_refuses(page_info)
    busy = not refcount_freezes(page_info)
    release_hold(k, t, page)
    t[L.flags_base + page] &= ~PAGE_LOCKED
    pte = pte_make(page, False, bits)
    if refused or busy:
        t[index] = pte  # set_pte_at, or remove_migration_ptes(src, src): the PTE as it was
        return "migrate_restore" if refused else "migrate_busy"
    return _move(k, t, page, [(index, pte)])


def _move(k: Kernel, t: MutableSlots, page: int, mapped: list[tuple[int, int]]) -> str:
    """The contents copied to a new page, each PTE of ``mapped`` (its state index and code) remapped to it with
    the same bits, its exclusivity carried over, and the old page freed."""
    L = k.layout
    exclusive = bool(t[L.flags_base + page] & PAGE_EXCLUSIVE) if L.features.pageflags else False
    new = copy_page(k, t, page)
    if L.features.pageflags:  # (folio_add_lru: the new page goes into this CPU's LRU batch, as copy_page puts it)
        fi = L.flags_base + new
        t[fi] = t[fi] & ~PAGE_EXCLUSIVE | (PAGE_EXCLUSIVE if exclusive else 0)
    for index, pte in mapped:
        t[index] = pte_make(new, False, pte & PTE_FLAG_MASK)
        p, a = divmod(index - 1, L.addresses)
        flush_address(k, t, p, a)
    free_page(k, t, page)
    return "migrate"

