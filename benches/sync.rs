//! `cargo bench --bench sync`: what making a batch's outputs durable costs,
//! for each `--sync` choice, with and without another process's writes
//! pending on the same file system.
//!
//! Writes 2,000 files of 5 kB (the size of a small CT slice header plus a
//! little pixel data) in chunks of 512, as `anonymize` stages them, and
//! times staging plus making each chunk durable: `files` (fdatasync each
//! staged file, 16 at a time), `filesystem` (one syncfs per chunk) and
//! `none`. In the "busy" rounds another process writes 64 MB blocks to a
//! file on the same file system without syncing, as a neighbour's job
//! would: `syncfs` must flush those too. Medians of alternating rounds;
//! every round printed. Asserts nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use dicom_anonymizer::dicom_file::{self, Durability};

const FILES: usize = 2000;
const CHUNK: usize = 512;
const ROUNDS: usize = 5;

fn run(dir: &Path, how: Durability) -> f64 {
    let out = dir.join(format!("{how:?}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let payload = vec![0x5Au8; 5 * 1024];
    let start = Instant::now();
    for chunk in (0..FILES).collect::<Vec<_>>().chunks(CHUNK) {
        let staged: Vec<_> = chunk
            .iter()
            .map(|i| {
                dicom_file::stage(&out.join(format!("{i}.dcm")), |w| w.write_all(&payload)).unwrap()
            })
            .collect();
        dicom_file::make_durable(how, &out, &staged).unwrap();
        for s in staged {
            s.commit().unwrap();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&out).unwrap();
    secs
}

/// Another process writing without syncing: `dd` of zeros in a loop.
fn neighbour(dir: &Path) -> Child {
    let target = dir.join("neighbour.bin");
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "while true; do dd if=/dev/zero of={} bs=64M count=1 status=none; done",
            target.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // On the file system of the build tree, as outputs usually are.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let dir = tempfile::tempdir_in(&base).unwrap();
    let choices = [Durability::Files, Durability::Filesystem, Durability::None];
    for busy in [false, true] {
        let mut child = busy.then(|| neighbour(dir.path()));
        if busy {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let mut times = vec![Vec::new(); choices.len()];
        for round in 0..ROUNDS {
            for (i, how) in choices.iter().enumerate() {
                let t = run(dir.path(), *how);
                println!(
                    "round {round} {}: {how:?} {t:.3} s",
                    if busy { "busy" } else { "quiet" }
                );
                times[i].push(t);
            }
        }
        if let Some(c) = child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(dir.path().join("neighbour.bin"));
        for (i, how) in choices.iter().enumerate() {
            println!(
                "{} file system: {how:?}: median {:.3} s for {FILES} files",
                if busy { "busy" } else { "quiet" },
                median(&mut times[i])
            );
        }
    }
}
