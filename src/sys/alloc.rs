//! The binary's heap: talc (a fast free-list allocator) over large anonymous mappings.
//!
//! musl's allocator returns freed groups to the kernel at once, so a `run` made ~130 `mmap`
//! and ~130 `munmap` calls (each unmap a TLB flush, each new page a fault and a zeroing):
//! ~12% of the CPU time of `run` /bin/true in `perf`. Here freed memory is kept and reused;
//! memory comes from the kernel in 4 MiB mappings (pages are only backed once touched), and a
//! request larger than that gets a mapping of its own size. Nothing is returned to the kernel,
//! which suits a process that lives for milliseconds (or relays bytes through fixed buffers).
//!
//! Only the binary installs it (`main.rs`): the unit tests fork from a multi-threaded harness,
//! where a spin lock held by another thread at fork time would deadlock the child.

use core::alloc::{GlobalAlloc, Layout};

use talc::{OomHandler, Span, Talc, Talck};

/// Size of each mapping asked of the kernel (beyond one oversized request).
const CHUNK: usize = 4 << 20;

/// Claims a fresh anonymous mapping whenever talc runs out.
pub struct MapOnOom;

impl OomHandler for MapOnOom {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        // Room for talc's own bookkeeping and alignment on top of the request.
        let want = layout
            .size()
            .checked_add(layout.align() + 4096)
            .ok_or(())?
            .max(CHUNK)
            .next_multiple_of(4096);
        // SAFETY: a fresh private anonymous mapping, shared with nobody; checked for failure.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                want,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(());
        }
        let base = base.cast::<u8>();
        // SAFETY: the span is the mapping just made: valid, writable, owned by talc from now on
        // and never unmapped.
        unsafe { talc.claim(Span::from_base_size(base, want)) }.map(drop)
    }
}

/// The global allocator `main.rs` installs. The calls are kept out of line: inlined into
/// every allocation site, talc grew the binary by 430 KB.
pub struct Allocator(Talck<spin::Mutex<()>, MapOnOom>);

/// A new, empty allocator (its first allocation maps the first chunk).
pub const fn new() -> Allocator {
    Allocator(Talc::new(MapOnOom).lock())
}

// SAFETY: every method forwards to talc's `GlobalAlloc`, which upholds the contract.
unsafe impl GlobalAlloc for Allocator {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.alloc(layout) }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}
