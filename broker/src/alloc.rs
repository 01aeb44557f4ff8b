//! A global allocator that survives hostile length fields.
//!
//! The `kafka-protocol` decoders call `Vec::with_capacity(n)` with `n` read straight off the wire. A
//! five-byte MetadataRequest can ask for ~150 GB; the system allocator fails, and Rust aborts the whole
//! process (allocation failure is not a panic). This allocator serves every allocation of at least
//! [`HUGE`] bytes with an anonymous `MAP_NORESERVE` mapping: the kernel only reserves address space and
//! commits pages when they are touched. The decoder then runs out of input after a few elements, returns
//! an error, and the mapping is released — only the touched pages ever cost memory.
//!
//! Everything below [`HUGE`] goes to the system allocator untouched, so the hot path is unchanged. If even
//! the address-space reservation fails (e.g. `vm.overcommit_memory=2`), the allocation fails as before.
//!
//! This is the only `unsafe` code in the broker: implementing `GlobalAlloc` requires it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations of this size or more are served by reserved-only mappings (1 GiB).
pub const HUGE: usize = 1 << 30;

const PAGE: usize = 4096;

/// The broker's global allocator; install it in every binary that runs a broker:
/// `#[global_allocator] static GLOBAL: ReservingAllocator = ReservingAllocator;`
#[derive(Debug, Default, Clone, Copy)]
pub struct ReservingAllocator;

fn is_huge(layout: &Layout) -> bool {
    layout.size() >= HUGE && layout.align() <= PAGE
}

unsafe fn map_reserved(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no fixed address has no preconditions; MAP_NORESERVE
    // makes the kernel skip commit accounting so only touched pages are backed by memory.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED { std::ptr::null_mut() } else { ptr.cast() }
}

// SAFETY: huge blocks come from mmap (page aligned, which satisfies every alignment <= PAGE) and go back
// through munmap with the same size; all other blocks are delegated to `System` with the same layout.
unsafe impl GlobalAlloc for ReservingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            // SAFETY: see map_reserved.
            unsafe { map_reserved(layout.size()) }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            // SAFETY: anonymous mappings are zero-filled by the kernel.
            unsafe { map_reserved(layout.size()) }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(&layout) {
            // SAFETY: ptr/size are exactly what map_reserved returned for this layout.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size is valid for this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_huge(&layout) && !is_huge(&new_layout) {
            // SAFETY: both blocks belong to System.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if is_huge(&layout) && is_huge(&new_layout) {
            // SAFETY: ptr is a mapping of layout.size() bytes made by map_reserved; mremap moves or
            // grows it without touching (and so without committing) its pages.
            let moved = unsafe { libc::mremap(ptr.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE) };
            return if moved == libc::MAP_FAILED { std::ptr::null_mut() } else { moved.cast() };
        }
        // SAFETY: allocate the new block with our own rules, copy the common prefix, free the old one.
        unsafe {
            let new_ptr = self.alloc(new_layout);
            if !new_ptr.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new_ptr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_allocation_only_reserves_address_space() {
        let allocator = ReservingAllocator;
        let layout = Layout::from_size_align(150 << 30, 8).expect("layout");
        // SAFETY: the block is written at two places inside its bounds and freed with its layout.
        unsafe {
            let ptr = allocator.alloc(layout);
            assert!(!ptr.is_null(), "150 GiB reservation failed");
            *ptr = 7;
            *ptr.add(layout.size() - 1) = 9;
            assert_eq!(*ptr, 7);
            let grown = allocator.realloc(ptr, layout, layout.size() + 4096);
            assert!(!grown.is_null());
            assert_eq!(*grown, 7);
            allocator.dealloc(grown, Layout::from_size_align(layout.size() + 4096, 8).expect("layout"));
        }
    }

    #[test]
    fn small_allocations_round_trip_through_system() {
        let allocator = ReservingAllocator;
        let layout = Layout::from_size_align(64, 8).expect("layout");
        // SAFETY: allocated, grown and freed with matching layouts.
        unsafe {
            let ptr = allocator.alloc(layout);
            assert!(!ptr.is_null());
            *ptr = 1;
            let ptr = allocator.realloc(ptr, layout, 128);
            assert_eq!(*ptr, 1);
            allocator.dealloc(ptr, Layout::from_size_align(128, 8).expect("layout"));
        }
    }
}
