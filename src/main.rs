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
