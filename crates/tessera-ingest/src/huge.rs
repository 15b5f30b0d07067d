//! Memory for large hash tables, asking the kernel for transparent huge pages.
//!
//! An id index of tens of millions of entries is probed at random, once per row. With 4 KiB pages
//! nearly every probe misses the TLB as well as the cache, and the page walk costs as much as the
//! miss. Large allocations are therefore mapped directly, aligned to 2 MiB and marked
//! `MADV_HUGEPAGE`; small ones, and every allocation off Linux, go to the global allocator.

use allocator_api2::alloc::{AllocError, Allocator, Global, Layout};
use std::ptr::NonNull;

/// Allocator for tables that may grow large.
#[derive(Debug, Clone, Copy, Default)]
pub struct HugePages;

/// Size of a huge page on x86-64 and aarch64 with 4 KiB base pages.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Below this size the global allocator serves the request.
#[cfg(target_os = "linux")]
const THRESHOLD: usize = 8 << 20;

#[cfg(target_os = "linux")]
fn mapped(layout: Layout) -> bool {
    layout.size() >= THRESHOLD && layout.align() <= HUGE_PAGE
}

#[cfg(target_os = "linux")]
unsafe impl Allocator for HugePages {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if !mapped(layout) {
            return Global.allocate(layout);
        }
        let size = layout.size().next_multiple_of(HUGE_PAGE);
        let span = size + HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(AllocError);
        }
        let start = (base as usize).next_multiple_of(HUGE_PAGE);
        let (head, tail) = (start - base as usize, span - size - (start - base as usize));
        // SAFETY: the head and tail trimmed off lie inside the mapping made above, and the advice
        // covers exactly the part kept. Failing advice only leaves small pages.
        unsafe {
            if head > 0 {
                libc::munmap(base, head);
            }
            if tail > 0 {
                libc::munmap((start + size) as *mut libc::c_void, tail);
            }
            libc::madvise(start as *mut libc::c_void, size, libc::MADV_HUGEPAGE);
        }
        let ptr = NonNull::new(start as *mut u8).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, size))
    }

    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if !mapped(layout) {
            return Global.allocate_zeroed(layout);
        }
        // A fresh anonymous mapping reads as zeros already.
        self.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if !mapped(layout) {
            // SAFETY: allocated by `Global` with this layout (see `allocate`).
            unsafe { Global.deallocate(ptr, layout) };
            return;
        }
        let size = layout.size().next_multiple_of(HUGE_PAGE);
        // SAFETY: `ptr` and `size` are the mapping `allocate` kept for this layout.
        unsafe {
            libc::munmap(ptr.as_ptr().cast(), size);
        }
    }
}

#[cfg(not(target_os = "linux"))]
unsafe impl Allocator for HugePages {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Global.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: every allocation came from `Global` with this layout.
        unsafe { Global.deallocate(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashMap;

    #[test]
    fn a_table_in_huge_pages_behaves_like_any_other() {
        // Large enough to be mapped (well past 8 MiB), then grown and dropped.
        let mut m: HashMap<u64, u64, hashbrown::DefaultHashBuilder, HugePages> =
            HashMap::with_capacity_and_hasher_in(400_000, Default::default(), HugePages);
        for i in 0..1_000_000u64 {
            m.insert(i, i * 3);
        }
        assert_eq!(m.len(), 1_000_000);
        assert!((0..1_000_000u64).all(|i| m[&i] == i * 3));
        assert_eq!(m.get(&1_000_000), None);
    }

    #[test]
    fn small_and_large_layouts_round_trip() {
        for size in [16usize, 4096, 9 << 20, (16 << 20) + 1] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            let block = HugePages.allocate(layout).unwrap();
            assert!(block.len() >= size);
            let p = block.cast::<u8>();
            assert_eq!(p.as_ptr() as usize % 64, 0);
            // SAFETY: the block is at least `size` bytes and owned here.
            unsafe {
                p.as_ptr().write_bytes(7, size);
                assert_eq!(*p.as_ptr().add(size - 1), 7);
                HugePages.deallocate(p, layout);
            }
        }
    }
}
