//! Bios and requests (`struct bio`, `struct request`) and a disk's request queue: a FIFO in
//! which a bio that continues the last queued request (same partition, direction, next
//! sector) is merged into it (a back merge, `blk_attempt_back_merge`); requests go to the
//! driver one at a time in arrival order. Pure: the segments are kernel addresses the
//! submitter owns until the bio completes.
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::genhd::ReqOp;
use super::SECTOR_SHIFT;

/// One segment of a bio (`struct bio_vec`, its page already resolved to a kernel address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BioVec {
    pub addr: usize,
    pub len: u32,
}

/// A bio's completion (`bi_end_io` + `bi_status`), shared with the task waiting for it.
#[derive(Debug, Default)]
pub struct Completion {
    done: AtomicBool,
    /// 0 or a negative errno.
    status: AtomicI32,
}

impl Completion {
    pub fn new() -> Arc<Completion> {
        Arc::new(Completion::default())
    }

    /// `bio_endio`: records the status, then marks the bio done.
    pub fn complete(&self, status: i32) {
        self.status.store(status, Ordering::Relaxed);
        self.done.store(true, Ordering::Release);
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// 0 or the negative errno the bio ended with.
    pub fn status(&self) -> i32 {
        self.status.load(Ordering::Relaxed)
    }
}

/// A bio: `op` on the sectors from `sector` (the whole disk's numbering, after the
/// partition remap) into or from `segs`, in 512-byte multiples.
#[derive(Debug)]
pub struct Bio {
    pub op: ReqOp,
    /// The partition the bio was submitted to (0: the whole disk), for the accounting.
    pub partno: u32,
    pub sector: u64,
    pub segs: Vec<BioVec>,
    pub done: Arc<Completion>,
}

impl Bio {
    /// Bytes the bio moves.
    pub fn size(&self) -> u64 {
        self.segs.iter().map(|s| u64::from(s.len)).sum()
    }

    /// `bio_sectors`.
    pub fn sectors(&self) -> u64 {
        self.size() >> SECTOR_SHIFT
    }
}

/// A request: one or more bios covering consecutive sectors, all one direction.
#[derive(Debug)]
pub struct Request {
    pub op: ReqOp,
    pub partno: u32,
    pub sector: u64,
    pub nr_sectors: u64,
    pub bios: Vec<Bio>,
    /// When the first bio was queued (ns), for the accounting of its time.
    pub start_ns: u64,
}

impl Request {
    /// The segments in transfer order.
    pub fn segments(&self) -> impl Iterator<Item = &BioVec> {
        self.bios.iter().flat_map(|b| b.segs.iter())
    }

    /// Completes every bio with `status`.
    pub fn complete(&self, status: i32) {
        for b in &self.bios {
            b.done.complete(status);
        }
    }
}

/// What `add_bio` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    /// The bio joined the last queued request (counted as a merge).
    Merged,
    /// It became a new request at the tail.
    New,
}

/// A disk's queue of requests not yet given to the driver.
#[derive(Debug, Default)]
pub struct RequestQueue {
    fifo: VecDeque<Request>,
    /// Largest request in sectors (`max_hw_sectors`).
    pub max_sectors: u64,
}

impl RequestQueue {
    pub fn new(max_sectors: u64) -> RequestQueue {
        RequestQueue { fifo: VecDeque::new(), max_sectors }
    }

    /// Queues `bio`, merging it into the last request when it continues it.
    pub fn add_bio(&mut self, bio: Bio, now_ns: u64) -> Queued {
        if let Some(last) = self.fifo.back_mut() {
            if last.op == bio.op
                && last.partno == bio.partno
                && last.sector + last.nr_sectors == bio.sector
                && last.nr_sectors + bio.sectors() <= self.max_sectors
            {
                last.nr_sectors += bio.sectors();
                last.bios.push(bio);
                return Queued::Merged;
            }
        }
        let rq = Request {
            op: bio.op,
            partno: bio.partno,
            sector: bio.sector,
            nr_sectors: bio.sectors(),
            bios: alloc::vec![bio],
            start_ns: now_ns,
        };
        self.fifo.push_back(rq);
        Queued::New
    }

    /// The oldest request, for the driver.
    pub fn dispatch(&mut self) -> Option<Request> {
        self.fifo.pop_front()
    }

    /// Puts back a request the driver could not take (it stays first).
    pub fn requeue(&mut self, rq: Request) {
        self.fifo.push_front(rq);
    }

    pub fn len(&self) -> usize {
        self.fifo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fifo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bio(op: ReqOp, partno: u32, sector: u64, sectors: u32) -> Bio {
        Bio {
            op,
            partno,
            sector,
            segs: alloc::vec![BioVec { addr: 0x1000, len: sectors * 512 }],
            done: Completion::new(),
        }
    }

    #[test]
    fn contiguous_bios_merge_and_requests_leave_in_order() {
        let mut q = RequestQueue::new(256);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 1, 100, 8), 5), Queued::New);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 1, 108, 8), 6), Queued::Merged);
        // Not contiguous, other direction, other partition: new requests.
        assert_eq!(q.add_bio(bio(ReqOp::Read, 1, 200, 8), 7), Queued::New);
        assert_eq!(q.add_bio(bio(ReqOp::Write, 1, 208, 8), 8), Queued::New);
        assert_eq!(q.add_bio(bio(ReqOp::Write, 2, 216, 8), 9), Queued::New);
        assert_eq!(q.len(), 4);
        let first = q.dispatch().unwrap();
        assert_eq!(
            (first.sector, first.nr_sectors, first.bios.len(), first.start_ns),
            (100, 16, 2, 5)
        );
        assert_eq!(first.segments().count(), 2);
        assert_eq!(q.dispatch().unwrap().sector, 200);
        let w = q.dispatch().unwrap();
        q.requeue(w);
        assert_eq!(q.dispatch().unwrap().sector, 208);
        assert_eq!(q.dispatch().unwrap().partno, 2);
        assert!(q.dispatch().is_none());
    }

    #[test]
    fn merging_stops_at_the_request_size_limit() {
        let mut q = RequestQueue::new(16);
        q.add_bio(bio(ReqOp::Read, 0, 0, 8), 0);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 0, 8, 8), 0), Queued::Merged);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 0, 16, 8), 0), Queued::New);
    }

    #[test]
    fn completion_reaches_every_bio() {
        let mut q = RequestQueue::new(64);
        let a = bio(ReqOp::Read, 0, 0, 1);
        let b = bio(ReqOp::Read, 0, 1, 1);
        let (da, db) = (a.done.clone(), b.done.clone());
        q.add_bio(a, 0);
        q.add_bio(b, 0);
        assert!(!da.is_done());
        q.dispatch().unwrap().complete(-5);
        assert!(da.is_done() && db.is_done());
        assert_eq!((da.status(), db.status()), (-5, -5));
    }
}
