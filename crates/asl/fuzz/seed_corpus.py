#!/usr/bin/env python3
"""Build the fuzz seed corpora from the recorded conformance corpus.

Writes corpus/<target>/ (ignored by git) for each target: every definition, and every
path and intrinsic call written in them, plus hand-written seeds for the JSONPath forms the
recorded definitions never use (filters, slices, unions, recursive descent).

Usage: python3 seed_corpus.py [CORPUS_DIR]
(default: ../../../../shared/conformance/corpus/localstack from this folder, i.e. the
shared/ folder beside the repository, or /work/shared/conformance/corpus/localstack).
"""

import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DIRS = [
    HERE.parents[3] / "shared" / "conformance" / "corpus" / "localstack",
    Path("/work/shared/conformance/corpus/localstack"),
]

EXTRA_PATHS = [
    "$", "$.a", "$.a.b.c[2].d", "$['a']['b']", "$.store.book[0].title", "$.store.book[-1:]",
    "$.store.book[0,1]", "$.store.book[:2]", "$.numbers[1:5:2]", "$.*", "$..*", "$..price",
    "$..book[?(@.price < 10)].title", "$..book[?(@.isbn)]", "$.store.book[?(@.category == 'fiction')]",
    "$['a','store']", "$['weird keys']['a.b']", "$['weird keys']['\\'']", "$.strings[7]",
    "$.emptyArray[0]", "$.nul", "$.missing", "$[0]", "$.a.b.c[5]", "$.a.b.c.length()",
]
EXTRA_REF_PATHS = ["$$.Execution.Id", "$$.Map.Item.Value", "$$", "$doc.a.b", "$n", "$s", "$undefined.x"]
EXTRA_INTRINSICS = [
    "States.Format('{} and {}', $.n, $.csv)", "States.StringToJson($.jsonText)", "States.JsonToString($.a)",
    "States.Array(1, 'two', $.t, null)", "States.ArrayPartition($.numbers, 3)", "States.ArrayContains($.numbers, 0)",
    "States.ArrayRange(1, 9, 2)", "States.ArrayGetItem($.numbers, 1)", "States.ArrayLength($.strings)",
    "States.ArrayUnique($.numbers)", "States.Base64Encode($.csv)", "States.Base64Decode($.b64)",
    "States.Hash($.csv, 'SHA-256')", "States.JsonMerge($.a, $.store, false)", "States.MathRandom(1, 10)",
    "States.MathAdd($.n, $.neg)", "States.StringSplit($.csv, ',')", "States.UUID()",
    "States.Format('\\{\\}', $$.Execution.Name)", "States.MathAdd($n, 1)",
]


def strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def write(target, text):
    data = text.encode("utf-8")
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    dirs = [Path(sys.argv[1])] if len(sys.argv) > 1 else [d for d in DEFAULT_DIRS if d.is_dir()]
    if not dirs:
        sys.exit("no conformance corpus found; pass its folder as the first argument")
    count = {"definition": 0, "jsonpath": 0, "path_ref": 0, "intrinsics": 0}
    for file in sorted(dirs[0].glob("*.json")):
        try:
            record = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        definition = record.get("definition") if isinstance(record, dict) else None
        if not isinstance(definition, dict):
            continue
        write("definition", json.dumps(definition, ensure_ascii=False))
        count["definition"] += 1
        for s in strings(definition):
            if s.startswith("$"):
                write("path_ref", s)
                count["path_ref"] += 1
                if not s.startswith("$$"):
                    write("jsonpath", s)
                    count["jsonpath"] += 1
            elif s.startswith("States.") and "(" in s:
                write("intrinsics", s)
                count["intrinsics"] += 1
    for s in EXTRA_PATHS:
        write("jsonpath", s)
        write("path_ref", s)
    for s in EXTRA_REF_PATHS:
        write("path_ref", s)
    for s in EXTRA_INTRINSICS:
        write("intrinsics", s)
    for target, n in count.items():
        print(f"{target}: {n} seeds from {dirs[0]} (+ hand-written), {len(os.listdir(HERE / 'corpus' / target))} files")


if __name__ == "__main__":
    main()
