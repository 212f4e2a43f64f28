//! `dicom-anonymizer find --pacs AET@HOST:PORT …`: which studies a PACS
//! holds (study root C-FIND), by filters or by a list of accession numbers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::tls_args::TlsArgs;
use super::usage;
use crate::network::echo::Timeouts;
use crate::network::link::Link;
use crate::network::query::{Study, StudyQuery, find_studies};
use crate::network::{AeAddress, address::valid_ae_title};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// The PACS and what to ask it: shared by `find` and `retrieve`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The PACS: `AET@HOST:PORT`.
    #[arg(long, value_name = "AET@HOST:PORT")]
    pub pacs: String,
    /// Our AE title (the calling AE title).
    #[arg(long, value_name = "AET", default_value = "DICOMANON")]
    pub aet: String,
    /// A text file of accession numbers, one per line, or a CSV file or
    /// spreadsheet (.xlsx, .xls, .ods) whose column headed like
    /// "accession" (else its first column) holds them.
    #[arg(long, value_name = "FILE")]
    pub accessions: Option<PathBuf>,
    #[arg(long, value_name = "ID")]
    pub patient_id: Option<String>,
    /// A name, with `*` and `?` wildcards.
    #[arg(long, value_name = "PATTERN")]
    pub patient_name: Option<String>,
    /// `YYYYMMDD` or a range `FROM-TO` (either end may be empty).
    #[arg(long, value_name = "FROM-TO")]
    pub study_date: Option<String>,
    #[arg(long, value_name = "M")]
    pub modality: Option<String>,
    /// Seconds to wait for the connection and for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    #[command(flatten)]
    query: QueryArgs,
    /// How to print the studies.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// What was asked for, and what the PACS answered.
pub struct Found {
    /// Per accession number (in file order): the studies it matched.
    pub by_accession: Vec<(String, Vec<Study>)>,
    /// The studies of a filter query.
    pub by_filter: Vec<Study>,
}

impl QueryArgs {
    pub fn target(&self) -> Result<AeAddress, String> {
        valid_ae_title(&self.aet)?;
        self.pacs.parse()
    }

    /// How to reach the PACS: the timeout, and TLS if asked for.
    pub fn link(&self) -> Result<Link, String> {
        self.tls.link(Timeouts::seconds(self.timeout))
    }

    fn filter(&self) -> StudyQuery {
        StudyQuery {
            patient_id: self.patient_id.clone(),
            patient_name: self.patient_name.clone(),
            study_date: self.study_date.clone(),
            modality: self.modality.clone(),
            ..StudyQuery::default()
        }
    }

    fn has_filter(&self) -> bool {
        self.patient_id.is_some()
            || self.patient_name.is_some()
            || self.study_date.is_some()
            || self.modality.is_some()
    }

    /// Ask the PACS: one C-FIND per accession number, or one for the filters.
    pub fn find(&self) -> Result<Found, String> {
        let target = self.target()?;
        let link = self.link()?;
        let mut found = Found {
            by_accession: Vec::new(),
            by_filter: Vec::new(),
        };
        if let Some(path) = &self.accessions {
            for accession in read_accessions(path)? {
                let query = StudyQuery {
                    accession: Some(accession.clone()),
                    ..self.filter()
                };
                let studies = find_studies(&target, &self.aet, &query, &link)?;
                found.by_accession.push((accession, studies));
            }
        } else if self.has_filter() {
            found.by_filter = find_studies(&target, &self.aet, &self.filter(), &link)?;
        } else {
            return Err("say what to find: --accessions FILE, or --patient-id, --patient-name, --study-date or --modality".into());
        }
        Ok(found)
    }
}

/// Accession numbers from a text file (one per line), a CSV file or a
/// spreadsheet (`.xlsx`, `.xlsm`, `.xls`, `.ods`: its first sheet), in
/// order, without repeats. In a CSV file or a sheet, the column whose
/// header names "accession" holds them (the header row is skipped), else
/// the first column.
pub fn read_accessions(path: &Path) -> Result<Vec<String>, String> {
    let name = path.display();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => sheet_rows(path)?,
        _ => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
            let lines = text.lines().filter(|l| !l.trim().is_empty());
            if ext == "csv" {
                lines
                    .map(|line| {
                        line.split([',', ';', '\t'])
                            .map(|c| c.trim().trim_matches('"').trim().to_string())
                            .collect()
                    })
                    .collect()
            } else {
                lines.map(|l| vec![l.trim().to_string()]).collect()
            }
        }
    };
    let mut rows = rows.into_iter().peekable();
    let mut column = 0;
    if let Some(header) = rows.peek()
        && let Some(i) = header
            .iter()
            .position(|c| c.to_ascii_lowercase().contains("accession"))
    {
        column = i;
        rows.next();
    }
    let mut out: Vec<String> = Vec::new();
    for row in rows {
        let value = row.get(column).cloned().unwrap_or_default();
        if !value.is_empty() && !out.contains(&value) {
            out.push(value);
        }
    }
    if out.is_empty() {
        return Err(format!("{name} holds no accession number"));
    }
    Ok(out)
}

/// The cells of a spreadsheet's first sheet, as text; a whole number
/// stored as a number reads without a decimal point (`12345`, not
/// `12345.0`).
fn sheet_rows(path: &Path) -> Result<Vec<Vec<String>>, String> {
    use calamine::{Data, Reader, open_workbook_auto};
    let name = path.display();
    let mut workbook =
        open_workbook_auto(path).map_err(|e| format!("cannot read the spreadsheet {name}: {e}"))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| format!("{name} has no sheet"))?
        .map_err(|e| format!("cannot read the first sheet of {name}: {e}"))?;
    let cell = |d: &Data| match d {
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Empty => String::new(),
        other => other.to_string().trim().to_string(),
    };
    Ok(range
        .rows()
        .map(|r| r.iter().map(cell).collect::<Vec<_>>())
        .filter(|r| r.iter().any(|c| !c.is_empty()))
        .collect())
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Exit status: 0 when every accession number matched exactly one study
/// (or the filters were answered), 1 when some matched none or several, 2
/// on a usage error or when the PACS cannot be queried.
pub fn run(args: &FindArgs) -> ExitCode {
    let found = match args.query.find() {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let mut rows: Vec<(String, &str, Option<&Study>)> = Vec::new();
    let mut incomplete = false;
    for (accession, studies) in &found.by_accession {
        match studies.len() {
            0 => {
                incomplete = true;
                rows.push((accession.clone(), "not found", None));
            }
            1 => rows.push((accession.clone(), "found", studies.first())),
            _ => {
                incomplete = true;
                rows.extend(
                    studies
                        .iter()
                        .map(|s| (accession.clone(), "ambiguous", Some(s))),
                );
            }
        }
    }
    for s in &found.by_filter {
        rows.push((s.accession.clone(), "found", Some(s)));
    }
    let cells = |(accession, status, study): &(String, &str, Option<&Study>)| -> [String; 8] {
        let s = study.cloned().unwrap_or_default();
        [
            accession.clone(),
            status.to_string(),
            s.patient_id,
            s.patient_name,
            s.study_date,
            s.modalities,
            s.instances.map(|n| n.to_string()).unwrap_or_default(),
            s.study_uid,
        ]
    };
    let header = [
        "accession",
        "status",
        "patient_id",
        "patient_name",
        "study_date",
        "modalities",
        "instances",
        "study_uid",
    ];
    match args.format {
        Format::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let c = cells(r);
                    serde_json::Value::Object(
                        header
                            .iter()
                            .zip(c)
                            .map(|(h, v)| (h.to_string(), serde_json::Value::String(v)))
                            .collect(),
                    )
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        Format::Csv => {
            println!("{}", header.join(","));
            for r in &rows {
                println!(
                    "{}",
                    cells(r)
                        .iter()
                        .map(|c| csv_cell(c))
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
        }
        Format::Table => {
            let all: Vec<[String; 8]> = rows.iter().map(cells).collect();
            let widths: Vec<usize> = (0..8)
                .map(|i| {
                    all.iter()
                        .map(|c| c[i].chars().count())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |c: &[String]| {
                c.iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            println!("{}", line(&header.map(String::from)));
            for c in &all {
                println!("{}", line(c));
            }
        }
    }
    if incomplete {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accession_lists_from_text_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("a.txt");
        std::fs::write(&txt, "A1\n\n A2 \nA1\n").unwrap();
        assert_eq!(read_accessions(&txt).unwrap(), ["A1", "A2"]);
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "MRN,AccessionNumber,Note\n1,\"X9\",a\n2,Y8,b\n").unwrap();
        assert_eq!(read_accessions(&csv).unwrap(), ["X9", "Y8"]);
        let bare = dir.path().join("b.csv");
        std::fs::write(&bare, "Z1,extra\nZ2\n").unwrap();
        assert_eq!(read_accessions(&bare).unwrap(), ["Z1", "Z2"]);
        assert!(read_accessions(&dir.path().join("missing.xlsx")).is_err());
        // A spreadsheet: numbers stored as numbers, a header naming the
        // column, blank rows.
        let xlsx = dir.path().join("list.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "MRN").unwrap();
        sheet.write_string(0, 1, "Accession Number").unwrap();
        sheet.write_number(1, 0, 7.0).unwrap();
        sheet.write_number(1, 1, 12345.0).unwrap();
        sheet.write_string(3, 1, " ACC-2 ").unwrap();
        sheet.write_number(4, 1, 12345.0).unwrap();
        book.save(&xlsx).unwrap();
        assert_eq!(read_accessions(&xlsx).unwrap(), ["12345", "ACC-2"]);
        let not_a_sheet = dir.path().join("bad.xlsx");
        std::fs::write(&not_a_sheet, "A1\n").unwrap();
        let e = read_accessions(&not_a_sheet).unwrap_err();
        assert!(e.contains("bad.xlsx"), "{e}");
        let empty = dir.path().join("e.txt");
        std::fs::write(&empty, "\n").unwrap();
        assert!(read_accessions(&empty).is_err());
    }
}
