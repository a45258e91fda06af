# Helpers the demo scripts source (tools/demo.sh, demo_ripu.sh, demo_gat.sh).
# miou FILE: the first "miou" of a run's eval.json (a fraction); percent M: 100 M.
miou() { sed -n 's/^ *"miou": *\([0-9.eE+-]*\),*$/\1/p' "$1" | head -n 1; }
percent() { awk -v m="$1" 'BEGIN{print 100*m}'; }
