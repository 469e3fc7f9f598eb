"""The open reference world, a batch of states at a time: the same transitions as ``CowModel``, in numpy.

``CowModel`` computes one state's successors with a Python list per action;
that is a few microseconds a transition, and the reference world's big points
have hundreds of millions of transitions. Here every action family (a write at
one address of one process, a fork, a speculative reference on one page ...)
is applied to all the states of a batch that enable it at once, as array
operations. The kernel's rules are not restated: the policy's decisions are
functions of ``PageInfo`` and are tabulated once, by asking the policy, over
every mapcount, refcount and PG_anon_exclusive value the world can reach; the
rest (which page a fault takes, what fork shares, what a release frees) is the
same few steps as ``mechanisms``, on columns instead of list entries.

It serves only the open reference world with the properties listed in
``batch_scope.PROPERTIES`` (``batch_scope.batch_applies``); ``for_model``
returns None for anything else, and a world offers no batch form there. A test compares both on every reachable state of
several grid points under every policy: the same successors, the same actions,
the same violating transitions and counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from modelcheck.cow.batch_scope import batch_applies, decision_grid, grid_pages
from modelcheck.cow.invariants import LEAK_OBSERVERS, may_observe
from modelcheck.cow.layout import PAGE_EXCLUSIVE, PTE_FLAG_MASK, PTE_SHIFT, PTE_WRITE
from modelcheck.cow.policies import ForkPage, GupFirst, GupRequest, Unshare, WriteFault

if TYPE_CHECKING:
    from modelcheck.cow.model import CowModel

_SPURIOUS = ("spurious_copies", "no_spurious_copy")
# the routines here that restate nothing of the per-state code (each other one is the twin a mechanism names
# with ``registry.batch_twin``, and a test holds both ends to it): the policy's rules are asked, not restated
NOT_TWINS = frozenset({"ReferenceBatch.for_model", "ReferenceBatch.__init__", "ReferenceBatch._tabulate",
                       "ReferenceBatch._id", "ReferenceBatch._join", "_Block.__init__"})

_REUSE, _COPY, _WAIT = 0, 1, 2                 # write fault
_NOTHING, _FAULT, _UNSHARE = 0, 1, 2           # GUP's first step on a write-protected PTE
_KEEP = 0                                      # unshare: keep (else copy)


def page_order(first: np.ndarray, contents: np.ndarray, most_first: int, one_key: bool = True) -> np.ndarray:
    """Per row, the page slots sorted by (first column naming them, contents, slot): one int64 sort key
    when the three fit in 63 bits (contents < 2**48), else numpy's lexsort."""
    n, pages = first.shape
    slot_bits = pages.bit_length()
    if one_key and 48 + slot_bits + most_first.bit_length() <= 63:
        return np.argsort((first << (48 + slot_bits)) | (contents << slot_bits) | np.arange(pages), axis=1)
    return np.lexsort((np.broadcast_to(np.arange(pages), (n, pages)), contents, first), axis=-1)


class BatchExpansion(NamedTuple):
    """The successors of a batch of states (see ``engine.strategies.levels``)."""

    parents: np.ndarray            # (k,) row of the batch each transition starts from
    actions: np.ndarray            # (k,) index into ``ReferenceBatch.actions``
    states: np.ndarray             # (k, width) the states the transitions lead to
    failed: dict[str, np.ndarray]  # transition check -> indices (into k) of the transitions that violate it
    counted: dict[str, int]        # transition count -> matches in this batch


class _Block:
    """The transitions of one action family, gathered before they are concatenated."""

    __slots__ = ("parents", "actions", "states", "flags")

    def __init__(self, parents: np.ndarray, actions: np.ndarray, states: np.ndarray,
                 flags: dict[str, np.ndarray]) -> None:
        self.parents, self.actions, self.states, self.flags = parents, actions, states, flags


class ReferenceBatch:
    """Batch successors of one ``CowModel`` of an open world (built by ``for_model``)."""

    @staticmethod
    def for_model(model: "CowModel") -> "ReferenceBatch | None":
        """The batch form of ``model``, or None when the model uses something it does not cover."""
        names = frozenset(p.name for p in model.properties())
        return ReferenceBatch(model) if batch_applies(model.kernel, model.policy, names) else None

    def __init__(self, model: "CowModel") -> None:
        self.model = model
        L = self.layout = model.layout
        self.P, self.M, self.S = L.processes, L.addresses, L.speculative
        self.pages = L.pages
        self.pipes = L.pipe_base != L.value_base
        self.exclusive = L.features.pageflags  # PG_anon_exclusive is tracked
        self.on = dict(model.kernel.open)
        self.actions: list[Any] = []
        self._ids: dict[Any, int] = {}
        self.checks = frozenset(p.name for p in model.properties())
        self._tabulate(model.policy)
        # the value tag of a write by process p after n forks (ValueTags.code), by [p, n]
        self._tags = np.array([[model.tags.code(p, n) for n in range(self.P)] for p in range(self.P)])
        self._allowed = {name: self._leak_table(model, observers) for name, observers in LEAK_OBSERVERS.items()
                         if name in self.checks}

    # -- the policy, tabulated -------------------------------------------------------------
    def _tabulate(self, policy) -> None:
        """Every decision the policy can be asked in this world, by mapcount, refcount and exclusive."""
        most_maps, most_refs = decision_grid(self.model.kernel)
        shape = (most_maps + 1, most_refs + 1, 2)
        self._write_fault = np.zeros(shape, dtype=np.int8)
        self._fork_copy = np.zeros(shape, dtype=bool)
        self._gup_first = np.zeros(shape, dtype=np.int8)
        self._unshare_keep = np.zeros(shape, dtype=bool)
        codes = {WriteFault.REUSE: _REUSE, WriteFault.COPY: _COPY, WriteFault.WAIT: _WAIT}
        firsts = {GupFirst.NOTHING: _NOTHING, GupFirst.WRITE_FAULT: _FAULT, GupFirst.UNSHARE: _UNSHARE}
        read_gup = GupRequest(write=False, pin=False, longterm=False, pte_writable=False)
        for mc, rc, ex, info in grid_pages(self.model.kernel):
            self._write_fault[mc, rc, ex] = codes[policy.write_fault(info)]
            self._fork_copy[mc, rc, ex] = policy.fork_page(info) is ForkPage.COPY
            self._gup_first[mc, rc, ex] = firsts[policy.gup(read_gup, info)]
            self._unshare_keep[mc, rc, ex] = policy.unshare(info) is Unshare.KEEP

    def _leak_table(self, model: "CowModel", observers) -> np.ndarray:
        """allowed[observer, value code]: may this process observe this value?"""
        codes = int(self._tags.max()) + 1  # every value a write can leave (0: a free page, never seen)
        table = np.ones((self.P, codes), dtype=bool)
        for p in range(self.P):
            if observers(p):
                for code in range(1, codes):
                    table[p, code] = may_observe(model.tags, p, code)
        return table

    def _id(self, act: Any) -> int:
        n = self._ids.get(act)
        if n is None:
            n = self._ids[act] = len(self.actions)
            self.actions.append(act)
        return n

    # -- the page counters, on columns -----------------------------------------------------
    def _mapcount(self, W: np.ndarray, page: np.ndarray) -> np.ndarray:
        L = self.layout
        return ((W[:, L.pte_base:L.pipe_base] >> PTE_SHIFT) == (page + 1)[:, None]).sum(axis=1)

    def _refcount(self, W: np.ndarray, page: np.ndarray, mapcount: np.ndarray | None = None) -> np.ndarray:
        L = self.layout
        count = self._mapcount(W, page) if mapcount is None else mapcount
        if self.pipes:
            count = count + (W[:, L.pipe_base:L.value_base] == (page + 1)[:, None]).sum(axis=1)
        if self.S:
            count = count + self._spec(W, page)
        return count

    def _spec(self, W: np.ndarray, page: np.ndarray) -> np.ndarray:
        return W[np.arange(len(W)), self.layout.spec_base + page] if self.S else np.zeros(len(W), dtype=np.int64)

    def _exclusive(self, W: np.ndarray, page: np.ndarray) -> np.ndarray:
        if not self.exclusive:
            return np.zeros(len(W), dtype=np.int64)
        return (W[np.arange(len(W)), self.layout.flags_base + page] & PAGE_EXCLUSIVE) != 0

    def _info(self, W: np.ndarray, page: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mc = self._mapcount(W, page)
        return mc, self._refcount(W, page, mc), self._exclusive(W, page).astype(np.int64)

    def _set_exclusive(self, W: np.ndarray, rows: np.ndarray, page: np.ndarray, on: bool) -> None:
        if self.exclusive:
            cols = self.layout.flags_base + page[rows]
            r = np.flatnonzero(rows)
            W[r, cols] = (W[r, cols] | PAGE_EXCLUSIVE) if on else (W[r, cols] & ~PAGE_EXCLUSIVE)

    def _release(self, W: np.ndarray, page: np.ndarray) -> None:
        """A holder let go of ``page`` (per row): free it where nothing references it any more."""
        dead = np.flatnonzero(self._refcount(W, page) == 0)
        if dead.size:
            L = self.layout
            W[dead, L.value_base + page[dead]] = 0
            if self.exclusive:
                W[dead, L.flags_base + page[dead]] = 0

    def _copy_page(self, W: np.ndarray, source: np.ndarray) -> np.ndarray:
        """The lowest free slot of each row takes a copy of ``source``; a fresh page is exclusive."""
        L = self.layout
        free = W[:, L.value_base:L.value_base + self.pages] == 0
        if not free.any(axis=1).all():
            raise RuntimeError("no free page slot: the world's page budget is too small")
        new = free.argmax(axis=1)
        r = np.arange(len(W))
        W[r, L.value_base + new] = W[r, L.value_base + source]
        if self.exclusive:
            W[r, L.flags_base + new] = PAGE_EXCLUSIVE if self.model.policy.uses_exclusive else 0
        return new

    def _write_fault_on(self, W: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """do_wp_page for every row at PTE column ``k``: (decision, spurious) per row; WAIT rows are untouched."""
        pte = W[:, k]
        page = (pte >> PTE_SHIFT) - 1
        mc, rc, ex = self._info(W, page)
        decision = self._write_fault[mc, rc, ex]
        spurious = (mc == 1) & (rc - self._spec(W, page) == 1) & (decision == _COPY)
        reuse = decision == _REUSE
        if reuse.any():
            W[reuse, k] = pte[reuse] | PTE_WRITE
            self._set_exclusive(W, reuse, page, True)
        copy = np.flatnonzero(decision == _COPY)
        if copy.size:
            sub = W[copy]
            new = self._copy_page(sub, page[copy])
            sub[:, k] = (new + 1) << PTE_SHIFT | PTE_WRITE
            self._release(sub, page[copy])
            W[copy] = sub
        return decision, spurious

    # -- the batch -------------------------------------------------------------------------
    def expand(self, rows: np.ndarray) -> BatchExpansion:
        """Every enabled transition of every state of ``rows`` (an (n, width) array)."""
        S = rows.astype(np.int64, copy=False)
        blocks: list[_Block] = []
        nforks = S[:, 0]
        model = self.model
        L = self.layout
        for p in range(self.P):
            exists = nforks >= p
            if not exists.any():
                continue
            for a in range(self.M):
                write, read, unmap, splice = model.open_ops.at[p][a]
                k = L.pte_index(p, a)
                present = exists & (S[:, k] != 0)
                if not present.any():
                    continue
                if self.on["write"]:
                    self._writes(S, present, p, k, write, blocks)
                if self.on["read"]:
                    r = np.flatnonzero(present)
                    blocks.append(self._observe(S, r, p, (S[r, k] >> PTE_SHIFT) - 1, self._id(read), S[r]))
                if self.on["munmap"]:
                    r = np.flatnonzero(present)
                    W = S[r]
                    page = (W[:, k] >> PTE_SHIFT) - 1
                    W[:, k] = 0
                    self._release(W, page)
                    blocks.append(_Block(r, np.full(r.size, self._id(unmap.act("munmap"))), W, {}))
                if self.on["vmsplice"] and self.pipes:
                    self._vmsplice(S, present & (S[:, L.pipe_base + p] == 0), p, k, splice, blocks)
            if self.on["pipe_read"] and self.pipes:
                full = exists & (S[:, L.pipe_base + p] != 0)
                if full.any():
                    r = np.flatnonzero(full)
                    W = S[r]
                    page = W[:, L.pipe_base + p] - 1
                    W[:, L.pipe_base + p] = 0
                    self._release(W, page)
                    act = model.open_ops.pipe_reads[p].act("pipe_read")
                    blocks.append(self._observe(S, r, p, page, self._id(act), W))
        if self.on["fork"]:
            self._fork(S, blocks)
        if self.S:
            self._speculative(S, blocks)
        return self._join(blocks, S.shape[1])

    def _writes(self, S: np.ndarray, present: np.ndarray, p: int, k: int, base, blocks: list[_Block]) -> None:
        L = self.layout
        writable = present & ((S[:, k] & PTE_WRITE) != 0)
        tags = self._tags[p]
        tag_of = lambda W: tags[W[:, 0]]  # noqa: E731 - the value a write by p after nforks forks leaves
        r = np.flatnonzero(writable)
        if r.size:
            W = S[r]
            W[np.arange(r.size), L.value_base + (W[:, k] >> PTE_SHIFT) - 1] = tag_of(W)
            blocks.append(_Block(r, np.full(r.size, self._id(base.act("write"))), W, {}))
        r = np.flatnonzero(present & ~writable)
        if r.size:
            W = S[r]
            decision, spurious = self._write_fault_on(W, k)
            W[np.arange(r.size), L.value_base + (W[:, k] >> PTE_SHIFT) - 1] = tag_of(W)
            for code, branch in ((_REUSE, "reuse"), (_COPY, "copy")):
                pick = np.flatnonzero(decision == code)
                if pick.size:
                    flags = {name: spurious[pick] for name in _SPURIOUS if name in self.checks} if code == _COPY \
                        else {}
                    blocks.append(_Block(r[pick], np.full(pick.size, self._id(base.act(branch))), W[pick], flags))

    def _observe(self, S: np.ndarray, r: np.ndarray, observer: int, page: np.ndarray, act_id: int,
                 after: np.ndarray) -> _Block:
        """A read or a pipe read by ``observer`` of ``page`` in rows ``r``: the leak checks judge the value
        it sees (in the state before)."""
        values = S[r, self.layout.value_base + page]
        flags = {name: ~table[observer, values] for name, table in self._allowed.items()}
        return _Block(r, np.full(r.size, act_id), after, flags)

    def _vmsplice(self, S: np.ndarray, mask: np.ndarray, p: int, k: int, base, blocks: list[_Block]) -> None:
        """A read FOLL_GET held by the pipe: the policy may break COW or unshare first."""
        L = self.layout
        r = np.flatnonzero(mask)
        if not r.size:
            return
        W = S[r]
        pte = W[:, k]
        page = (pte >> PTE_SHIFT) - 1
        mc, rc, ex = self._info(W, page)
        first = np.where((pte & PTE_WRITE) != 0, _NOTHING, self._gup_first[mc, rc, ex])
        outcomes: list[tuple[np.ndarray, str, dict]] = [(np.flatnonzero(first == _NOTHING), "gup", {})]
        fault = np.flatnonzero(first == _FAULT)
        if fault.size:
            sub = W[fault]
            decision, spurious = self._write_fault_on(sub, k)
            W[fault] = sub
            for code, branch in ((_REUSE, "gup_cow_break+reuse"), (_COPY, "gup_cow_break+copy")):
                pick = decision == code
                flags = {name: spurious[pick] for name in _SPURIOUS if name in self.checks} if code == _COPY else {}
                outcomes.append((fault[pick], branch, flags))
        unshare = np.flatnonzero(first == _UNSHARE)
        if unshare.size:
            keep = self._unshare_keep[mc[unshare], rc[unshare], ex[unshare]]
            sub = W[unshare]
            self._set_exclusive(sub, keep, page[unshare], True)
            copy = np.flatnonzero(~keep)
            if copy.size:
                sub2 = sub[copy]
                new = self._copy_page(sub2, page[unshare][copy])
                sub2[:, k] = (new + 1) << PTE_SHIFT  # read-only
                self._release(sub2, page[unshare][copy])
                sub[copy] = sub2
            W[unshare] = sub
            outcomes += [(unshare[keep], "unshare_keep", {}), (unshare[~keep], "unshare_copy", {})]
        W[:, L.pipe_base + p] = W[:, k] >> PTE_SHIFT  # the page now mapped, plus one
        for pick, branch, flags in outcomes:
            if pick.size:
                blocks.append(_Block(r[pick], np.full(pick.size, self._id(base.act(branch))), W[pick], flags))

    def _fork(self, S: np.ndarray, blocks: list[_Block]) -> None:
        """The parent forks child nforks+1: each present page shared write-protected, or copied if the policy says."""
        M = self.M
        r = np.flatnonzero(S[:, 0] < self.P - 1)
        if not r.size:
            return
        W = S[r]
        child = W[:, 0] + 1
        W[:, 0] = child
        copied = np.zeros(r.size, dtype=bool)
        for a in range(M):
            pte = W[:, 1 + a]
            present = pte != 0
            if not present.any():
                continue
            page = (pte >> PTE_SHIFT) - 1
            mc, rc, ex = self._info(W, np.where(present, page, 0))
            copy = present & self._fork_copy[mc, rc, ex]
            share = present & ~copy
            child_col = 1 + child * M + a
            c = np.flatnonzero(copy)
            if c.size:
                sub = W[c]
                new = self._copy_page(sub, page[c])
                W[c] = sub
                W[c, child_col[c]] = (new + 1) << PTE_SHIFT | PTE_WRITE
                copied[c] = True
            s_rows = np.flatnonzero(share)
            if s_rows.size:
                shared = pte[s_rows] & ~PTE_WRITE
                W[s_rows, 1 + a] = shared
                W[s_rows, child_col[s_rows]] = shared
                self._set_exclusive(W, share, page, False)
        fork = self.model.open_ops.fork
        for mask, branch in ((copied, "fork_copy"), (~copied, "fork_share")):
            pick = np.flatnonzero(mask)
            if pick.size:
                blocks.append(_Block(r[pick], np.full(pick.size, self._id(fork.act(branch))), W[pick], {}))

    def _speculative(self, S: np.ndarray, blocks: list[_Block]) -> None:
        """get_page_unless_zero on a live page while fewer than S are held; or the put of one held."""
        L = self.layout
        spec = S[:, L.spec_base:L.spec_base + self.pages]
        room = spec.sum(axis=1) < self.S
        model = self.model
        for g in range(self.pages):
            if model.kernel.spec_get_on:
                r = np.flatnonzero(room & (S[:, L.value_base + g] != 0))
                if r.size:
                    W = S[r]
                    W[:, L.spec_base + g] += 1
                    act = model.kernel_operation("spec_get", g).act("spec_get")
                    blocks.append(_Block(r, np.full(r.size, self._id(act)), W, {}))
            if model.kernel.spec_put_on:
                r = np.flatnonzero(spec[:, g] > 0)
                if r.size:
                    W = S[r]
                    W[:, L.spec_base + g] -= 1
                    self._release(W, np.full(r.size, g))
                    act = model.kernel_operation("spec_put", g).act("spec_put")
                    blocks.append(_Block(r, np.full(r.size, self._id(act)), W, {}))

    def _join(self, blocks: list[_Block], width: int) -> BatchExpansion:
        if not blocks:
            empty = np.zeros(0, dtype=np.int64)
            return BatchExpansion(empty, empty, np.zeros((0, width), dtype=np.int64), {}, {})
        parents = np.concatenate([b.parents for b in blocks])
        actions = np.concatenate([b.actions for b in blocks])
        states = np.concatenate([b.states for b in blocks])
        failed: dict[str, np.ndarray] = {}
        counted: dict[str, int] = {}
        offset = 0
        hits: dict[str, list[np.ndarray]] = {}
        for b in blocks:
            for name, flag in b.flags.items():
                where = np.flatnonzero(flag)
                if where.size:
                    hits.setdefault(name, []).append(where + offset)
            offset += len(b.parents)
        for name in self.checks:
            found = np.concatenate(hits[name]) if name in hits else np.zeros(0, dtype=np.int64)
            if name == "spurious_copies":
                counted[name] = int(found.size)
            else:
                failed[name] = found
        return BatchExpansion(parents, actions, states, failed, counted)

    # -- symmetry -----------------------------------------------------------------------------
    def canonical_rows(self, rows: np.ndarray) -> np.ndarray:
        """``CowModel.canonical`` of every row: page slots renumbered in the order the PTEs, then the
        pipes, name them; pages only speculative references hold follow, by their contents."""
        L = self.layout
        n, pages = len(rows), self.pages
        W = rows.astype(np.int64, copy=True)
        ptes = W[:, L.pte_base:L.pipe_base]
        pipes = W[:, L.pipe_base:L.value_base]
        named = np.concatenate([np.where(ptes != 0, (ptes >> PTE_SHIFT) - 1, pages),
                                np.where(pipes != 0, pipes - 1, pages)], axis=1)  # ``pages``: names no page
        K = named.shape[1]
        value = W[:, L.value_base:L.value_base + pages]
        # first[row, g]: the first column naming page g (K + 1: none; column ``pages`` takes the -1s)
        first = np.full((n, pages + 1), K + 1, dtype=np.int64)
        rows_n = np.arange(n)
        for j in range(K - 1, -1, -1):  # right to left, so the leftmost column is the one that stays
            first[rows_n, named[:, j]] = j
        first = first[:, :pages]
        loose = (first == K + 1) & (value != 0)
        first[loose] = K  # held only by speculative references: after the named ones, by contents
        contents = value << 32
        if self.S:
            contents = contents | (W[:, L.spec_base:L.spec_base + pages] << 16)
        if self.exclusive:
            contents = contents | W[:, L.flags_base:L.flags_base + pages]
        contents = np.where(loose, contents, 0)
        order = page_order(first, contents, K + 1)  # order[r] = the old page that gets number r
        renumber = np.empty_like(order)
        np.put_along_axis(renumber, order, np.broadcast_to(np.arange(pages), (n, pages)), axis=1)
        present = ptes != 0
        old_page = np.where(present, (ptes >> PTE_SHIFT) - 1, 0)
        renamed = (np.take_along_axis(renumber, old_page, axis=1) + 1) << PTE_SHIFT | (ptes & PTE_FLAG_MASK)
        W[:, L.pte_base:L.pipe_base] = np.where(present, renamed, 0)
        if pipes.shape[1]:
            W[:, L.pipe_base:L.value_base] = np.where(
                pipes != 0, np.take_along_axis(renumber, np.maximum(pipes - 1, 0), axis=1) + 1, 0)
        for base in [L.value_base] + ([L.spec_base] if self.S else []) + ([L.flags_base] if self.exclusive else []):
            W[:, base:base + pages] = np.take_along_axis(W[:, base:base + pages], order, axis=1)
        return W
