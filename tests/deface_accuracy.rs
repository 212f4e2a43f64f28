//! How much of the face the engine removes (the aligned template's face,
//! or the bundled model's where the alignment fails), how much else, and
//! whether any brain, on heads the model never saw: pydeface's template under 51
//! random poses (rotation up to ±20°, translation up to ±25 mm, scale
//! ±10 %) in three contrasts the training never used (T1, inverted
//! T2-like, CT-like in Hounsfield units), with noise from half to two and
//! a half times the usual, on a 1.5 mm grid; a third of the heads whole, a
//! third with the field of view stopping 5 to 40 mm short of the vertex, a
//! third starting 0 to 15 mm above the chin. The ground truth (the
//! template's face mask, and a brain mask derived from the template:
//! `head_phantom::brain_mask`) is moved by the same pose and cut the same
//! way. The figures are per case: the mean, and the worst case.
//!
//! These heads are the template itself, moved: the alignment can fit them
//! exactly. The second test reshapes each head first (a smooth
//! displacement of several mm that no affine motion undoes), as a
//! subject's head differs from the template's.

mod common;

use common::head_phantom::{Case, Contrast, Rng, Tally, Template, case_on, random_pose};
use dicom_anonymizer::deface::face_mask::{Combine, Settings, face_mask};
use dicom_anonymizer::deface::model::FaceMaskModel;
use rayon::prelude::*;

/// Where the field of view stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Whole,
    /// Short of the vertex by this many mm.
    NoVertex(u32),
    /// Starting this many mm above the lowest face voxel (the chin).
    NoChin(u32),
}

impl View {
    fn cut(self, c: Case, mm: f64) -> Case {
        let nz = c.image.dims[2];
        let slices = |v: u32| (f64::from(v) / mm).round() as usize;
        match self {
            View::Whole => c,
            View::NoVertex(v) => {
                let (_, top) = c.extent(&c.head).expect("a head");
                let k1 = (top + 1).saturating_sub(slices(v)).clamp(1, nz);
                c.crop(0, k1)
            }
            View::NoChin(v) => {
                let (chin, _) = c.extent(&c.face).expect("a face");
                let k0 = (chin + slices(v)).min(nz - 1);
                c.crop(k0, nz)
            }
        }
    }
}

/// The seed of the held-out poses; `DEFACE_ACCURACY_SEED` picks other ones
/// (to tune settings on poses the test does not use).
fn seed() -> u64 {
    std::env::var("DEFACE_ACCURACY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_151_515)
}

fn settings() -> Settings {
    let mut s = Settings::default();
    let get = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(t) = get("DEFACE_THRESHOLD") {
        s.threshold = t as f32;
    }
    if let Some(m) = get("DEFACE_MARGIN_MM") {
        s.surface_margin_mm = m;
    }
    match std::env::var("DEFACE_COMBINE").as_deref() {
        Ok("model") => s.combine = Combine::Model,
        Ok("template") => s.combine = Combine::Template,
        Ok("union") => s.combine = Combine::Union,
        _ => {}
    }
    if let Some(d) = get("DEFACE_TEMPLATE_MARGIN_MM") {
        s.template_margin_mm = d;
    }
    if let Some(d) = get("DEFACE_DEPTH_MM") {
        s.surface_depth_mm = d;
    }
    s
}

/// The figures of a run over some cases.
struct Figures {
    cases: usize,
    face: (f64, f64),
    other: (f64, f64),
    brain_worst: f64,
    cases_with_brain: usize,
    whole_mean: f64,
}

/// Deface `cases` heads drawn from `seed` (each reshaped by up to
/// `reshape_mm` first, when not 0), print each case and the summary.
fn run(template: &Template, seed: u64, cases: usize, reshape_mm: f64) -> Figures {
    let model = FaceMaskModel::bundled().unwrap();
    let settings = settings();
    const MM: f64 = 1.5;
    let mut rng = Rng::new(seed);
    let draws: Vec<_> = (0..cases)
        .map(|n| {
            let (pose, text) = random_pose(&mut rng, template.centre);
            let view = match (n / 3) % 3 {
                0 => View::Whole,
                1 => View::NoVertex(rng.uniform(5.0, 40.0) as u32),
                _ => View::NoChin(rng.uniform(0.0, 15.0) as u32),
            };
            let noise = rng.uniform(0.5, 2.5) as f32;
            (
                Contrast::ALL[n % 3],
                pose,
                text,
                view,
                noise,
                rng.next_u64(),
            )
        })
        .collect();
    let tallies: Vec<(String, Tally)> = draws
        .into_par_iter()
        .map(|(contrast, pose, text, view, noise, noise_seed)| {
            let mut rng = Rng::new(noise_seed);
            let reshaped = (reshape_mm > 0.0).then(|| template.reshaped(reshape_mm, &mut rng));
            let (head, shape) = match &reshaped {
                Some((t, how)) => (t, format!(", {how}")),
                None => (template, String::new()),
            };
            let description = format!("{contrast:?}, {text}{shape}, {view:?}, noise ×{noise:.1}");
            let whole = case_on(
                head,
                contrast,
                pose,
                description.clone(),
                template.grid(MM),
                noise,
                &mut rng,
            );
            drop(reshaped);
            let c = view.cut(whole, MM);
            let mask = face_mask(&c.image, contrast.modality(), model, &settings)
                .unwrap_or_else(|e| panic!("{description}: {e}"));
            let mut t = Tally::default();
            for (n, &removed) in mask.removed.iter().enumerate() {
                t.add(&c, n, removed);
            }
            (format!("{description} [{}]", mask.made_by), t)
        })
        .collect();
    for (description, t) in &tallies {
        println!(
            "{description}: face removed {:6.2} %, other head removed {:5.2} %, brain voxels removed {}",
            t.face_pct(),
            t.other_pct(),
            t.brain_removed
        );
    }

    let n = tallies.len() as f64;
    let mean = |f: fn(&Tally) -> f64| tallies.iter().map(|(_, t)| f(t)).sum::<f64>() / n;
    let worst = |f: fn(&Tally) -> f64, lowest: bool| {
        tallies
            .iter()
            .map(|(d, t)| (f(t), d.as_str()))
            .reduce(|a, b| if (b.0 < a.0) == lowest { b } else { a })
            .unwrap()
    };
    let face = (mean(Tally::face_pct), worst(Tally::face_pct, true));
    let other = (mean(Tally::other_pct), worst(Tally::other_pct, false));
    let brain = |t: &Tally| t.brain_removed as f64;
    let brain = (mean(brain), worst(brain, false));
    let cases_with_brain = tallies.iter().filter(|(_, t)| t.brain_removed > 0).count();
    println!(
        "ALL {cases} cases ({settings:?}):\n  \
         face voxels removed: mean {:.2} %, worst {:.2} % ({})\n  \
         other head voxels removed: mean {:.2} %, worst {:.2} % ({})\n  \
         brain voxels removed: mean {:.1}, worst {} ({}); {cases_with_brain} cases remove some",
        face.0, face.1.0, face.1.1, other.0, other.1.0, other.1.1, brain.0, brain.1.0, brain.1.1,
    );
    let whole: Vec<f64> = tallies
        .iter()
        .filter(|(d, _)| d.contains("Whole"))
        .map(|(_, t)| t.face_pct())
        .collect();
    let whole_mean = whole.iter().sum::<f64>() / whole.len().max(1) as f64;
    println!("  whole heads: face voxels removed: mean {whole_mean:.2} %");
    Figures {
        cases,
        face: (face.0, face.1.0),
        other: (other.0, other.1.0),
        brain_worst: brain.1.0,
        cases_with_brain,
        whole_mean,
    }
}

/// `DEFACE_ACCURACY_CASES` runs fewer or more (while tuning).
fn cases(default: usize) -> usize {
    std::env::var("DEFACE_ACCURACY_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_face_is_removed_and_the_rest_of_the_head_and_the_brain_kept_on_unseen_heads() {
    let Some(template) = Template::load() else {
        return;
    };
    let f = run(&template, seed(), cases(51), 0.0);
    // The targets, met on these draws with a margin (measured:
    // face 99.98 %, worst 99.61 %; other 0.61 %, worst 1.07 %; no brain),
    // so that they cannot be lost unnoticed.
    if as_shipped(f.cases, 51) {
        assert!(
            f.whole_mean >= 99.5,
            "whole heads: face removed {:.2} %",
            f.whole_mean
        );
        assert!(f.face.0 >= 99.0, "face removed: mean {:.2} %", f.face.0);
        assert!(f.face.1 >= 99.0, "face removed: worst {:.2} %", f.face.1);
        assert!(f.other.0 <= 1.0, "other removed: mean {:.2} %", f.other.0);
        assert!(f.other.1 <= 1.5, "other removed: worst {:.2} %", f.other.1);
        assert!(
            f.cases_with_brain == 0,
            "brain voxels removed in {} cases, at most {}",
            f.cases_with_brain,
            f.brain_worst
        );
    }
}

/// Whether this run is the one the bounds were measured on: the held-out
/// seed, all the cases, the settings as shipped.
fn as_shipped(cases: usize, all: usize) -> bool {
    cases == all
        && seed() == 5_151_515
        && settings() == Settings::default()
        && std::env::var_os("DEFACE_RESHAPE_MM").is_none()
}

/// The same on heads that are not the template under any affine motion:
/// each reshaped by a smooth displacement of up to about
/// `DEFACE_RESHAPE_MM` (6 mm by default) before it is posed, so the
/// template the engine aligns no longer fits them exactly.
#[test]
fn the_face_is_removed_on_heads_shaped_unlike_the_template() {
    let Some(template) = Template::load() else {
        return;
    };
    let mm = std::env::var("DEFACE_RESHAPE_MM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6.0);
    let f = run(&template, seed() ^ 0x5eed, cases(18), mm);
    // Below the targets: an affine alignment cannot follow a head's own
    // shape (measured: face 97.52 %, worst 89.62 %; other 0.86 %, worst
    // 1.64 %; no brain; the model alone: face 94.68 %, worst 68.88 %; other 2.32 %, worst
    // 5.94 %; brain in 2 cases, up to 103 voxels). The
    // bounds keep it from getting worse unnoticed.
    if as_shipped(f.cases, 18) {
        assert!(f.face.0 >= 97.0, "face removed: mean {:.2} %", f.face.0);
        assert!(f.face.1 >= 88.0, "face removed: worst {:.2} %", f.face.1);
        assert!(f.other.0 <= 1.0, "other removed: mean {:.2} %", f.other.0);
        assert!(f.other.1 <= 2.0, "other removed: worst {:.2} %", f.other.1);
        assert!(
            f.cases_with_brain == 0,
            "brain voxels removed in {} cases, at most {}",
            f.cases_with_brain,
            f.brain_worst
        );
    }
}
