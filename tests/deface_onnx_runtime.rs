//! The face-mask model's runtime: an ONNX graph with the operators the model
//! uses (3-D Conv, Relu, MaxPool, Resize, Concat, Sigmoid) and the Add of a
//! model with a 4 mm output grid runs through `ort` on the pure-Rust tract
//! backend, offline, and gives what the graph defines, recomputed here by
//! hand.

mod common;

use dicom_anonymizer::deface::model::FaceMaskModel;

/// The graph of `tests/reference/make_test_onnx.py`, by hand.
fn by_hand(dims: [usize; 3], x: &[f32]) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let at = |i: i64, j: i64, k: i64| -> f32 {
        if i < 0 || j < 0 || k < 0 || i >= nx as i64 || j >= ny as i64 || k >= nz as i64 {
            0.0
        } else {
            x[i as usize + nx * (j as usize + ny * k as usize)]
        }
    };
    let mut conv = vec![0.0f32; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let mut s = 0.1f32;
                for dz in 0..3i64 {
                    for dy in 0..3i64 {
                        for dx in 0..3i64 {
                            let w = (dz - 1) as f32 * 0.5
                                + (dy - 1) as f32 * 0.25
                                + (dx - 1) as f32 * 0.125;
                            s += w * at(i as i64 + dx - 1, j as i64 + dy - 1, k as i64 + dz - 1);
                        }
                    }
                }
                conv[i + nx * (j + ny * k)] = s;
            }
        }
    }
    let mut out = vec![0.0f32; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let (bi, bj, bk) = (i / 2 * 2, j / 2 * 2, k / 2 * 2);
                let mut m = f32::MIN;
                for (a, b, c) in (0..8).map(|n| (n & 1, (n >> 1) & 1, n >> 2)) {
                    m = m.max(conv[(bi + a) + nx * ((bj + b) + ny * (bk + c))].max(0.0));
                }
                // The upsampled channel and the input, concatenated in
                // that order, through the 1x1x1 convolution; plus the
                // first convolution's output.
                let at = i + nx * (j + ny * k);
                let sum = m - 0.5 * x[at] + 0.05 + conv[at];
                out[at] = 1.0 / (1.0 + (-sum).exp());
            }
        }
    }
    out
}

#[test]
fn the_tract_backend_runs_the_models_operators() {
    let Some(path) = common::reference::onnx_test_model() else {
        return;
    };
    let model = FaceMaskModel::from_file(&path).unwrap();
    let dims = [6, 4, 8];
    let x: Vec<f32> = (0..6 * 4 * 8)
        .map(|n| ((n * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    let got = model.predict(dims, &x).unwrap();
    let want = by_hand(dims, &x);
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "largest difference {worst}");
    assert!(want.iter().any(|&v| v > 0.9) && want.iter().any(|&v| v < 0.6));

    // The same model from memory; a wrong input size is an error, not a panic.
    let again = FaceMaskModel::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(again.predict(dims, &x).unwrap(), got);
    assert!(model.predict([5, 5, 5], &x).is_err());
    assert!(FaceMaskModel::from_bytes(b"not a model").is_err());
}
