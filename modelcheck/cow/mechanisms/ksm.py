"""KSM for small pages: MADV_MERGEABLE, ksmd's merge of identical pages, and MADV_UNMERGEABLE.

Facts read in the 7.1.5 tree (mm/ksm.c): ksm_madvise sets or clears
VM_MERGEABLE; unmerging first breaks every KSM page of the range (break_ksm).
ksmd merges a page into another of the same contents in try_to_merge_one_page:
a trylock of the page (else it moves on), then write_protect_page, which clears
and flushes the PTE and gives up unless the refcount is exactly the mapcount,
the swap cache's reference and ksmd's own (any GUP, pipe or transient reference
stops it), and clears PG_anon_exclusive (which fails for a maybe-pinned page);
the PTE comes back read-only and clean. The first of two pages becomes the KSM
page in place (PageKsm, never exclusive); replace_page maps the other's PTE to
it read-only (mk_pte from the VMA's protection: no soft-dirty, no uffd-wp bit)
and drops the old page.

Where a thread pins locklessly (GUP-fast) beside ksmd, the merge of a page into
the KSM page takes two steps, as try_to_merge_one_page takes them under the
page lock it holds throughout: write_protect_page (the PTE cleared and flushed,
the test, PG_anon_exclusive cleared, the PTE back read-only and clean), then
replace_page, which takes the PTE lock again and maps the KSM page only if the
PTE is still the one write_protect_page left (pte_same); it does not look at
the refcount again. A GUP-fast read pin between the two steps keeps a page
that is then unmapped, unless the era makes such a pin unshare first (and the
unsharing fault, finding the page locked, copies it: the PTE changes).

What the world abstracts: ksmd's own reference is left out of both sides of its
test; a merge replaces every mapping of the page at once (ksmd visits each
mapping's address in turn, each visit passing the same test on fewer mappings);
the stable and unstable trees are the pages' contents (the value of every part).

break_ksm raises a write fault (FAULT_FLAG_WRITE, before 6cce3314b928, v6.2):
on a synchronous uffd-wp PTE handle_userfault cannot retry and returns
VM_FAULT_SIGBUS, break_ksm returns 0 and the page stays merged; elsewhere
do_wp_page copies it (a KSM page is never reused) into a writable, soft-dirty
page. From 6cce3314b928 it raises an unsharing fault (FAULT_FLAG_UNSHARE): a
read-only exclusive copy, soft-dirty and uffd-wp bits kept, no userfault.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import (MM_EXITED, PAGE_EXCLUSIVE, PAGE_KSM, PAGE_KSM_REPLACING, PAGE_LOCKED, PTE_DIRTY,
                                   PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, VMA_MERGEABLE, pte_make, pte_page)
from modelcheck.cow.mechanisms.faults import UnshareBranch, uffd_wp_async, unshare_fault, write_fault
from modelcheck.cow.mechanisms.memory import info, page_live, release
from modelcheck.cow.mechanisms.tlb import flush_address
from modelcheck.cow.registry import Branch, mechanism, operation, outcome


class Ksm(Branch):
    MERGEABLE = outcome("mergeable", "madvise(MADV_MERGEABLE): the VMA is VM_MERGEABLE")
    UNMERGEABLE = outcome("unmergeable", "madvise(MADV_UNMERGEABLE): no KSM page here, VM_MERGEABLE cleared")
    KSM_MERGE = ("ksm_merge", "ksmd merges the page into one of the same contents: a KSM page, read-only "
                 "wherever mapped, never exclusive")
    KSM_WRPROTECT = ("ksm_wrprotect", "ksmd write-protected the page (write_protect_page: its count matched its "
                     "mappings) and holds its lock; it maps the KSM page in its place next (replace_page)")
    KSM_REPLACE_SKIPPED = ("ksm_replace_skipped", "replace_page finds the page's PTE changed since "
                           "write_protect_page (pte_same fails): ksmd leaves it and unlocks the page")
    BREAK_KSM_SIGBUS = ("break_ksm_sigbus", "break_ksm's write fault hits a uffd-wp PTE: handle_userfault "
                        "cannot retry, VM_FAULT_SIGBUS, and the page stays merged ({policy})")
    BREAK_KSM_WRITE = ("break_ksm_write", "break_ksm raises a write fault on the KSM page ({policy})")
    BREAK_KSM_UNSHARE = ("break_ksm_unshare", "break_ksm raises an unsharing fault on the KSM page "
                         "(6cce3314b928, {policy})")


def mergeable(m: Machine, s: Slots, proc: int, addr: int) -> bool:
    L = m.layout
    return bool(s[L.vma_base + proc * L.addresses + addr] & VMA_MERGEABLE)


def is_ksm(m: Machine, s: Slots, page: int) -> bool:
    return m.layout.features.pageflags and bool(s[m.layout.flags_base + page] & PAGE_KSM)


def _mappings(m: Machine, s: Slots, page: int) -> list[tuple[int, int]] | None:
    """(proc, addr) of every PTE that maps ``page``; None if one is a swap entry or outside a VM_MERGEABLE
    VMA of a live process (ksmd merges only what it finds mapped in its mergeable areas)."""
    L = m.layout
    found = []
    for p in range(L.processes):
        if p > s[0] or (L.features.mm and s[L.mm_base + p] & MM_EXITED):
            continue
        for a in range(L.addresses):
            pte = s[L.pte_index(p, a)]
            if pte and pte_page(pte) == page:
                if pte & PTE_SWAP or not mergeable(m, s, p, a):
                    return None
                found.append((p, a))
    return found or None


def _write_protectable(m: Machine, s: Slots, page: int) -> bool:
    """try_to_merge_one_page's trylock and write_protect_page's test: no reference but the mappings and the
    swap cache (a pin, a pipe, a batch or speculative reference stops it), so no maybe-pinned one either."""
    page_info = info(m, s, page)
    return not page_info.locked and page_info.refcount == page_info.mapcount + page_info.in_swapcache


def merge_target(m: Machine, s: Slots, page: int) -> int:
    """The page ksmd would merge ``page`` into: the first KSM page of the same contents, else the first other
    mergeable page of the same contents that can be write-protected too; -1 if none or if ``page`` cannot be."""
    L = m.layout
    if page == m.zero_page or is_ksm(m, s, page) or not page_live(m, s, page) or _mappings(m, s, page) is None \
            or not _write_protectable(m, s, page):
        return -1
    C = L.features.cells
    contents = s[L.value_index(page):L.value_index(page) + C]
    same = [h for h in range(L.pages) if h != page and h != m.zero_page and page_live(m, s, h)
            and s[L.value_index(h):L.value_index(h) + C] == contents]
    stable = [h for h in same if is_ksm(m, s, h)]
    if stable:
        return stable[0]
    unstable = [h for h in same if _mappings(m, s, h) is not None and _write_protectable(m, s, h)]
    return unstable[0] if unstable else -1


@mechanism(Ksm)
def op_ksm_merge(k: Kernel, t: MutableSlots, page: int) -> str | None:
    """ksmd merges ``page`` into the page ``merge_target`` names (which becomes a KSM page first, if it is not
    one): each of its PTEs is write-protected and then replaced by a read-only PTE of the KSM page."""
    L = k.layout
    if t[L.flags_base + page] & PAGE_KSM_REPLACING:
        return replace_page(k, t, page)
    target = merge_target(k, t, page)
    if target < 0:
        return None
    if not is_ksm(k, t, target):  # try_to_merge_one_page(page, NULL): the page becomes KSM in place
        for p, a in _mappings(k, t, target) or ():
            flush_address(k, t, p, a)  # write_protect_page: ptep_clear_flush first
            t[L.pte_index(p, a)] &= ~PTE_WRITE
        i = L.flags_base + target
        t[i] = (t[i] & ~PAGE_EXCLUSIVE) | PAGE_KSM
    if k.ksm_in_steps:
        return write_protect_page(k, t, page)
    for p, a in _mappings(k, t, page) or ():  # write_protect_page, then replace_page, per mapping
        flush_address(k, t, p, a)
        t[L.pte_index(p, a)] = pte_make(target, False)
        release(k, t, page)
    return "ksm_merge"


def write_protect_page(k: Kernel, t: MutableSlots, page: int) -> str:
    """The first of the two steps: under the page lock (which ksmd keeps), every PTE of ``page`` read-only and
    clean (flushed; its soft-dirty and uffd-wp bits kept), and the page no longer exclusive."""
    L = k.layout
    for p, a in _mappings(k, t, page) or ():
        flush_address(k, t, p, a)
        t[L.pte_index(p, a)] &= ~(PTE_WRITE | PTE_DIRTY)
    i = L.flags_base + page
    t[i] = (t[i] & ~PAGE_EXCLUSIVE) | PAGE_LOCKED | PAGE_KSM_REPLACING
    return "ksm_wrprotect"


def replace_page(k: Kernel, t: MutableSlots, page: int) -> str:
    """The second step: each PTE still as write_protect_page left it (pte_same, which the world takes as: the
    same page, read-only and clean) maps the KSM page of the same contents instead, and the page loses that
    mapping; then ksmd unlocks the page."""
    L = k.layout
    C = L.features.cells
    contents = t[L.value_index(page):L.value_index(page) + C]
    kpage = next((h for h in range(L.pages) if h != page and is_ksm(k, t, h) and page_live(k, t, h)
                  and t[L.value_index(h):L.value_index(h) + C] == contents), -1)
    t[L.flags_base + page] &= ~(PAGE_LOCKED | PAGE_KSM_REPLACING)
    replaced = False
    for p in range(t[0] + 1):
        for a in range(L.addresses):
            i = L.pte_index(p, a)
            pte = t[i]
            if (kpage >= 0 and pte and pte_page(pte) == page and not pte & (PTE_WRITE | PTE_DIRTY | PTE_SWAP)
                    and mergeable(k, t, p, a)):
                flush_address(k, t, p, a)
                t[i] = pte_make(kpage, False)
                release(k, t, page)
                replaced = True
    return "ksm_merge" if replaced else "ksm_replace_skipped"


@operation("madvise_mergeable aN", Ksm, summary="madvise(MADV_MERGEABLE): ksmd may merge the page",
           needs=("vma", "ksm"))
def op_madvise_mergeable(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    t[L.vma_base + proc * L.addresses + addr] |= VMA_MERGEABLE
    return "mergeable"


@operation("madvise_unmergeable aN", Ksm, summary="madvise(MADV_UNMERGEABLE): break_ksm, then not mergeable",
           needs=("vma", "ksm"), expects=(UnshareBranch.UNSHARE_COPY,))
def op_madvise_unmergeable(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """ksm_madvise: break_ksm on a KSM page mapped here, then VM_MERGEABLE goes (an address not mergeable
    ignores the advice)."""
    L = k.layout
    v = L.vma_base + proc * L.addresses + addr
    if not t[v] & VMA_MERGEABLE:
        return "unmergeable"
    pte = t[L.pte_index(proc, addr)]
    branch = ""
    if pte and not pte & PTE_SWAP and is_ksm(k, t, pte_page(pte)):
        if k.policy.breaks_ksm_by_unshare:
            branch = "break_ksm_unshare+" + unshare_fault(k, t, proc, addr) + "+"
        elif pte & PTE_UFFD_WP and not uffd_wp_async(k, t, proc, addr):
            branch = "break_ksm_sigbus+"
        else:
            branch = "break_ksm_write+" + (write_fault(k, t, proc, addr) or "") + "+"
    t[v] &= ~VMA_MERGEABLE
    return branch + "unmergeable"

