"""``anon_exclusive_6_2``: v6.0 to v6.2, the anon_exclusive line completed.

* 64fe24a3e05e ("mm/mprotect: try avoiding write faults for exclusive
  anonymous pages when changing protection", v6.0): mprotect(PROT_WRITE) sets
  the write bit directly on a private anonymous PTE whose page is exclusive,
  when the PTE has no uffd-wp bit and soft-dirty tracking does not need a fault
  (the PTE is already soft-dirty). 6.0 also required the PTE to be dirty; by
  6.2 that is dropped for private mappings, which is what is modelled.
* 84209e87c696 and 8d6a0ac09a16 (v6.2): R/O long-term pins unshare anything in
  a COW mapping, not only anonymous pages. The world's pages are all
  anonymous, so this part changes nothing here.
"""

from modelcheck.cow.policies.anon_exclusive import AnonExclusivePolicy
from modelcheck.cow.policies.base import PageInfo


class AnonExclusive62Policy(AnonExclusivePolicy):
    name = "anon_exclusive_6_2"
    release = "v6.2"
    commits = ("64fe24a3e05e", "84209e87c696", "8d6a0ac09a16")
    summary = "anon_exclusive plus mprotect write-upgrade of exclusive pages"

    def mprotect_makes_writable(self, page: PageInfo, pte_soft_dirty: bool) -> bool:
        return page.exclusive and pte_soft_dirty


POLICY = AnonExclusive62Policy()
