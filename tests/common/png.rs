//! Pictures the tests leave for people (the library's PNG encoder).

#![allow(dead_code)]

/// `pixels` row by row, top row first.
pub fn write_grey(path: &std::path::Path, width: usize, height: usize, pixels: &[u8]) {
    std::fs::write(
        path,
        dicom_anonymizer::png::encode(width, height, 1, pixels),
    )
    .unwrap();
}
