"""Words and JSON for people: labels of actions, what a step changed, pictures of states.

The renderer reads the world's ``Machine`` and never its policy (the words
that name a decision name the policy given, or "the policy"), so states and
steps can be shown, and tested, with no policy bound.
"""

from __future__ import annotations

from typing import Any

from modelcheck.cow.actions import Act, observation, process_name
from modelcheck.cow.kernel import Machine
from modelcheck.cow.layout import (MM_EXITED, MM_FLUSH_PENDING, MM_HAS_PINNED, PAGE_WRITEBACK, PTE_DIRTY,
                                   PTE_SOFTDIRTY, PTE_SWAP,
                                   PTE_SWAP_EXCLUSIVE, PTE_UFFD_WP, PTE_WRITE, VMA_DONTFORK, VMA_MERGEABLE, VMA_WRITE,
                                   pte_page)
from modelcheck.cow.mechanisms.faults import WriteFaultBranch
from modelcheck.cow.mechanisms.memory import folio_pages, info, lru_cpu_of, mapcount, page_live, swapcount
from modelcheck.cow.mechanisms.tlb import tlb_index
from modelcheck.cow.operations import BRANCH_WORDS
from modelcheck.cow.policies import GUP_PIN_COUNTING_BIAS
from modelcheck.cow.unknowns import unknown_words

_DECISIONS = (WriteFaultBranch.REUSE, WriteFaultBranch.COPY)  # said with the page's counters


class Renderer:
    """The words and JSON of the states and steps of one world (``machine``), under ``policy_name``."""

    def __init__(self, machine: Machine, policy_name: str = "the policy") -> None:
        self.machine = machine
        self.layout = machine.layout
        self.policy_name = policy_name

    def action_actor(self, act: Act) -> str:
        return act.actor

    def action_label(self, act: Act) -> str:
        if act.actor == "kernel":
            label = f"kernel {act.kind}(page {act.page})"
        elif act.text:
            label = f"{act.actor} {act.text}"
        else:
            label = f"{act.actor} {act.kind}(a{act.addr})" if act.addr >= 0 else f"{act.actor} {act.kind}()"
        if self.machine.symbolic:  # one operation has a successor per outcome: name the outcome
            label += f" [{act.branch}" + "".join(f"; {unknown_words(name, n)}" for name, n in act.unknown) + "]"
        return label

    def value_words(self, code: int) -> str:
        return self.machine.tags.words(code)

    def describe_transition(self, before: tuple, act: Act, after: tuple) -> list[str]:
        L = self.layout
        lines: list[str] = []
        if act.unknown:  # symbolic references: the counts z3 found for this step
            lines.append("unknown references (speculative, or held outside the scenario) during this step: "
                         + ", ".join(unknown_words(name, n).replace(" unknown", "") for name, n in act.unknown))
        branch = act.branch
        for part in branch.split("+"):
            if part in _DECISIONS and act.kind not in ("fork",):
                k = L.pte_index(act.proc, act.addr)
                page = pte_page(before[k])
                c = info(self.machine, before, page, act.proc)
                lines.append(f"write fault on read-only page {page} (mapcount {c.mapcount}, refcount {c.refcount}"
                             + (", exclusive" if c.exclusive else "") + f"): {self.policy_name} decides {part}")
            elif part in BRANCH_WORDS:
                lines.append(BRANCH_WORDS[part].format(policy=self.policy_name))
        seen = observation(self.machine, before, act)
        if seen is not None:
            part = f" (part {seen.cell})" if L.features.cells > 1 else ""
            who = act.actor if act.kind in ("load", "read") else process_name(seen.observer)
            where = ("the zero page" if seen.page == self.machine.zero_page else
                     f"the file's page {seen.page}" if seen.page == self.machine.file_page else f"page {seen.page}")
            lines.append(f"{who} observes {self.value_words(seen.value)} on {where}{part}")
        if after[0] != before[0]:
            lines.append(f"child{after[0]} created (fork {after[0]})")
        thp = L.features.thp
        for p in range(L.processes):
            name = process_name(p)
            huge = thp and (before[L.pmd_base + p] or after[L.pmd_base + p])
            if thp and before[L.pmd_base + p] != after[L.pmd_base + p]:
                zeros = pte_page(after[L.pte_index(p, 0)]) == self.machine.zero_page
                lines.append(f"{name} PMD a0-a{thp - 1}: " + (
                    ("maps the huge zero page" if zeros else "maps the THP") if after[L.pmd_base + p] else
                    "split into PTEs" if after[L.pte_index(p, 0)] else "unmapped"))
            for a in range(L.addresses):
                i = L.pte_index(p, a)
                if before[i] != after[i]:
                    entry = "PMD entry" if huge and a < thp and after[L.pmd_base + p] else "PTE"
                    lines.append(f"{name} {entry} a{a}: {self._pte_words(before[i])} -> {self._pte_words(after[i])}")
                if L.features.vma:
                    i = L.vma_base + p * L.addresses + a
                    if before[i] != after[i]:
                        lines.append(f"{name} VMA a{a}: {_vma_words(before[i])} -> {_vma_words(after[i])}")
            if L.pipe_base != L.value_base:
                i = L.pipe_base + p
                if before[i] != after[i]:
                    lines.append(f"{name} pipe: {_slot_words(before[i])} -> {_slot_words(after[i])}")
            if L.features.mm:
                i = L.mm_base + p
                if before[i] & MM_HAS_PINNED != after[i] & MM_HAS_PINNED:
                    lines.append(f"{name} mm: MMF_HAS_PINNED set")
                if after[i] & MM_EXITED and not before[i] & MM_EXITED:
                    lines.append(f"{name} exited")
        for n, h in enumerate(self.machine.holders):
            i = L.holder_base + n
            if before[i] != after[i]:
                lines.append(f"{h.kind} {h.name}: {_slot_words(before[i])} -> {_slot_words(after[i])}")
        if L.features.tlb:
            for n, th in enumerate(self.machine.threads):
                for a in range(L.addresses):
                    i = tlb_index(self.machine, n, a)
                    if before[i] != after[i]:
                        lines.append(f"{th.name} TLB a{a}: {_tlb_words(before[i])} -> {_tlb_words(after[i])}")
        for g in range(L.pages):
            old, new = self._page_words(before, g), self._page_words(after, g)
            if old != new:
                lines.append(f"page {g}: {old} -> {new}")
        return lines

    def references(self, s: tuple, page: int) -> list[tuple[str, int]]:
        """Who holds ``page`` in ``s``: per holder its words and what it adds to the refcount (a FOLL_PIN
        counts GUP_PIN_COUNTING_BIAS), as ``memory.other_holders`` counts them, besides the mappings."""
        L = self.layout
        m = self.machine
        found = []
        pages = folio_pages(m, s, page)  # a THP's references are its head's: those of any of its pages
        large = len(pages) > 1
        held = {g + 1 for g in pages}
        for p in range(s[0] + 1):
            by_pmd = large and s[L.pmd_base + p] and pte_page(s[L.pte_index(p, 0)]) == pages[0]
            if by_pmd:
                found.append((f"{process_name(p)}'s PMD a0-a{L.features.thp - 1}", 1))
            for a in range(L.addresses):
                pte = s[L.pte_index(p, a)]
                if pte and not pte & PTE_SWAP and pte_page(pte) + 1 in held and not (by_pmd and a < L.features.thp):
                    found.append((f"{process_name(p)}'s PTE a{a}", 1))
            if L.pipe_base != L.value_base and s[L.pipe_base + p] in held:
                found.append((f"{process_name(p)}'s pipe buffer", 1))
        weights = (m.large_holder_weights if large else m.zero_page_holder_weights if page == m.zero_page
                   else m.holder_weights)
        for h, (index, weight) in zip(m.holders, weights):
            if s[index] in held:
                pinned = (f" (FOLL_PIN: {weight})" if weight == GUP_PIN_COUNTING_BIAS else
                          " (FOLL_PIN of a THP: 1, and one in its pincount)" if large and h.is_pin else
                          " (FOLL_PIN: no reference on the zero page)" if h.is_pin else "")
                found.append((f"{h.kind} {h.name}{pinned}", weight))
        if L.speculative and s[L.spec_base + page]:
            found.append((f"{s[L.spec_base + page]} speculative", s[L.spec_base + page]))
        c = info(m, s, page)
        if c.in_lru_batch and m.lru_on:
            found.append((f"CPU {lru_cpu_of(m, s, page)}'s LRU batch" if m.lru_cpus > 1 else "the LRU batch", 1))
        if c.in_swapcache and m.swap_on:
            found.append(("the swap cache", 1))
        if L.features.tlb:
            for w in s[L.fault_base:L.fault_base + L.features.threads]:
                if w and page + 1 in (w & 255, w >> 8):
                    found.append(("a copy fault in flight", 1))
        return found

    def _pte_words(self, pte: int) -> str:
        if not pte:
            return "none"
        if pte & PTE_SWAP:
            return f"swap entry for page {pte_page(pte)}" + (" (exclusive)" if pte & PTE_SWAP_EXCLUSIVE else "")
        if pte_page(pte) == self.machine.zero_page:
            return "the zero page, read-only"
        text = ("the file's " if pte_page(pte) == self.machine.file_page else "") + f"page {pte_page(pte)} " + \
            ("writable" if pte & PTE_WRITE else "read-only")
        if self.machine.pte_flag_bits:
            text += " soft-dirty" if pte & PTE_SOFTDIRTY else ""
            text += " uffd-wp" if pte & PTE_UFFD_WP else ""
        if self.machine.dirty_ptes and pte & PTE_DIRTY:
            text += " dirty"
        return text

    def _page_words(self, s: tuple, g: int) -> str:
        L = self.layout
        if not page_live(self.machine, s, g):
            return "free"
        if g == self.machine.zero_page:
            return "the shared zero page"
        values = ", ".join("({},{})".format(*self.machine.tags.decode(s[L.value_index(g, cell)]))
                           for cell in range(L.features.cells))
        c = info(self.machine, s, g)
        text = f"value {values} mapcount {c.mapcount} refcount {c.refcount}"
        if c.large:  # its own mapcount (a PMD maps each page); the refcount and pincount are the folio's
            folio = folio_pages(self.machine, s, g)
            text = (f"value {values} mapcount {mapcount(self.machine, s, g)} (THP page {folio.index(g)} of "
                    f"{len(folio)}, refcount {c.refcount}" + (f", pincount {c.pincount}" if c.pincount else "") + ")")
        if g == self.machine.file_page:
            text += " (in the page cache)"
        if self.machine.hugetlb_on:
            text += " hugetlb" + (f" pincount {c.pincount}" if c.pincount else "")
        if L.speculative and s[L.spec_base + g]:
            text += f" spec {s[L.spec_base + g]}"
        if c.exclusive:
            text += " exclusive"
        if c.in_lru_batch:
            text += " in-LRU-batch" + (f" (CPU {lru_cpu_of(self.machine, s, g)})" if self.machine.lru_cpus > 1 else "")
        if c.in_swapcache:  # (the page's own swap entries: a large folio's PageInfo folds them into the folio's)
            text += f" in-swap-cache swapcount {swapcount(self.machine, s, g) if c.large else c.swapcount}"
        if self.machine.swap_on and s[L.flags_base + g] & PAGE_WRITEBACK:
            text += " under-writeback"
        if c.locked:
            text += " locked"
        if c.ksm:
            text += " KSM"
        return text

    def state_summary(self, s: tuple) -> str:
        """One short line: per process its PTEs (page, w/r; s for a swap entry) and pipe, then per live page
        its value and counters, the holders and the scenario's program counters ("parent a0=p0w pipe=p0 |
        child1 a0=p0r | p0 (0,1) m1 r2")."""
        L = self.layout

        def pte(code: int) -> str:
            if not code:
                return "-"
            if code & PTE_SWAP:
                return f"s{pte_page(code)}"
            if pte_page(code) == self.machine.zero_page:
                return "zero"
            return f"p{pte_page(code)}" + ("w" if code & PTE_WRITE else "r")

        def slot(code: int) -> str:
            return "-" if code == 0 else f"p{code - 1}"

        parts = []
        for p in range(s[0] + 1):
            text = process_name(p) + "".join(f" a{a}={pte(s[L.pte_index(p, a)])}" for a in range(L.addresses))
            if L.pipe_base != L.value_base:
                text += f" pipe={slot(s[L.pipe_base + p])}"
            parts.append(text)
        for g in range(L.pages):
            if page_live(self.machine, s, g) and g != self.machine.zero_page:
                c = info(self.machine, s, g)
                values = ",".join("({},{})".format(*self.machine.tags.decode(s[L.value_index(g, cell)]))
                                  for cell in range(L.features.cells))
                parts.append(f"p{g} {values} m{c.mapcount} r{c.refcount}")
        if self.machine.holders:
            parts.append(" ".join(f"{h.name}={slot(s[L.holder_base + n])}" for n, h in enumerate(self.machine.holders)))
        if self.machine.scenario is not None:
            parts.append("pc " + " ".join(f"{t.name}={s[L.pc_base + n]}" for n, t in enumerate(self.machine.threads)))
            signalled = [name for n, name in enumerate(self.machine.scenario.tokens) if s[L.token_base + n]]
            if signalled:
                parts.append("signalled " + " ".join(signalled))
        return " | ".join(parts)

    def state_to_json(self, s: tuple) -> dict[str, Any]:
        L = self.layout
        f = L.features
        processes = {}
        for p in range(s[0] + 1):
            ptes: dict[str, Any] = {}
            for a in range(L.addresses):
                pte = s[L.pte_index(p, a)]
                entry: dict[str, Any] | None = None
                if pte & PTE_SWAP:
                    entry = {"swap": pte_page(pte), "exclusive": bool(pte & PTE_SWAP_EXCLUSIVE)}
                elif pte and pte_page(pte) == self.machine.zero_page:
                    entry = {"zero_page": True, "writable": False}
                elif pte:
                    entry = {"page": pte_page(pte), "writable": bool(pte & PTE_WRITE)}
                    if self.machine.pte_flag_bits:
                        entry.update(soft_dirty=bool(pte & PTE_SOFTDIRTY), uffd_wp=bool(pte & PTE_UFFD_WP))
                    if self.machine.dirty_ptes:
                        entry.update(dirty=bool(pte & PTE_DIRTY))
                ptes[f"a{a}"] = entry
            proc: dict[str, Any] = {"pte": ptes}
            if L.pipe_base != L.value_base:
                pipe = s[L.pipe_base + p]
                proc["pipe"] = pipe - 1 if pipe else None
            if f.vma:
                proc["vma"] = {f"a{a}": _vma_words(s[L.vma_base + p * L.addresses + a]) for a in range(L.addresses)}
            if f.mm:
                proc["has_pinned"] = bool(s[L.mm_base + p] & MM_HAS_PINNED)
                proc["exited"] = bool(s[L.mm_base + p] & MM_EXITED)
            if f.thp:  # the THP's range a0 .. a<thp-1>: one PMD, or the PTEs above
                proc["pmd"] = bool(s[L.pmd_base + p])
            processes[process_name(p)] = proc
        pages: dict[str, Any] = {}
        for g in range(L.pages):
            if page_live(self.machine, s, g) and g != self.machine.zero_page:
                c = info(self.machine, s, g)
                tags = self.machine.tags
                page: dict[str, Any] = {"value": list(tags.decode(s[L.value_index(g)])),
                                        "mapcount": mapcount(self.machine, s, g) if c.large else c.mapcount,
                                        "refcount": c.refcount, "spec": s[L.spec_base + g] if L.speculative else 0}
                if g == self.machine.file_page:
                    page["file_page"] = True
                if f.cells > 1:
                    page["values"] = [list(tags.decode(s[L.value_index(g, cell)])) for cell in range(f.cells)]
                if f.pageflags:
                    page.update(exclusive=c.exclusive, lru_batch=c.in_lru_batch)
                if self.machine.lru_cpus > 1 and c.in_lru_batch:
                    page.update(lru_cpu=lru_cpu_of(self.machine, s, g))
                if self.machine.ksm_on:
                    page.update(ksm=c.ksm)
                if self.machine.swap_on:
                    page.update(swapcache=c.in_swapcache,
                                swapcount=swapcount(self.machine, s, g) if c.large else c.swapcount)
                if c.large:
                    folio = folio_pages(self.machine, s, g)
                    page.update(folio={"head": folio[0], "index": folio.index(g)}, pincount=c.pincount)
                pages[str(g)] = page
        state: dict[str, Any] = {"nforks": s[0], "processes": processes, "pages": pages}
        if self.machine.holders:
            state["holders"] = {h.name: (s[L.holder_base + n] - 1 if s[L.holder_base + n] else None)
                                for n, h in enumerate(self.machine.holders)}
        if self.machine.scenario is not None:
            state["pc"] = {t.name: s[L.pc_base + n] for n, t in enumerate(self.machine.threads)}
            if self.machine.scenario.tokens:
                state["tokens"] = {name: bool(s[L.token_base + n]) for n, name in enumerate(self.machine.scenario.tokens)}
        if f.schedule:
            state["scheduled"] = s[L.scheduled_index]
        if f.thp:
            state["thp"] = f.thp
        if self.machine.hugetlb_on:
            state["hugetlb"] = True
        if f.held:  # what the steps have learnt of the references held outside the scenario
            state["held_outside"] = {f"h{k}": None if not s[i] else {
                "page": s[i] - 1, "least": s[i + 1], "most": s[i + 2] - 1 if s[i + 2] else None}
                for k, i in enumerate(range(L.held_base, L.held_base + 3 * f.held, 3))}
        if f.tlb:
            state["tlb"] = {th.name: {f"a{a}": _tlb_words(s[tlb_index(self.machine, n, a)]) for a in range(L.addresses)}
                            for n, th in enumerate(self.machine.threads)}
            state["flush_pending"] = {process_name(p): s[L.mm_base + p] // MM_FLUSH_PENDING
                                      for p in range(s[0] + 1)}
        return state


def _vma_words(flags: int) -> str:
    words = ["VM_WRITE" if flags & VMA_WRITE else "read-only"]
    if flags & VMA_DONTFORK:
        words.append("VM_DONTFORK")
    if flags & VMA_MERGEABLE:
        words.append("VM_MERGEABLE")
    return " ".join(words)


def _tlb_words(entry: int) -> str:
    return "empty" if not entry else f"page {(entry >> 1) - 1} " + ("writable" if entry & 1 else "read-only")


def _slot_words(code: int) -> str:
    return "empty" if code == 0 else f"page {code - 1}"
