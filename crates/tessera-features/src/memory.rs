//! Memory freed by a stage handed back to the system before the next stage grows.
//!
//! glibc's allocator keeps memory freed by a program for its next allocations: at the top of
//! each heap it returns it, elsewhere (and in the heaps of other threads) it keeps it. Between
//! stages that free hundreds of megabytes and stages that allocate as many in other sizes, what
//! it keeps adds to the peak. [`release_unused`] asks it to return every free page.

/// Returns the allocator's free pages to the system (glibc on Linux; elsewhere nothing).
pub fn release_unused() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only walks the allocator's own free lists; any pad is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}
