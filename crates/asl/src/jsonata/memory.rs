//! The memory bound of one evaluation. jsonata-core bounds each sequence's length but not how
//! many it builds (`[1..10000000].[1..10000000]` builds ten million sequences of ten million
//! items), and has no hook for counting what it builds. So the process's allocator counts,
//! per thread, the bytes held by the evaluation running on that thread (allocated minus
//! freed: `JValue`s are not `Send`, so an evaluation's values live and die on its thread),
//! and once they pass the bound it cancels the evaluation through jsonata-core's
//! [`CancelToken`], which the evaluator checks at every level and in every loop. Outside an
//! evaluation the allocator adds one thread-local read to each call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use jsonata_core::evaluator::CancelToken;

thread_local! {
    /// The token of the evaluation running on this thread; null outside evaluations.
    static TOKEN: Cell<*const CancelToken> = const { Cell::new(std::ptr::null()) };
    /// Bytes the running evaluation holds (allocated minus freed since it started).
    static HELD: Cell<isize> = const { Cell::new(0) };
    /// The bound of the running evaluation.
    static BOUND: Cell<isize> = const { Cell::new(isize::MAX) };
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` (one evaluation, cancelled by `cancel`) holding at most `bound` bytes; also
/// says whether it went past them (and so was cancelled).
pub fn bounded<T>(cancel: &CancelToken, bound: usize, f: impl FnOnce() -> T) -> (T, bool) {
    /// Ends the count however `f` returns, before `cancel` can be dropped.
    struct Reset(*const CancelToken);
    impl Drop for Reset {
        fn drop(&mut self) {
            TOKEN.with(|t| t.set(self.0));
            BOUND.with(|b| b.set(isize::MAX));
        }
    }
    let outer = TOKEN.with(|t| t.replace(cancel));
    let held_before = HELD.with(|h| h.replace(0));
    let exceeded_before = EXCEEDED.with(|e| e.replace(false));
    BOUND.with(|b| b.set(isize::try_from(bound).unwrap_or(isize::MAX)));
    let reset = Reset(outer);
    let out = f();
    drop(reset);
    let exceeded = EXCEEDED.with(|e| e.replace(exceeded_before));
    HELD.with(|h| h.set(held_before));
    (out, exceeded)
}

#[inline]
fn count(delta: isize) {
    // `try_with`: the allocator also runs while threads start and end.
    let _ = TOKEN.try_with(|t| {
        let token = t.get();
        if token.is_null() {
            return;
        }
        let held = HELD.with(|h| {
            let held = h.get().saturating_add(delta);
            h.set(held);
            held
        });
        if delta > 0 && held > BOUND.with(Cell::get) && !EXCEEDED.with(|e| e.replace(true)) {
            // SAFETY: `bounded` keeps the token alive while it is set on this thread.
            unsafe { (*token).cancel() };
        }
    });
}

/// The process's allocator: the system's, with the count above.
pub struct Counting;

// SAFETY: every call goes to `System` unchanged; counting neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;
