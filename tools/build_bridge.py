#!/usr/bin/env python3
"""build_bridge.py -- makes bridge.js, the storefront upload bridge that
printdesk serves as /static/bridge.js: one ES5 file a theme includes with
one script tag, holding a licence banner, the vendored tus-js-client
browser build and the bridge's own source.

Usage: build_bridge.py OUT.js BRIDGE.src.js TUS.min.js LICENSE...

The vendored client runs in a function of its own with a private CommonJS
`module`, so it neither sets a global `tus` nor registers with a page's
AMD loader; the bridge's source runs in a function of (window, tus), in
strict mode. The source's full-line // comments, blank lines and
indentation are dropped (it is written so that this is safe), and the
build stops if the source uses syntax newer than ES5.
"""
import re
import sys

# Syntax an ES5 engine (old mobile Safari) would refuse.
NOT_ES5 = [
    (re.compile(r"=>"), "an arrow function"),
    (re.compile(r"`"), "a template literal"),
    (re.compile(r"^\s*(let|const|class)\s"), "let, const or class"),
    (re.compile(r"\basync\s+function\b|\bawait\s"), "async or await"),
]


def fail(msg):
    sys.stderr.write("build_bridge.py: %s\n" % msg)
    sys.exit(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def compact(source, path):
    """The source's code lines, unindented, after the ES5 check."""
    out = []
    for n, line in enumerate(source.splitlines(), 1):
        code = line.strip()
        if code == "" or code.startswith("//"):
            continue
        for pattern, what in NOT_ES5:
            if pattern.search(line):
                fail("%s:%d uses %s (the bridge is ES5)" % (path, n, what))
        out.append(code)
    return "\n".join(out)


def vendored(path):
    """The minified client, without its source-map comment."""
    lines = [l for l in read(path).splitlines()
             if not l.startswith("//# sourceMappingURL=")]
    return "\n".join(lines)


def banner(licences):
    parts = ["printdesk storefront upload bridge (/static/bridge.js).",
             "It includes tus-js-client's browser build, under these "
             "licences:"]
    for path in licences:
        text = read(path).strip()
        if "*/" in text:
            fail("%s contains */" % path)
        parts.append(text)
    return "/*! " + "\n\n".join(parts) + "\n*/\n"


def main():
    if len(sys.argv) < 5:
        fail("usage: build_bridge.py OUT.js BRIDGE.src.js TUS.min.js "
             "LICENSE...")
    out, source, client, licences = (sys.argv[1], sys.argv[2], sys.argv[3],
                                     sys.argv[4:])
    text = (banner(licences) +
            "(function (window, tus) {\n" +
            compact(read(source), source) + "\n" +
            "}(window, (function () {\n"
            "var module = { exports: {} }, exports = module.exports, "
            "define;\n" +
            vendored(client) + "\n" +
            "return module.exports;\n"
            "}).call(window)));\n")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
