//! Prints how long parsing (and checking) the RSNA tool's default script takes.
//! Run with `cargo bench --bench parse`. Target: parsing well under 10 ms.

#[path = "../tests/common/reference.rs"]
mod reference;

use std::time::{Duration, Instant};

use dicom_anonymizer::check::check;
use dicom_anonymizer::dialect::Dialect;
use dicom_anonymizer::script::parse;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let Some(path) = reference::rsna_default_script() else {
        eprintln!("bench parse: the RSNA default script is not available; nothing measured");
        std::process::exit(1);
    };
    let source = std::fs::read_to_string(&path).expect("read the RSNA default script");
    let runs = 200;
    let mut parse_times = Vec::with_capacity(runs);
    let mut check_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let parsed = parse(&source);
        parse_times.push(t.elapsed());
        assert!(parsed.script.is_some());
        let t = Instant::now();
        let diagnostics = check(&parsed, Dialect::Rsna);
        check_times.push(t.elapsed());
        std::hint::black_box(diagnostics);
    }
    let lines = source.lines().count();
    let p = median(parse_times);
    let c = median(check_times);
    println!(
        "parse default-anonymizer.script ({lines} lines, {} bytes): median {:.3} ms over {runs} runs ({:.1} MB/s)",
        source.len(),
        p.as_secs_f64() * 1e3,
        source.len() as f64 / p.as_secs_f64() / 1e6
    );
    println!(
        "check (rsna dialect): median {:.3} ms",
        c.as_secs_f64() * 1e3
    );
}
