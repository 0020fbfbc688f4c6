#!/usr/bin/env bash
# chart.sh OUT.png TITLE YLABEL COLUMN LABEL=SERIES.tsv...
#
# Draws one PNG line chart of a column over time, one line per server, with gnuplot (Debian's
# gnuplot-nox). Every benchmark that samples over time writes the same series format, so one
# script draws them all:
#
#   seconds-since-start <TAB> rss-MiB <TAB> throughput <TAB> page-cache-MiB
#
# one line a sample; a value not measured is `?` (gnuplot leaves a gap). COLUMN is 2, 3 or 4.
set -euo pipefail

if [ $# -lt 5 ]; then
  echo "usage: $0 OUT.png TITLE YLABEL COLUMN LABEL=SERIES.tsv..." >&2
  exit 2
fi
out=$1 title=$2 ylabel=$3 column=$4
shift 4
command -v gnuplot >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
}

plots=()
for series in "$@"; do
  label=${series%%=*} file=${series#*=}
  [ -s "$file" ] || { echo "chart.sh: no samples in $file ($label)" >&2; exit 1; }
  # Single quotes inside a gnuplot string would end it.
  plots+=("'${file//\'/}' using 1:$column with lines linewidth 2 title '${label//\'/}'")
done
joined=$(printf '%s, ' "${plots[@]}")

gnuplot <<EOF
set terminal pngcairo size 900,420 font "sans,10" noenhanced
set output '${out//\'/}'
set title '${title//\'/}'
set xlabel 'seconds'
set ylabel '${ylabel//\'/}'
set datafile missing '?'
set key outside right top
set grid
set yrange [0:*]
plot ${joined%, }
EOF
