"""Pages: who holds them, their derived counters, allocation and freeing.

A page of a large folio (a THP, in a world that has one) shares the folio's counters: its refcount is the
folio's, one per PMD mapping and one per PTE mapping of any of its pages, besides every other holder of any of
them (a FOLL_PIN counting one, and a pincount of its own); the folio is freed when that reaches zero.
"""

from __future__ import annotations

from typing import Any, Sequence

from modelcheck.cow.kernel import LRU_BATCH_SIZE, Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import (FOLIO_INDEX_BITS, GATHER_ENTIRE, GATHER_MAPPED, GATHER_REFERENCE, GATHER_SHIFT,
                                   LRU_CPU_MASK, LRU_CPU_SHIFT, MM_HAS_PINNED, OWNERS_SHARED,
                                   PAGE_EXCLUSIVE, PAGE_HUGETLB, PAGE_KSM, PAGE_LOCKED, PAGE_LRU_BATCH, PAGE_SWAPCACHE,
                                   PAGE_UNMAPPING, PAGE_WRITEBACK, PTE_DIRTY, PTE_SWAP, folio_code, owner_ids,
                                   pte_key, pte_page)
from modelcheck.cow.policies import PageInfo
from modelcheck.cow.registry import batch_twin


@batch_twin("ReferenceBatch._mapcount")
def mapcount(m: Machine, s: Slots, page: int) -> int:
    L = m.layout
    ptes = s[L.pte_base:L.pipe_base]
    key = pte_key(page)
    count = ptes.count(key) + ptes.count(key | 1)
    if m.pte_flag_bits:
        count += sum(ptes.count(key | bits) for bits in range(2, 8))
    if m.dirty_ptes:
        count += sum(ptes.count(key | PTE_DIRTY | bits) for bits in range(8))
    if m.unmap_in_steps and s[L.flags_base + page] & PAGE_UNMAPPING:
        count += 1  # the PTE try_to_unmap cleared still counts until it is restored or swapped out
    return count


@batch_twin("ReferenceBatch._refcount")
def refcount(m: Machine, s: Slots, page: int) -> int:
    """Every holder of the page: mappings, pipe buffers, GUP references, speculative and LRU-batch
    references, the swap cache, and a copy fault in flight (of a large folio's page: the folio's)."""
    if m.folios_on and s[m.layout.folio_base + page]:
        return folio_refcount(m, s, folio_pages(m, s, page))
    return mapcount(m, s, page) + other_holders(m, s, page)


def folio_pages(m: Machine, s: Slots, page: int) -> tuple[int, ...]:
    """The pages of ``page``'s folio in their order (the head first); just ``page`` for a small page."""
    L = m.layout
    code = s[L.folio_base + page] if m.folios_on else 0
    if not code:
        return (page,)
    folio = code >> FOLIO_INDEX_BITS  # (its head + 1)
    members = sorted((s[L.folio_base + g] & ((1 << FOLIO_INDEX_BITS) - 1), g) for g in range(L.pages)
                     if s[L.folio_base + g] >> FOLIO_INDEX_BITS == folio)
    return tuple(g for _, g in members)


def is_large(m: Machine, s: Slots, page: int) -> bool:
    """A page of a large folio: of the world's THP (or a copy of it), or a hugetlb page."""
    L = m.layout
    return bool(m.folios_on and s[L.folio_base + page] or m.hugetlb_on and s[L.flags_base + page] & PAGE_HUGETLB)


def pmd_mappings(m: Machine, s: Slots, head: int) -> int:
    """The PMDs that map the folio of ``head``: each maps all its pages, and counts one reference and one
    (entire) mapping, where its PTE slots count one mapping of each page."""
    L = m.layout
    return sum(1 for p in range(L.processes) if s[L.pmd_base + p] and (c := s[L.pte_index(p, 0)])
               and not c & PTE_SWAP and pte_page(c) == head)


def entire_mapcount(m: Machine, s: Slots, head: int) -> int:
    """folio_entire_mapcount: the PMDs that map the folio of ``head``, and those a munmap has cleared whose
    entire mapcount it has not dropped yet."""
    L = m.layout
    count = pmd_mappings(m, s, head) if m.folios_on else 0
    if L.features.gather:
        count += sum(1 for g in s[L.gather_base:L.gather_base + L.processes]
                     if g & GATHER_ENTIRE and g >> GATHER_SHIFT == head + 1)
    return count


def folio_refcount(m: Machine, s: Slots, pages: tuple[int, ...]) -> int:
    """The folio's refcount: its head's, which every mapping and holder of any of its pages adds to."""
    total = sum(mapcount(m, s, g) + other_holders(m, s, g) for g in pages)
    return total - (len(pages) - 1) * pmd_mappings(m, s, pages[0])


def mm_mappings(m: Machine, s: Slots, pages: tuple[int, ...], proc: int) -> int:
    """What ``proc``'s mm adds to the folio's large mapcount: one for a PMD that maps it, one per PTE that
    maps one of its pages."""
    L = m.layout
    if m.folios_on and s[L.pmd_base + proc] and (c := s[L.pte_index(proc, 0)]) and not c & PTE_SWAP \
            and pte_page(c) == pages[0]:
        return 1
    if L.features.gather and (g := s[L.gather_base + proc]) & GATHER_MAPPED and g >> GATHER_SHIFT == pages[0] + 1:
        return 1  # a PMD its munmap cleared, whose rmap has not been removed yet
    held = {g + 1 for g in pages}
    return sum(1 for a in range(L.addresses) if (c := s[L.pte_index(proc, a)]) and not c & PTE_SWAP
               and pte_page(c) + 1 in held)


def pincount(m: Machine, s: Slots, pages: tuple[int, ...]) -> int:
    """A large folio's exact count of FOLL_PIN references (compound_pincount)."""
    held = {g + 1 for g in pages}
    return sum(1 for n, h in enumerate(m.holders) if h.is_pin and s[m.layout.holder_base + n] in held)


@batch_twin("ReferenceBatch._refcount", "ReferenceBatch._spec")
def other_holders(m: Machine, s: Slots, page: int) -> int:
    """References that are not mappings (refcount = mapcount + these)."""
    L = m.layout
    count = 0
    if L.pipe_base != L.value_base:
        count += s[L.pipe_base:L.value_base].count(page + 1)
    if L.speculative:
        count += s[L.spec_base + page]
    weights = m.zero_page_holder_weights if page == m.zero_page else m.holder_weights
    if m.large_on and is_large(m, s, page):
        weights = m.large_holder_weights  # a FOLL_PIN of a THP or a hugetlb page: one, and one in its pincount
    for index, weight in weights:
        if s[index] == page + 1:
            count += weight
    if m.lru_on and s[L.flags_base + page] & PAGE_LRU_BATCH:
        count += 1
    if page == m.file_page:  # the page cache's own reference
        count += 1
    if m.swap_on and s[L.flags_base + page] & PAGE_SWAPCACHE:
        count += 1
    if L.features.gather:  # the reference of a PMD munmap cleared, until its mmu_gather lets go of it
        count += sum(1 for g in s[L.gather_base:L.gather_base + L.processes]
                     if g & GATHER_REFERENCE and g >> GATHER_SHIFT == page + 1)
    if L.features.tlb:  # a copy fault in flight holds the old page and its copy
        for w in s[L.fault_base:L.fault_base + L.features.threads]:
            if w and ((w & 255) == page + 1 or (w >> 8) == page + 1):
                count += 1
    return count


def swapcount(m: Machine, s: Slots, page: int) -> int:
    """Swap PTEs that name the page's swap slot."""
    if not m.swap_on:
        return 0
    L = m.layout
    key = pte_key(page)
    return sum(1 for c in s[L.pte_base:L.pipe_base] if c & PTE_SWAP and key <= c < key + 32)


def page_flags(m: Machine, s: Slots, page: int) -> int:
    L = m.layout
    return s[L.flags_base + page] if L.features.pageflags else 0


@batch_twin("ReferenceBatch._info", "ReferenceBatch._exclusive")
def is_anon(m: Machine, page: int) -> bool:
    """An anonymous page: not the shared zero page, not the file's page in the page cache (folio_test_anon)."""
    return page != m.zero_page and page != m.file_page


def info(m: Machine, s: Slots, page: int, proc: int = 0) -> PageInfo:
    """The page as the kernel sees it when it decides (and the mm of ``proc``)."""
    L = m.layout
    flags = page_flags(m, s, page)
    has_pinned = bool(L.features.mm and s[L.mm_base + proc] & MM_HAS_PINNED)
    if m.large_on and is_large(m, s, page):
        return _large_page_info(m, s, page, flags, has_pinned, proc)
    count = mapcount(m, s, page)
    references = count + other_holders(m, s, page)
    swapped, anon = swapcount(m, s, page), is_anon(m, page)
    unknowns = m.unknowns
    if unknowns is not None and unknowns.decisions is not None:  # the policy sees known + unknown ones
        return _page_info(count, unknowns.count(references, page, s, unknowns.decisions), flags, has_pinned,
                          swapped, anon)
    if not count.__class__ is references.__class__ is flags.__class__ is swapped.__class__ is int:
        # counts in terms of a solver's unknowns (bounded model checking): hashing one would ask for its value
        return _page_info(count, references, flags, has_pinned, swapped, anon)
    key = (count, references, flags, has_pinned, swapped, anon)
    described = m.page_infos.get(key)
    if described is None:
        described = m.page_infos[key] = _page_info(*key)
    return described


def _large_page_info(m: Machine, s: Slots, page: int, flags: int, has_pinned: bool, proc: int) -> PageInfo:
    """A page of a large folio: the folio's refcount and pincount, and page_trans_huge_mapcount (the most any
    of its pages is mapped) as its mapcount; a hugetlb page is one large folio of its own."""
    L = m.layout
    pages = folio_pages(m, s, page)
    per_mm = [mm_mappings(m, s, pages, p) for p in range(L.processes)]
    large_mapcount = sum(per_mm)
    owner = True
    if L.features.owners:  # folio_maybe_mapped_shared: the bit, unless the folio is mapped once
        word = s[L.owners_base + pages[0]]
        shared = large_mapcount > 1 and bool(word & OWNERS_SHARED)
        owner = proc + 1 in owner_ids(word)
    else:
        shared = sum(1 for n in per_mm if n) > 1
    most_mapped = max(mapcount(m, s, g) for g in pages)
    swapped = 0
    if m.swap_on and flags & PAGE_SWAPCACHE:  # page_trans_huge_map_swapcount: what swap entries add to the most
        swapped = max(mapcount(m, s, g) + swapcount(m, s, g) for g in pages) - most_mapped  # any page is mapped
    key = (most_mapped, folio_refcount(m, s, pages), flags, has_pinned,
           pincount(m, s, pages), large_mapcount, shared, is_anon(m, page),  # (a hugetlbfs file's page is not)
           entire_mapcount(m, s, pages[0]), len(pages), owner, swapped)
    described = m.large_page_infos.get(key)
    if described is None:
        count, references, flags, has_pinned, pins, large_mapcount, shared, anon, entire, nr_pages, owner, swapped \
            = key
        described = m.large_page_infos[key] = PageInfo(
            mapcount=count, refcount=references, exclusive=bool(flags & PAGE_EXCLUSIVE), has_pinned=has_pinned,
            large=True, pincount=pins, large_mapcount=large_mapcount, maybe_shared=shared, anon=anon,
            entire_mapcount=entire, nr_pages=nr_pages, holds_owner_slot=owner,
            in_swapcache=bool(flags & PAGE_SWAPCACHE), swapcount=swapped)
    return described


def _page_info(count: int, references: Any, flags: int, has_pinned: bool, swapped: int, anon: bool) -> PageInfo:
    return PageInfo(mapcount=count, refcount=references,
                    exclusive=bool(flags & PAGE_EXCLUSIVE), in_lru_batch=bool(flags & PAGE_LRU_BATCH),
                    has_pinned=has_pinned, in_swapcache=bool(flags & PAGE_SWAPCACHE),
                    swapcount=swapped, locked=bool(flags & PAGE_LOCKED), anon=anon, ksm=bool(flags & PAGE_KSM))


@batch_twin("ReferenceBatch._release")
def release(m: Machine, t: MutableSlots, page: int) -> None:
    """A holder of ``page`` let go: free it when nothing references it any more.

    A swap-cache page that no swap PTE names and nothing else holds leaves
    the swap cache (its slot is freed) and is freed too.
    """
    L = m.layout
    if m.folios_on and t[L.folio_base + page]:
        pages = folio_pages(m, t, page)
        if m.swap_on and folio_refcount(m, t, pages) == len(pages):  # free_swap_and_cache: the swap cache holds
            free_folio_swap(m, t, page)                             # the last references of an unmapped folio
        if folio_refcount(m, t, pages) == 0:  # a large folio goes as a whole
            for g in pages:
                free_page(m, t, g)
        return
    if m.swap_on and t[L.flags_base + page] & PAGE_SWAPCACHE and refcount(m, t, page) == 1:
        free_folio_swap(m, t, page)  # the swap cache's reference alone (never the zero page: never in it)
    if refcount(m, t, page) == 0 and page != m.zero_page:  # the zero page counts no mappings, is never freed
        free_page(m, t, page)


def free_folio_swap(m: Machine, t: MutableSlots, page: int) -> bool:
    """folio_free_swap (try_to_free_swap): ``page``'s folio leaves the swap cache, its references with it, unless
    a swap PTE still names one of its pages or it is still being written out; whether it left."""
    L = m.layout
    pages = folio_pages(m, t, page)
    if (not t[L.flags_base + page] & PAGE_SWAPCACHE or t[L.flags_base + page] & PAGE_WRITEBACK
            or any(swapcount(m, t, g) for g in pages)):
        return False
    for g in pages:
        t[L.flags_base + g] &= ~PAGE_SWAPCACHE
    return True


@batch_twin("ReferenceBatch._release")
def free_page(m: Machine, t: MutableSlots, page: int) -> None:
    """Nothing references ``page``: its slot is free again."""
    L = m.layout
    C = L.features.cells
    start = L.value_base + page * C
    t[start:start + C] = [0] * C
    if L.features.pageflags:
        t[L.flags_base + page] = 0
    if m.folios_on:
        t[L.folio_base + page] = 0
    if L.features.owners:
        t[L.owners_base + page] = 0
    for k in range(L.features.held):
        # references held outside the scenario: once the scenario lets go of their page nothing in
        # it can reach the page again, so they no longer count (their slot would be reused)
        if t[L.held_base + 3 * k] == page + 1:
            t[L.held_base + 3 * k:L.held_base + 3 * k + 3] = [0, 0, 0]


@batch_twin("ReferenceBatch._copy_page")
def copy_page(k: Kernel, t: MutableSlots, source: int) -> int:
    """Take the lowest free page slot and copy ``source`` into it.

    A fresh anonymous page is exclusive (for policies that track it) and
    starts in the LRU batch of the CPU the step runs on (when the world has
    LRU batches: folio_add_lru puts it in this CPU's lru_add batch).
    """
    L = k.layout
    C = L.features.cells
    vb = L.value_base
    if k.lru_on:
        drain_if_full(k, t)
    for page in range(L.pages):
        if t[vb + page * C] == 0:
            t[vb + page * C:vb + page * C + C] = t[vb + source * C:vb + source * C + C]
            if L.features.pageflags:
                t[L.flags_base + page] = ((PAGE_EXCLUSIVE if k.policy.uses_exclusive else 0)
                                          | (PAGE_LRU_BATCH | k.cpu << LRU_CPU_SHIFT if k.lru_on else 0)
                                          | (t[L.flags_base + source] & PAGE_HUGETLB))  # a huge page's copy is one
            return page
    raise RuntimeError("no free page slot: the world's page budget is too small")


def copy_folio(k: Kernel, t: MutableSlots, head: int) -> tuple[int, ...]:
    """A new large folio with the contents of ``head``'s (``new_folio``)."""
    return new_folio(k, t, folio_pages(k, t, head))


def new_folio(k: Kernel, t: MutableSlots, sources: Sequence[int]) -> tuple[int, ...]:
    """A new large folio in free slots, its pages in order with the contents of ``sources`` (the head first);
    exclusive for policies that track it (the head's flag stands for the PMD mapping)."""
    L = k.layout
    new: list[int] = []
    for n, g in enumerate(sources):
        page = copy_page(k, t, g)
        if L.features.pageflags:
            t[L.flags_base + page] = PAGE_EXCLUSIVE if k.policy.uses_exclusive and n == 0 else 0
        new.append(page)
    for n, g in enumerate(new):
        t[L.folio_base + g] = folio_code(new[0], n)
    return tuple(new)


def lru_batch_pages(m: Machine, s: Slots, cpu: int) -> list[int]:
    """The pages sitting in ``cpu``'s LRU batch, in slot order."""
    L = m.layout
    return [g for g in range(L.pages)
            if s[L.flags_base + g] & PAGE_LRU_BATCH and (s[L.flags_base + g] & LRU_CPU_MASK) >> LRU_CPU_SHIFT == cpu]


def lru_cpu_of(m: Machine, s: Slots, page: int) -> int:
    """The CPU whose LRU batch holds ``page`` (-1: none)."""
    flags = s[m.layout.flags_base + page]
    return (flags & LRU_CPU_MASK) >> LRU_CPU_SHIFT if flags & PAGE_LRU_BATCH else -1


def drain_lru_batch(m: Machine, t: MutableSlots, cpu: int) -> list[int]:
    """lru_add_drain_cpu(cpu): every page of that CPU's batch goes to the LRU, and the batch's reference with
    it; the pages it drained."""
    L = m.layout
    drained = lru_batch_pages(m, t, cpu)
    for g in drained:
        t[L.flags_base + g] &= ~(PAGE_LRU_BATCH | LRU_CPU_MASK)
        release(m, t, g)
    return drained


def drain_if_full(k: Kernel, t: MutableSlots) -> None:
    """The local LRU batch, full, is drained before another page goes in (as a full folio batch is)."""
    if len(lru_batch_pages(k, t, k.cpu)) >= LRU_BATCH_SIZE:
        drain_lru_batch(k, t, k.cpu)


def page_live(m: Machine, s: Slots, page: int) -> bool:
    return s[m.layout.value_index(page)] != 0


@batch_twin("ReferenceBatch._set_exclusive")
def set_exclusive(k: Kernel, t: MutableSlots, page: int, on: bool) -> None:
    if k.policy.uses_exclusive:
        i = k.layout.flags_base + page
        t[i] = t[i] | PAGE_EXCLUSIVE if on else t[i] & ~PAGE_EXCLUSIVE
