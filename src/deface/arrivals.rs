//! Series that arrive one instance at a time (the receiver's spool): an
//! image of a series that may be a head (CT or MR, headers not naming
//! another part of the body) is held until its series is complete, so the
//! whole volume is defaced at once, as `anonymize` defaces a tree.
//! Complete means: no new instance of the series for a quiet period, or
//! the receiver has stopped. Everything else goes to the batch at once.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dicom_object::InMemDicomObject;

use super::pipeline::screen;

/// A series being held.
struct Held {
    /// The header of its first instance (up to the pixel data).
    first: InMemDicomObject,
    files: Vec<(PathBuf, String)>,
    /// When it last grew.
    grew: Instant,
}

/// The head series being held, by SeriesInstanceUID.
pub struct Arrivals {
    quiet: Duration,
    series: HashMap<String, Held>,
    held: HashSet<PathBuf>,
}

/// A complete series: its first header and its files (path, key).
pub struct Complete {
    pub first: InMemDicomObject,
    pub files: Vec<(PathBuf, String)>,
}

impl Arrivals {
    pub fn new(quiet: Duration) -> Arrivals {
        Arrivals {
            quiet,
            series: HashMap::new(),
            held: HashSet::new(),
        }
    }

    /// Files being held.
    pub fn holding(&self) -> usize {
        self.held.len()
    }

    /// Take the files waiting (some may be held already): those of
    /// possible head series are held; the rest are returned, to be
    /// anonymized now.
    pub fn sort(&mut self, pending: Vec<(PathBuf, String)>) -> Vec<(PathBuf, String)> {
        let mut now = Vec::new();
        for (path, key) in pending {
            if self.held.contains(&path) {
                continue;
            }
            let Some((uid, header)) = super::series::image_header(&path) else {
                now.push((path, key));
                continue;
            };
            if let Some(held) = self.series.get_mut(&uid) {
                held.files.push((path.clone(), key));
                held.grew = Instant::now();
                self.held.insert(path);
                continue;
            }
            if screen(&header).is_err() {
                now.push((path, key));
                continue;
            }
            self.held.insert(path.clone());
            self.series.insert(
                uid,
                Held {
                    first: header,
                    files: vec![(path, key)],
                    grew: Instant::now(),
                },
            );
        }
        now
    }

    /// The series that are complete: quiet for the quiet period, or all of
    /// them with `all` (the receiver has stopped). They are no longer held.
    pub fn complete(&mut self, all: bool) -> Vec<Complete> {
        let quiet = self.quiet;
        let done: Vec<String> = self
            .series
            .iter()
            .filter(|(_, h)| all || h.grew.elapsed() >= quiet)
            .map(|(uid, _)| uid.clone())
            .collect();
        let mut out = Vec::new();
        for uid in done {
            if let Some(held) = self.series.remove(&uid) {
                for (path, _) in &held.files {
                    self.held.remove(path);
                }
                out.push(Complete {
                    first: held.first,
                    files: held.files,
                });
            }
        }
        out
    }
}
