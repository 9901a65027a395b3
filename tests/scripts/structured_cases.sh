#!/usr/bin/env bash
# structured_cases.sh — every detector's identifiers in the shapes of
# structured text (CSV, TSV, key=value, JSON, XML, Markdown, URL) and column
# context: tests/cases/pii/structured/*.tsv, written by gen.py there, run
# the way pii_cases.sh runs the detectors' own case files.
root=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PII_CASES_DIR=$root/tests/cases/pii/structured PII_CASES_NAME=structured \
  exec bash "$root/tests/scripts/pii_cases.sh"
