//! `Pkmap::verify()`: the permanent kmap pool's invariants, for the `verify` console command.
use super::{Pkmap, LAST_PKMAP, PA_HASH_SIZE};

/// A broken invariant and the pkmap slot where it shows.
pub type PkmapVerifyError = (&'static str, usize);

impl Pkmap {
    /// Every slot with a count maps a page that `page_address` finds in that very slot (so no
    /// page is in two slots), every hash chain links only mapped slots of its bucket and ends,
    /// unmapped slots have no link, and `last_pkmap_nr` is a slot. O(LAST_PKMAP).
    pub fn verify(&self) -> Result<(), PkmapVerifyError> {
        if self.last_pkmap_nr >= LAST_PKMAP {
            return Err(("last_pkmap_nr is not a slot", self.last_pkmap_nr));
        }
        let mut linked = 0;
        for b in 0..PA_HASH_SIZE {
            let mut link = self.pa_hash[b];
            while link != 0 {
                let nr = usize::from(link) - 1;
                linked += 1;
                if nr >= LAST_PKMAP || linked > LAST_PKMAP {
                    return Err(("page_address hash chain broken or looping", nr));
                }
                if self.pkmap_count[nr] == 0 || Self::bucket(self.slot_pfn[nr]) != b {
                    return Err(("hash links an unmapped slot, or one of another bucket", nr));
                }
                link = self.pa_next[nr];
            }
        }
        for nr in 0..LAST_PKMAP {
            if self.pkmap_count[nr] == 0 {
                if self.pa_next[nr] != 0 {
                    return Err(("unmapped slot still linked", nr));
                }
            } else if self.lookup(self.slot_pfn[nr]) != Some(nr) {
                return Err(("mapped page not found in its slot (mapped twice?)", nr));
            }
        }
        if linked != self.nr_mapped() {
            return Err(("hash chains hold another number of slots than are mapped", 0));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pkmap;
    use crate::mm::Pfn;

    /// `PKMAP_BASE` on 32-bit ARM's 3G/1G split.
    const BASE: u64 = 0xbfe0_0000;

    fn mapped() -> Pkmap {
        let mut p = Pkmap::new(BASE);
        for pfn in 0x3_0000..0x3_0100 {
            p.kmap(Pfn(pfn)).unwrap();
        }
        for pfn in 0x3_0000..0x3_0080 {
            p.kunmap(Pfn(pfn)).unwrap();
        }
        p.verify().unwrap();
        p
    }

    #[test]
    fn verify_finds_broken_slots_and_chains() {
        let mut p = mapped();
        // The same page in two slots.
        let nr = p.lookup(Pfn(0x3_0001)).unwrap();
        p.slot_pfn[nr] = Pfn(0x3_0002);
        assert!(p.verify().is_err());

        let mut p = mapped();
        let nr = p.lookup(Pfn(0x3_0005)).unwrap();
        p.pkmap_count[nr] = 0;
        assert_eq!(
            p.verify().unwrap_err(),
            ("hash links an unmapped slot, or one of another bucket", nr)
        );

        let mut p = mapped();
        p.last_pkmap_nr = super::LAST_PKMAP;
        assert_eq!(p.verify().unwrap_err().0, "last_pkmap_nr is not a slot");
    }
}
