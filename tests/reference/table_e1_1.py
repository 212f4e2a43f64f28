"""Turn idiscore's `_public_dicom.py` into JSON, without importing it.

idiscore's authors generate that module from PS3.15 Chapter E of the DICOM
standard: one `RawNemaRuleSet` per column of Table E.1-1 (the Basic Profile
and each option), each a list of `(identifier, ActionCodes.NAME)` pairs. We
read it with `ast`, so neither idiscore nor pydicom has to be importable.

Output:
    {"source": "...", "profiles": {"113100": {"name": "...", "rules":
        [{"tag": "00080050", "action": "Z"}, {"tag": "60xx3000", ...},
         {"tag": "private", ...}]}, ...}}

Each rule also carries the keyword from idiscore's comment (may be empty or
"Unknown"). Tags are 8 upper-case hex digits, a repeating group with `xx`, or `private`.
"""

import ast
import json
import sys

# idiscore's ActionCodes names -> the codes Table E.1-1 prints.
CODES = {
    "DUMMY": "D",
    "EMPTY": "Z",
    "REMOVE": "X",
    "KEEP": "K",
    "CLEAN": "C",
    "UID": "U",
    "EMPTY_OR_DUMMY": "Z/D",
    "REPLACE_OR_DUMMY": "X/Z",
    "REMOVE_OR_EMPTY": "X/Z",
    "REMOVE_OR_DUMMY": "X/D",
    "REMOVE_OR_EMPTY_OR_DUMMY": "X/Z/D",
    "REMOVE_OR_EMPTY_OR_UID": "X/Z/U*",
}


def identifier(node):
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"line {node.lineno}: not an identifier call")
    name = node.func.id
    if name == "PrivateTags":
        return "private"
    (arg,) = node.args
    text = arg.value
    if name == "SingleTag":
        return text.upper()
    if name == "RepeatingGroup":
        return text.upper().replace("X", "x")
    raise ValueError(f"line {node.lineno}: unknown identifier {name}")


def keyword(lines, node):
    """The keyword idiscore writes in a comment after the pair, if any."""
    for line in lines[node.lineno - 1 : node.end_lineno + 1]:
        if "#" in line:
            return line.split("#", 1)[1].strip()
    return ""


def main(src, dst):
    text = open(src, encoding="utf-8").read()
    lines = text.splitlines()
    tree = ast.parse(text)
    profiles = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, ast.Call):
            continue
        call = stmt.value
        if getattr(call.func, "id", None) != "RawNemaRuleSet":
            continue
        kw = {k.arg: k.value for k in call.keywords}
        rules = []
        for pair in kw["rules"].elts:
            ident, action = pair.elts
            rules.append(
                {
                    "tag": identifier(ident),
                    "action": CODES[action.attr],
                    "keyword": keyword(lines, pair),
                }
            )
        profiles[kw["code"].value] = {"name": kw["name"].value, "rules": rules}
    if "113100" not in profiles or len(profiles["113100"]["rules"]) < 500:
        sys.exit(f"{src}: the Basic Profile is missing or short")
    doc = ast.get_docstring(tree) or ""
    out = {"source": "idiscore _public_dicom.py: " + " ".join(doc.split()), "profiles": profiles}
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
