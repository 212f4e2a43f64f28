use std::process::ExitCode;

fn main() -> ExitCode {
    dicom_anonymizer::cli::main()
}
