#!/usr/bin/env python3
"""Where a case's instructions go: inclusive instructions per request of the gateway's stages,
from the per-thread profiles that `KEEP=dir bench/callgrind.sh` leaves.

    KEEP=/tmp/profiles CASES=json-bridged bench/callgrind.sh 300 4
    bench/breakdown.py /tmp/profiles/gateway-json-bridged 300

Each row sums one function's inclusive count over the process's threads (its first entry per
thread and source file: a recursive function is not counted twice) and divides by the requests.
Rows nest (a stage includes the rows under it); the idle process's own work is not taken off.
The floor to read them against is callgrind.sh's "bare proxy" column (its whole process).
"""
import collections
import glob
import re
import subprocess
import sys

# (label, pattern on the function name); indentation shows nesting.
STAGES = [
    ("whole connection task (HTTP server, routing, handler)", r"serve::serve_connection::\{\{closure\}\}$"),
    ("  auth middleware and what it runs", r"src/auth\.rs:.*FromFn.*call::\{\{closure\}\}$"),
    ("    POST /v1/responses handler", r"routes::responses::create_response::\{\{closure\}\}$"),
    ("      Gateway::execute", r"Gateway>::execute::\{\{closure\}\}$"),
    ("        one attempt (Gateway::call)", r"Gateway>::call::\{\{closure\}\}$"),
    ("          provider request (prepare: translate, serialise)", r"as switchyard::providers::Provider>::prepare$"),
    ("          HTTP to the upstream (reqwest)", r"Gateway>::dispatch::\{\{closure\}\}$"),
    ("          decode the upstream body", r"Decoder>::body$"),
    ("          Responses builder", r"ResponseBuilder::apply$"),
    ("          request record: log line, spend row queued", r"CallRecord::finish_response$"),
    ("            the log line", r"CallRecord::write$"),
    ("          stored response: State::record", r"State::record$"),
    ("      the answer (JSON serialisation, headers)", r"routes::responses::answer$"),
    ("spend-log writer (async side)", r"spend::write_loop::\{\{closure\}\}$"),
    ("response-store writer (async side)", r"store::state::write_loop::\{\{closure\}\}$"),
    ("  serialising the stored body", r"switchyard-store/src/state\.rs:switchyard_store::state::(to_json|response_json)$"),
    ("SQLite worker threads", r"sqlx-sqlite[^:]*/worker\.rs:.*(begin_short_backtrace|ConnectionWorker::establish::\{\{closure\}\}::\{\{closure\}\})$"),
    ("memcpy (all callers)", r"__memcpy_avx_unaligned_erms$"),
    ("malloc (all callers)", r"malloc\.c:malloc$"),
]

LINE = re.compile(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)$")


def main():
    folder, requests = sys.argv[1], int(sys.argv[2])
    totals = collections.Counter()
    for path in sorted(glob.glob(folder + "/*.cg*")):
        text = subprocess.run(
            ["callgrind_annotate", "--inclusive=yes", path], capture_output=True, text=True
        ).stdout
        seen = set()
        for line in text.splitlines():
            m = LINE.match(line)
            if not m or line.lstrip().startswith(("=>", "<", "*")):
                continue
            name = re.sub(r" \[[^\]]*\]$", "", m.group(2))
            if name in seen:
                continue
            seen.add(name)
            totals[name] += int(m.group(1).replace(",", ""))
    for label, pattern in STAGES:
        found = sorted(
            ((v, k) for k, v in totals.items() if re.search(pattern, k)), reverse=True
        )
        value = f"{found[0][0] // requests:,}" if found else "inlined"
        print(f"| {label} | {value} |")


main()
