//! The SDHCI driver on the kernel build: one host (`mmc0`), one command or transfer at a
//! time, advanced by the controller's interrupt (`sdhci_irq`): command complete, then for a
//! data command the buffer-ready interrupts (512 bytes moved by PIO each), then transfer
//! complete. A task waiting for a command or request sleeps meanwhile; each has a deadline
//! after which the CMD and DAT lines are reset and the command fails with `-ETIMEDOUT`.
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use super::*;
use crate::arch::io::{readsl, writesl, IO_BURST_WORDS};
use crate::arch::timer::{counter_frequency, read_counter};
use crate::block::blk_mq::{BioVec, Request};
use crate::block::genhd::ReqOp;
use crate::drivers::mmc::core::*;
use crate::kernel::irq::IrqReturn;
use crate::kernel::spinlock::IrqSpinLock;
use crate::kprintln;

/// The controller's name in messages (Linux's `mmc_hostname`) and its device name.
pub const HOSTNAME: &str = "mmc0";
pub const DEV_NAME: &str = "3f300000.mmc";
/// How long a command may take before the software timeout (Linux's sdhci uses 10 s for
/// data; a command without data answers in microseconds).
const CMD_TIMEOUT_US: u64 = 100_000;
const DATA_TIMEOUT_US: u64 = 2_000_000;
/// How long a controller reset or the internal clock may take (`sdhci_reset`: 100 ms).
const RESET_TIMEOUT_US: u64 = 100_000;
/// ACMD41 retries until the card has powered up (`mmc_send_app_op_cond`: 1 s).
const OCR_TIMEOUT_US: u64 = 1_000_000;
/// Identification and data clocks.
const IDENT_CLOCK_HZ: u32 = 400_000;
/// The data timeout counter value (TMCLK * 2^27, the largest).
const DATA_TIMEOUT_COUNT: u32 = 0xe;

/// A data phase in progress: the segments and where the next block goes.
struct Xfer {
    dir: DataDir,
    blksz: u32,
    blocks: u32,
    done_blocks: u32,
    segs: Vec<BioVec>,
    seg: usize,
    off: u32,
}

/// The command (and transfer) the controller is working on.
struct Active {
    seq: u64,
    resp_type: RespType,
    cmd_done: bool,
    resp: [u32; 4],
    xfer: Option<Xfer>,
    /// The block request this serves (completed through the block layer).
    blk: Option<Request>,
}

/// A card that answered identification.
#[derive(Clone, Copy, Debug)]
pub struct Card {
    pub rca: u16,
    pub ty: CardType,
    pub sectors: u64,
    pub cid: Cid,
    pub csd: Csd,
    pub bus_width: u32,
}

struct Host {
    /// The ioremapped registers.
    regs: usize,
    active: Option<Active>,
    /// The last finished command that had no block request: its sequence number and result.
    finished: Option<(u64, Result<[u32; 4], MmcError>)>,
    seq: u64,
    base_hz: u32,
    card: Option<Card>,
}

static HOST: IrqSpinLock<Option<Host>> = IrqSpinLock::new(None);
/// Interrupts taken, and commands that hit the software deadline (for the tests and `help`).
pub static IRQ_COUNT: AtomicU64 = AtomicU64::new(0);
pub static TIMEOUTS: AtomicU64 = AtomicU64::new(0);

impl Host {
    fn regs(&self) -> &'static SdhciRegs {
        // SAFETY: `regs` is the live ioremap of the controller's 256-byte register block,
        // accessed through volatile cells only.
        unsafe { &*(self.regs as *const SdhciRegs) }
    }

    /// Issues `opcode` with its data phase (the controller then interrupts).
    fn issue(
        &mut self,
        opcode: u8,
        arg: u32,
        app: bool,
        xfer: Option<Xfer>,
        blk: Option<Request>,
    ) -> u64 {
        let r = self.regs();
        let resp_type = resp_type(opcode, app);
        // A line still busy from an aborted command is reset first (sdhci_send_command
        // waits for it; a reset is what its timeout ends in).
        if r.present.is_set(PRESENT::CMD_INHIBIT) || r.present.is_set(PRESENT::DAT_INHIBIT) {
            reset_lines(r, true);
        }
        r.interrupt.set(!0);
        let data = xfer.as_ref().map(|x| (x.dir, x.blocks));
        if let Some(x) = &xfer {
            r.blksizecnt.write(BLKSIZECNT::BLKSIZE.val(x.blksz) + BLKSIZECNT::BLKCNT.val(x.blocks));
        }
        self.seq += 1;
        self.active =
            Some(Active { seq: self.seq, resp_type, cmd_done: false, resp: [0; 4], xfer, blk });
        r.arg1.set(arg);
        r.cmdtm.set(command_word(opcode, resp_type, data));
        self.seq
    }

    /// Advances the active command on interrupt status `st`; its result once it has one.
    fn step(&mut self, st: u32) -> Option<Result<[u32; 4], MmcError>> {
        let r = self.regs();
        let a = self.active.as_mut()?;
        if let Some(e) = MmcError::from_status(st) {
            // sdhci_cmd_irq / sdhci_data_irq: the failed line is reset before anything else.
            let data = a.xfer.is_some() || st & INT_DATA_MASK != 0;
            reset_lines(r, data);
            return Some(Err(e));
        }
        if st & INT_CMD_COMPLETE != 0 && !a.cmd_done {
            a.cmd_done = true;
            let regs: [u32; 4] = core::array::from_fn(|i| r.resp[i].get());
            a.resp = if a.resp_type == RespType::R2 { r2_from_sdhci(regs) } else { regs };
            if matches!(a.resp_type, RespType::R1 | RespType::R1b)
                && a.xfer.is_some()
                && a.resp[0] & R1_CMD_ERRORS != 0
            {
                reset_lines(r, true);
                return Some(Err(MmcError::Io));
            }
            if a.xfer.is_none() {
                // R1b: QEMU's card is never busy; the busy end's transfer-complete
                // interrupt that follows finds no command and is only acknowledged.
                return Some(Ok(a.resp));
            }
        }
        let resp = a.resp;
        let x = a.xfer.as_mut()?;
        match x.dir {
            DataDir::Read if st & INT_DATA_AVAIL != 0 => {
                while x.done_blocks < x.blocks && r.present.is_set(PRESENT::BUF_READ_ENABLE) {
                    pio_block(r, x);
                }
            }
            DataDir::Write if st & INT_SPACE_AVAIL != 0 => {
                while x.done_blocks < x.blocks && r.present.is_set(PRESENT::BUF_WRITE_ENABLE) {
                    pio_block(r, x);
                }
            }
            _ => {}
        }
        if st & INT_DATA_END != 0 {
            return Some(if x.done_blocks == x.blocks { Ok(resp) } else { Err(MmcError::Io) });
        }
        None
    }

    /// Ends the active command with `res`: a block request goes back to the caller (to be
    /// completed through the block layer without this lock); a plain command's result is
    /// kept for its waiter.
    fn finish(&mut self, res: Result<[u32; 4], MmcError>) -> Option<(Request, i32)> {
        let a = self.active.take()?;
        match a.blk {
            Some(rq) => Some((rq, res.map_or_else(|e| -(e.errno().code()), |_| 0))),
            None => {
                self.finished = Some((a.seq, res));
                None
            }
        }
    }
}

/// Moves one block between the data port and the transfer's segments (`sdhci_read_block_pio`
/// / `sdhci_write_block_pio`).
fn pio_block(r: &SdhciRegs, x: &mut Xfer) {
    let Some(seg) = x.segs.get(x.seg).copied() else {
        x.done_blocks = x.blocks;
        return;
    };
    let base = seg.addr + x.off as usize;
    let words = (x.blksz as usize).div_ceil(4);
    // SAFETY (every access below): the segment is memory its submitter keeps until the
    // request completes (or is aborted under this lock), at least `blksz` bytes from `off`,
    // as `submit_bio_wait` checked (whole sectors) or `read_scr` allocated.
    if base.is_multiple_of(4) && words.is_multiple_of(IO_BURST_WORDS) {
        // Every block of a page-cache or swap page: the port read or written in bursts.
        // `ReadWrite<u32>` is a transparent cell around the register itself.
        let port = core::ptr::from_ref(&r.data).cast::<u32>().cast_mut();
        unsafe {
            match x.dir {
                DataDir::Read => readsl(port, base as *mut u32, words),
                DataDir::Write => writesl(port, base as *const u32, words),
            }
        }
    } else {
        for w in 0..words {
            let p = (base + w * 4) as *mut u32;
            unsafe {
                match x.dir {
                    DataDir::Read => p.write_unaligned(r.data.get()),
                    DataDir::Write => r.data.set(p.read_unaligned()),
                }
            }
        }
    }
    x.done_blocks += 1;
    x.off += x.blksz;
    if x.off >= seg.len {
        x.seg += 1;
        x.off = 0;
    }
}

/// Resets the CMD line, and the DAT line when `data` (`sdhci_reset(SDHCI_RESET_CMD |
/// SDHCI_RESET_DATA)`), waiting a bounded time for the bits to clear.
fn reset_lines(r: &SdhciRegs, data: bool) {
    let bits = if data {
        CONTROL1::SRST_CMD::SET + CONTROL1::SRST_DATA::SET
    } else {
        CONTROL1::SRST_CMD::SET
    };
    r.control1.modify(bits);
    let _ = wait_us(RESET_TIMEOUT_US, || {
        !r.control1.is_set(CONTROL1::SRST_CMD) && !r.control1.is_set(CONTROL1::SRST_DATA)
    });
}

/// Spins until `cond` or `us` microseconds pass (the generic counter); whether it held.
fn wait_us(us: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = read_counter() + us * u64::from(counter_frequency()) / 1_000_000;
    loop {
        if cond() {
            return true;
        }
        if read_counter() > end {
            return cond();
        }
        core::hint::spin_loop();
    }
}

/// Interrupt status rounds one call of the handler takes at most (`sdhci_irq`'s
/// `max_loops`).
const IRQ_MAX_LOOPS: u32 = 16;

/// The controller's interrupt handler (`sdhci_irq`).
fn sdhci_irq(_irq: u32) -> IrqReturn {
    let done = {
        let mut g = HOST.lock();
        let Some(h) = g.as_mut() else { return IrqReturn::None };
        let r = h.regs();
        let mut st = r.interrupt.get();
        if st == 0 {
            return IrqReturn::None;
        }
        IRQ_COUNT.fetch_add(1, Ordering::Relaxed);
        // As sdhci_irq, the status is read again after each step and handled in the same
        // interrupt while more is pending (the command's response, the data, the end of
        // the transfer often are), up to `IRQ_MAX_LOOPS` times.
        let mut loops = IRQ_MAX_LOOPS;
        loop {
            r.interrupt.set(st);
            if let Some(res) = h.step(st) {
                break h.finish(res);
            }
            st = r.interrupt.get();
            loops -= 1;
            if st == 0 || loops == 0 {
                break None;
            }
        }
    };
    if let Some((rq, status)) = done {
        crate::drivers::mmc::block::request_done(rq, status);
    }
    IrqReturn::Handled
}

/// Sleeps until the command with sequence number `seq` finishes, or its deadline passes
/// (then the lines are reset and it fails with a timeout, as `sdhci_timeout_timer` does).
fn wait_for(seq: u64, timeout_us: u64) -> Result<[u32; 4], MmcError> {
    let end = read_counter() + timeout_us * u64::from(counter_frequency()) / 1_000_000;
    let take = || {
        let mut g = HOST.lock();
        let h = g.as_mut()?;
        match h.finished {
            Some((s, res)) if s == seq => {
                h.finished = None;
                Some(res)
            }
            _ => None,
        }
    };
    let got = crate::kernel::time::idle_wait(|| {
        if let Some(res) = take() {
            return Some(Some(res));
        }
        (read_counter() > end).then_some(None)
    });
    if let Some(res) = got {
        return res;
    }
    // The deadline passed: abort the command if it is still the one in progress.
    let aborted = {
        let mut g = HOST.lock();
        let Some(h) = g.as_mut() else { return Err(MmcError::Timeout) };
        if let Some((_, res)) = h.finished.take_if(|(s, _)| *s == seq) {
            return res;
        }
        let ours = h.active.as_ref().is_some_and(|a| a.seq == seq);
        if ours {
            h.active = None;
            reset_lines(h.regs(), true);
            TIMEOUTS.fetch_add(1, Ordering::Relaxed);
        }
        ours
    };
    if aborted {
        kprintln!("{}: Timeout waiting for hardware interrupt.", HOSTNAME);
    }
    Err(MmcError::Timeout)
}

/// Sends one command (after CMD55 when `app`) and waits for its response. `data` reads
/// `len` bytes in one block into `buf`.
fn cmd(
    opcode: u8,
    arg: u32,
    app: bool,
    read_into: Option<&mut [u8]>,
) -> Result<[u32; 4], MmcError> {
    if app {
        let rca = HOST.lock().as_ref().and_then(|h| h.card.map(|c| c.rca)).unwrap_or(0);
        cmd_raw(MMC_APP_CMD, u32::from(rca) << 16, false, None)?;
    }
    cmd_raw(opcode, arg, app, read_into)
}

fn cmd_raw(
    opcode: u8,
    arg: u32,
    app: bool,
    read_into: Option<&mut [u8]>,
) -> Result<[u32; 4], MmcError> {
    let timeout = if read_into.is_some() { DATA_TIMEOUT_US } else { CMD_TIMEOUT_US };
    let seq = {
        let mut g = HOST.lock();
        let h = g.as_mut().ok_or(MmcError::NoMedium)?;
        if h.active.is_some() {
            return Err(MmcError::Io);
        }
        let xfer = read_into.map(|buf| Xfer {
            dir: DataDir::Read,
            blksz: buf.len() as u32,
            blocks: 1,
            done_blocks: 0,
            segs: alloc::vec![BioVec { addr: buf.as_mut_ptr() as usize, len: buf.len() as u32 }],
            seg: 0,
            off: 0,
        });
        h.issue(opcode, arg, app, xfer, None)
    };
    wait_for(seq, timeout)
}

/// `sdhci_add_host` and `mmc_attach_sd`: maps the controller, resets it, powers the slot,
/// sets the identification clock, requests its interrupt, and identifies the card. Prints
/// the controller line and, without a card, one line saying so.
pub fn probe() -> Option<Card> {
    let va = match crate::kernel::vmalloc::ioremap(
        crate::board::raspi::map::EMMC_BASE,
        SDHCI_REG_SIZE,
        "pivm::drivers::mmc::sdhci",
    ) {
        Ok(va) => va as usize,
        Err(e) => {
            kprintln!("sdhci-iproc {}: ioremap failed: {}", DEV_NAME, e);
            return None;
        }
    };
    // SAFETY: just mapped, as above.
    let r: &SdhciRegs = unsafe { &*(va as *const SdhciRegs) };
    r.control1.write(CONTROL1::SRST_HC::SET);
    if !wait_us(RESET_TIMEOUT_US, || !r.control1.is_set(CONTROL1::SRST_HC)) {
        kprintln!("{}: Reset 0x1 never completed.", HOSTNAME);
        return None;
    }
    let base_hz = base_clock_hz(r.caps[0].get()).unwrap_or(50_000_000);
    r.control0.write(CONTROL0::BUS_POWER::SET + CONTROL0::BUS_VOLTAGE::V3_3);
    if !set_clock(r, base_hz, IDENT_CLOCK_HZ) {
        kprintln!("{}: Internal clock never stabilised.", HOSTNAME);
        return None;
    }
    r.int_enable.set(INT_ENABLE);
    r.int_signal.set(INT_ENABLE);
    r.interrupt.set(!0);
    *HOST.lock() =
        Some(Host { regs: va, active: None, finished: None, seq: 0, base_hz, card: None });
    let irq = crate::board::raspi::irq::sdhci_irq()
        .and_then(|irq| crate::kernel::irq::request_irq(irq, sdhci_irq, HOSTNAME).map(|_| irq));
    if let Err(e) = irq {
        kprintln!("{}: no interrupt ({:?}); the card is not used", HOSTNAME, e);
        *HOST.lock() = None;
        return None;
    }
    kprintln!("{}: SDHCI controller on {} [{}] using PIO", HOSTNAME, DEV_NAME, DEV_NAME);
    if !r.present.is_set(PRESENT::CARD_INSERTED) {
        kprintln!("{}: no SD card in the slot; no mmcblk device", HOSTNAME);
        return None;
    }
    match attach_sd(r, base_hz) {
        Ok(card) => {
            HOST.lock().as_mut()?.card = Some(card);
            Some(card)
        }
        Err(e) => {
            kprintln!("{}: error -{} whilst initialising SD card", HOSTNAME, e.errno().code());
            None
        }
    }
}

/// Programs the SD clock to the fastest rate not above `hz` (`sdhci_set_clock`).
fn set_clock(r: &SdhciRegs, base_hz: u32, hz: u32) -> bool {
    let (lo, hi) = clock_divider_fields(clock_divider(base_hz, hz));
    r.control1.modify(CONTROL1::SD_CLK_EN::CLEAR);
    r.control1.modify(
        CONTROL1::CLK_DIV_LO.val(lo)
            + CONTROL1::CLK_DIV_HI.val(hi)
            + CONTROL1::INT_CLK_EN::SET
            + CONTROL1::DATA_TOUNIT.val(DATA_TIMEOUT_COUNT),
    );
    if !wait_us(RESET_TIMEOUT_US, || r.control1.is_set(CONTROL1::INT_CLK_STABLE)) {
        return false;
    }
    r.control1.modify(CONTROL1::SD_CLK_EN::SET);
    true
}

/// `mmc_attach_sd`: the identification sequence (core's [`InitStep`] order).
fn attach_sd(r: &SdhciRegs, base_hz: u32) -> Result<Card, MmcError> {
    cmd(MMC_GO_IDLE_STATE, 0, false, None)?;
    // CMD8: a version 2.00 card echoes the pattern; an older one does not answer.
    let v2 = match cmd(SD_SEND_IF_COND, SD_IF_COND_ARG, false, None) {
        Ok(resp) if resp[0] & 0xff == SD_IF_COND_ARG & 0xff => true,
        Ok(_) => return Err(MmcError::Io),
        Err(MmcError::Timeout) => false,
        Err(e) => return Err(e),
    };
    let hcs = if v2 { SD_OCR_CCS } else { 0 };
    let mut ocr = 0;
    let ready =
        wait_us(OCR_TIMEOUT_US, || match cmd(SD_APP_OP_COND, hcs | OCR_VDD_32_34, true, None) {
            Ok(resp) => {
                ocr = resp[0];
                ocr & MMC_CARD_BUSY != 0
            }
            Err(_) => false,
        });
    if !ready {
        return Err(MmcError::Timeout);
    }
    let cid = Cid::decode(&cmd(MMC_ALL_SEND_CID, 0, false, None)?);
    let rca = (cmd(SD_SEND_RELATIVE_ADDR, 0, false, None)?[0] >> 16) as u16;
    let csd = Csd::decode(&cmd(MMC_SEND_CSD, u32::from(rca) << 16, false, None)?).map_err(|e| {
        kprintln!("{}: {}", HOSTNAME, e);
        MmcError::Io
    })?;
    let ty = CardType::from_ocr(ocr, csd.sectors());
    cmd(MMC_SELECT_CARD, u32::from(rca) << 16, false, None)?;
    if let Some(h) = HOST.lock().as_mut() {
        // ACMD needs the card's address from here on.
        h.card = Some(Card { rca, ty, sectors: csd.sectors(), cid, csd, bus_width: 1 });
    }
    if !ty.block_addressed() {
        cmd(MMC_SET_BLOCKLEN, BLOCK_SIZE, false, None)?;
    }
    // The SCR says whether the card takes a 4-bit bus (ACMD51, 8 bytes of data).
    let mut scr = [0u8; 8];
    let mut bus_width = 1;
    if cmd(SD_APP_SEND_SCR, 0, true, Some(&mut scr)).is_ok()
        && scr_supports_4bit(u32::from_be_bytes([scr[0], scr[1], scr[2], scr[3]]))
        && cmd(SD_SWITCH_BUS_WIDTH, SD_BUS_WIDTH_4, true, None).is_ok()
    {
        r.control0.modify(CONTROL0::DATA_WIDTH_4::SET);
        bus_width = 4;
    }
    set_clock(r, base_hz, csd.max_dtr.max(IDENT_CLOCK_HZ));
    Ok(Card { rca, ty, sectors: csd.sectors(), cid, csd, bus_width })
}

/// Starts block request `rq` on the card (`mmc_blk_mq_issue_rq`): CMD17/18 or CMD24/25 with
/// the controller's auto-CMD12 for several blocks. Gives it back when the host is busy.
pub fn start_request(rq: Request) -> Result<(), Request> {
    let failed = {
        let mut g = HOST.lock();
        let Some(h) = g.as_mut() else { return Err(rq) };
        if h.active.is_some() {
            return Err(rq);
        }
        match (h.card, u32::try_from(rq.nr_sectors)) {
            (Some(card), Ok(blocks)) if blocks > 0 => match data_arg(card.ty, rq.sector) {
                Some(arg) => {
                    let (dir, opcode) = match (rq.op, blocks) {
                        (ReqOp::Read, 1) => (DataDir::Read, MMC_READ_SINGLE_BLOCK),
                        (ReqOp::Read, _) => (DataDir::Read, MMC_READ_MULTIPLE_BLOCK),
                        (ReqOp::Write, 1) => (DataDir::Write, MMC_WRITE_BLOCK),
                        (ReqOp::Write, _) => (DataDir::Write, MMC_WRITE_MULTIPLE_BLOCK),
                    };
                    let segs = rq.segments().copied().collect();
                    let xfer = Xfer {
                        dir,
                        blksz: BLOCK_SIZE,
                        blocks,
                        done_blocks: 0,
                        segs,
                        seg: 0,
                        off: 0,
                    };
                    h.issue(opcode, arg, false, Some(xfer), Some(rq));
                    None
                }
                None => Some((rq, MmcError::Io)),
            },
            (None, _) => Some((rq, MmcError::NoMedium)),
            _ => Some((rq, MmcError::Io)),
        }
    };
    if let Some((rq, e)) = failed {
        crate::drivers::mmc::block::request_done(rq, -(e.errno().code()));
    }
    Ok(())
}

/// The block layer's timeout: stops the transfer in progress (resetting the lines) and
/// gives its request back.
pub fn abort_request() -> Option<Request> {
    let mut g = HOST.lock();
    let h = g.as_mut()?;
    if h.active.as_ref().is_none_or(|a| a.blk.is_none()) {
        return None;
    }
    let a = h.active.take()?;
    reset_lines(h.regs(), true);
    TIMEOUTS.fetch_add(1, Ordering::Relaxed);
    kprintln!("{}: Timeout waiting for hardware interrupt.", HOSTNAME);
    a.blk
}

/// The card, once identified.
pub fn card() -> Option<Card> {
    HOST.lock().as_ref().and_then(|h| h.card)
}

/// The base clock the controller reports (for messages).
pub fn base_clock() -> Option<u32> {
    HOST.lock().as_ref().map(|h| h.base_hz)
}
