#!/usr/bin/env python3
"""Set fields of a JSON file in place: json-set.py FILE PATH=JSON [PATH=JSON ...]

PATH is a dotted key path (process.args); objects missing on the way are created.
JSON is a JSON value: false, "text", ["sh", "/demo.sh"].
"""
import json
import os
import sys


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__.strip())
    path = argv[1]
    with open(path) as f:
        doc = json.load(f)
    for arg in argv[2:]:
        key, sep, raw = arg.partition("=")
        if not sep or not key:
            sys.exit(f"json-set: expected PATH=JSON, got {arg!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            sys.exit(f"json-set: {key}: value is not JSON: {e}")
        node = doc
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                sys.exit(f"json-set: {key}: {part} is not an object")
        node[parts[-1]] = value
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main(sys.argv)
