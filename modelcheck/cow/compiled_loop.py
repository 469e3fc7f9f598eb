"""The compiled loop of ``compiled_batch``: the open reference world's transitions, a state at a time.

Kept apart so that numba is imported only by the runs that use it, and at module level so that numba's
cache can hold the machine code (a closure's compiled code cannot be cached). The indices into the
configuration and action arrays are module constants, compiled in; everything that differs between worlds
and policies comes in the arguments, so one compiled loop serves them all.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from modelcheck.cow.batch import _COPY as COPY
from modelcheck.cow.batch import _FAULT as FAULT
from modelcheck.cow.batch import _NOTHING as NOTHING
from modelcheck.cow.batch import _REUSE as REUSE
from modelcheck.cow.batch import _UNSHARE as UNSHARE
from modelcheck.cow.layout import PAGE_EXCLUSIVE as EXCL
from modelcheck.cow.layout import PTE_SHIFT as PTE_SHIFT_
from modelcheck.cow.layout import PTE_WRITE as PTE_WRITE_

# the world's sizes and switches, in one int64 array the loop reads (the names index it)
CONFIG = ("P", "M", "S", "pages", "width", "pte_base", "pipe_base", "value_base", "spec_base", "flags_base",
          "pipes", "exclusive", "fresh_exclusive", "write", "read", "munmap", "vmsplice", "pipe_read", "fork",
          "spec_get", "spec_put", "leak_checks", "spurious_bit")
(iP, iM, iS, ipages, iwidth, ipte, ipipe, ivalue, ispec, iflags, ipipes, iexcl, ifresh, iwrite, iread, imunmap,
 ivms, ipr, ifork, isg, isp, ileaks, ispur) = range(len(CONFIG))
# per (process, address) the action numbers of its branches, in this order
AT = ("write", "reuse", "copy", "read", "munmap", "gup", "gup_cow_break+reuse", "gup_cow_break+copy",
      "unshare_keep", "unshare_copy")
aW, aREUSE, aCOPY, aREAD, aUNMAP, aGUP, aBREAK_REUSE, aBREAK_COPY, aKEEP, aUNSHARE_COPY = range(len(AT))
# the rest: per process its pipe read, the two fork branches; per page slot a speculative get and put
PIPE_READ, FORK_SHARE, FORK_COPY = 0, 1, 2

jit = numba.njit(cache=True, nogil=True)  # (the loops' hints say Any: numba types them from the arguments)
NO_FLAGS = np.int64(0)  # a transition that violates no check (typed as the flags are: one compiled emit)
ON, OFF = np.int64(1), np.int64(0)  # set_exclusive's switch, typed once (a literal True would compile a variant)


@jit
def copy_row(w: Any, s: Any) -> None:
    """A scratch copy of the state being expanded (a loop: numba compiles a slice assignment slowly)."""
    for c in range(s.shape[0]):
        w[c] = s[c]


@jit
def counters(w: Any, cfg: Any, page: Any) -> Any:
    """ReferenceBatch._info: (mapcount, refcount, exclusive) of ``page``. The mappings are the PTEs that
    map it (_mapcount); the references those, the pipes holding it and its speculative references
    (_refcount); exclusive is PG_anon_exclusive where it is tracked (_exclusive)."""
    maps = 0
    for c in range(cfg[ipte], cfg[ipipe]):
        if (w[c] >> PTE_SHIFT_) == page + 1:
            maps += 1
    refs = maps
    if cfg[ipipes]:
        for c in range(cfg[ipipe], cfg[ivalue]):
            if w[c] == page + 1:
                refs += 1
    if cfg[iS]:
        refs += w[cfg[ispec] + page]
    ex = 0
    if cfg[iexcl] and (w[cfg[iflags] + page] & EXCL) != 0:
        ex = 1
    return maps, refs, ex


@jit
def set_exclusive(w: Any, cfg: Any, page: Any, on: Any) -> None:
    """ReferenceBatch._set_exclusive."""
    if cfg[iexcl]:
        if on:
            w[cfg[iflags] + page] |= EXCL
        else:
            w[cfg[iflags] + page] &= ~EXCL


@jit
def release(w: Any, cfg: Any, page: Any) -> None:
    """ReferenceBatch._release: free ``page`` where nothing references it any more."""
    if counters(w, cfg, page)[1] == 0:
        w[cfg[ivalue] + page] = 0
        if cfg[iexcl]:
            w[cfg[iflags] + page] = 0


@jit
def copy_page(w: Any, cfg: Any, source: Any) -> Any:
    """ReferenceBatch._copy_page: the lowest free slot takes a copy; a fresh page is exclusive."""
    for new in range(cfg[ipages]):
        if w[cfg[ivalue] + new] == 0:
            w[cfg[ivalue] + new] = w[cfg[ivalue] + source]
            if cfg[iexcl]:
                w[cfg[iflags] + new] = EXCL if cfg[ifresh] else 0
            return new
    raise RuntimeError("no free page slot: the world's page budget is too small")


@jit
def write_fault(w: Any, cfg: Any, k: Any, wf: Any) -> Any:
    """ReferenceBatch._write_fault_on, one state: (decision, spurious); a WAIT leaves ``w`` as it was."""
    pte = w[k]
    page = (pte >> PTE_SHIFT_) - 1
    mc, rc, ex = counters(w, cfg, page)
    decision = wf[mc, rc, ex]
    # (ReferenceBatch._spec: the speculative references, which a spurious copy does not count)
    spec = w[cfg[ispec] + page] if cfg[iS] else 0
    spurious = mc == 1 and rc - spec == 1 and decision == COPY
    if decision == REUSE:
        w[k] = pte | PTE_WRITE_
        set_exclusive(w, cfg, page, ON)
    elif decision == COPY:
        new = copy_page(w, cfg, page)
        w[k] = ((new + 1) << PTE_SHIFT_) | PTE_WRITE_
        release(w, cfg, page)
    return decision, spurious


@jit
def emit(w: Any, out: Any, parents: Any, actions: Any, flags: Any, n: Any, parent: Any, act: Any,
         bits: Any) -> Any:
    """One transition into the outputs (16 bits a column; a value that does not fit is an error)."""
    for c in range(w.shape[0]):
        v = w[c]
        if v < 0 or v > 0xFFFF:
            raise ValueError("a compact store needs every state to be a flat tuple of ints in 0..65535")
        out[n, c] = v
    parents[n] = parent
    actions[n] = act
    flags[n] = bits
    return n + 1


@jit
def observed(cfg: Any, allowed: Any, observer: Any, value: Any) -> Any:
    """ReferenceBatch._observe's flags: the bit of each leak check the value seen violates."""
    bits = 0
    for i in range(cfg[ileaks]):
        if not allowed[i, observer, value]:
            bits |= 1 << i
    return bits


@jit
def expand(rows: Any, cfg: Any, wf: Any, fork_copy: Any, gup_first: Any, unshare_keep: Any, tags: Any,
           allowed: Any, at_ids: Any, ids: Any, spec_ids: Any, out: Any, parents: Any, actions: Any,
           flags: Any) -> Any:
    """ReferenceBatch.expand, a state at a time, in its order of families: per process and address
    the write, read, unmap and vmsplice; the process's pipe read; the fork; the speculative references."""
    P, M, S, pages, width = cfg[iP], cfg[iM], cfg[iS], cfg[ipages], cfg[iwidth]
    spur = np.int64(1) << cfg[ispur]
    s = np.empty(width, dtype=np.int64)
    w = np.empty(width, dtype=np.int64)
    n = np.int64(0)
    for r in range(rows.shape[0]):
        for c in range(width):
            s[c] = np.int64(rows[r, c])
        nforks = s[0]
        for p in range(P):
            if nforks < p:
                continue
            tag = tags[p, nforks]
            for a in range(M):
                k = cfg[ipte] + p * M + a
                pte = s[k]
                if pte == 0:
                    continue
                page = (pte >> PTE_SHIFT_) - 1
                # ReferenceBatch._writes: a store through a writable PTE, or a write fault first
                if cfg[iwrite]:
                    copy_row(w, s)
                    if pte & PTE_WRITE_:
                        w[cfg[ivalue] + page] = tag
                        n = emit(w, out, parents, actions, flags, n, r, at_ids[p, a, aW], NO_FLAGS)
                    else:
                        decision, spurious = write_fault(w, cfg, k, wf)
                        if decision == REUSE or decision == COPY:
                            w[cfg[ivalue] + (w[k] >> PTE_SHIFT_) - 1] = tag
                            branch = aREUSE if decision == REUSE else aCOPY
                            n = emit(w, out, parents, actions, flags, n, r, at_ids[p, a, branch],
                                     spur if spurious else NO_FLAGS)
                # the read of ReferenceBatch.expand, judged as ReferenceBatch._observe judges it
                if cfg[iread]:
                    bits = observed(cfg, allowed, p, s[cfg[ivalue] + page])
                    n = emit(s, out, parents, actions, flags, n, r, at_ids[p, a, aREAD], bits)
                # the munmap of ReferenceBatch.expand
                if cfg[imunmap]:
                    copy_row(w, s)
                    w[k] = 0
                    release(w, cfg, page)
                    n = emit(w, out, parents, actions, flags, n, r, at_ids[p, a, aUNMAP], NO_FLAGS)
                # ReferenceBatch._vmsplice: a read FOLL_GET the pipe holds; COW broken or unshared first
                if cfg[ivms] and cfg[ipipes] and s[cfg[ipipe] + p] == 0:
                    copy_row(w, s)
                    mc, rc, ex = counters(w, cfg, page)
                    first = NOTHING if pte & PTE_WRITE_ else gup_first[mc, rc, ex]
                    branch = aGUP
                    bits = NO_FLAGS
                    if first == FAULT:
                        decision, spurious = write_fault(w, cfg, k, wf)
                        branch = aBREAK_REUSE if decision == REUSE else aBREAK_COPY
                        bits = spur if decision == COPY and spurious else NO_FLAGS
                        if decision != REUSE and decision != COPY:
                            branch = -1  # it waits: no transition
                    elif first == UNSHARE:
                        if unshare_keep[mc, rc, ex]:
                            set_exclusive(w, cfg, page, ON)
                            branch = aKEEP
                        else:
                            new = copy_page(w, cfg, page)
                            w[k] = (new + 1) << PTE_SHIFT_  # read-only
                            release(w, cfg, page)
                            branch = aUNSHARE_COPY
                    if branch >= 0:
                        w[cfg[ipipe] + p] = w[k] >> PTE_SHIFT_  # the page now mapped, plus one
                        n = emit(w, out, parents, actions, flags, n, r, at_ids[p, a, branch], bits)
            # the pipe read of ReferenceBatch.expand
            if cfg[ipr] and cfg[ipipes] and s[cfg[ipipe] + p] != 0:
                copy_row(w, s)
                page = w[cfg[ipipe] + p] - 1
                w[cfg[ipipe] + p] = 0
                release(w, cfg, page)
                bits = observed(cfg, allowed, p, s[cfg[ivalue] + page])
                n = emit(w, out, parents, actions, flags, n, r, ids[p, PIPE_READ], bits)
        # ReferenceBatch._fork: the parent forks child nforks+1
        if cfg[ifork] and nforks < P - 1:
            copy_row(w, s)
            child = nforks + 1
            w[0] = child
            copied = False
            for a in range(M):
                pte = w[1 + a]
                if pte == 0:
                    continue
                page = (pte >> PTE_SHIFT_) - 1
                mc, rc, ex = counters(w, cfg, page)
                if fork_copy[mc, rc, ex]:
                    new = copy_page(w, cfg, page)
                    w[1 + child * M + a] = ((new + 1) << PTE_SHIFT_) | PTE_WRITE_
                    copied = True
                else:
                    shared = pte & ~PTE_WRITE_
                    w[1 + a] = shared
                    w[1 + child * M + a] = shared
                    set_exclusive(w, cfg, page, OFF)
            branch = FORK_COPY if copied else FORK_SHARE
            n = emit(w, out, parents, actions, flags, n, r, ids[0, branch], NO_FLAGS)
        # ReferenceBatch._speculative: get_page_unless_zero, or the put of one held
        if S:
            held = 0
            for g in range(pages):
                held += s[cfg[ispec] + g]
            for g in range(pages):
                if cfg[isg] and held < S and s[cfg[ivalue] + g] != 0:
                    copy_row(w, s)
                    w[cfg[ispec] + g] += 1
                    n = emit(w, out, parents, actions, flags, n, r, spec_ids[g, 0], NO_FLAGS)
                if cfg[isp] and s[cfg[ispec] + g] > 0:
                    copy_row(w, s)
                    w[cfg[ispec] + g] -= 1
                    release(w, cfg, g)
                    n = emit(w, out, parents, actions, flags, n, r, spec_ids[g, 1], NO_FLAGS)
    return n
