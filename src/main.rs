use std::process::ExitCode;

/// A data set is thousands of small allocations (one per element and
/// value); mimalloc serves them in fewer instructions than glibc's malloc
/// and without contention between the worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // dicom-rs makes an error value (snafu, with an optional backtrace) at
    // the end of every data set it reads; under RUST_BACKTRACE=1 each one
    // would walk the stack, ~6 % of a batch's instructions. Errors we show
    // never print those backtraces, and panics still get theirs from
    // RUST_BACKTRACE: only library backtraces are turned off, and only when
    // the user has not chosen with RUST_LIB_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet to read the environment.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    dicom_anonymizer::cli::main()
}

/// Serve this process's memory in 4 KiB pages, never transparent huge
/// pages. mimalloc asks for huge pages on its large regions; the kernel
/// then zeroes 2 MiB at each first touch, and again after each purge, however
/// little of it is used. The deface stage's buffers come and go (the
/// model's per-layer scratch, the volume's working copies), and on this
/// project's 2-core machine that zeroing took 1.4 to 2.1 s of system time
/// out of a 6 s `deface` run; without huge pages, 0.4 s. Anonymizing takes
/// no less time, but half the peak memory (71 to 37 MB on pydicom's corpus,
/// 37 to 25 MB on a 524 MB file), its allocator's large regions no longer
/// backed by whole 2 MiB pages. A flag on the process
/// (inherited by children), read by the kernel at each page fault.
///
/// Set from a constructor of high priority, before mimalloc's own
/// constructor reserves and touches its first region: set in `main`, it
/// came too late for that region, which was still backed by 2 MiB pages
/// (1 to 5 % of an anonymize run's samples, zeroing them).
#[cfg(target_os = "linux")]
extern "C" fn no_transparent_huge_pages() {
    // SAFETY: prctl with integer arguments only; a kernel without the
    // option returns an error, which changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Constructors in `.init_array.NNNNN` run lowest number first, and all
/// before those without a priority. mimalloc's has none when built by gcc
/// and priority 101 when built by clang (`prim/prim.c`), so this one takes
/// 100, the last number the toolchain keeps for itself: the linker orders
/// equal priorities by input file, which would leave the order to chance.
/// Nothing it calls needs the runtime's earlier constructors (std's
/// argument capture is 99).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static NO_TRANSPARENT_HUGE_PAGES: extern "C" fn() = no_transparent_huge_pages;
