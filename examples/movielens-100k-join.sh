#!/bin/sh
# Joins MovieLens-100K in RecBole's atomic layout (ml-100k.inter, ml-100k.user, ml-100k.item)
# into one TSV with a header, for examples/movielens-100k.toml:
#
#   user_id item_id rating timestamp age gender occupation zip_code release_year genres
#
# `genres` keeps RecBole's space-separated genre list (e.g. "Action Adventure Thriller").
# Rows are sorted by timestamp (then user, then item), so a split by line number trains on
# older ratings and evaluates on newer ones. The movie title is left out.
#
# Usage: examples/movielens-100k-join.sh ML100K_DIR OUTPUT.tsv
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 ML100K_DIR OUTPUT.tsv" >&2
    exit 2
fi
dir=$1
out=$2
for f in inter user item; do
    if [ ! -r "$dir/ml-100k.$f" ]; then
        echo "$0: $dir/ml-100k.$f not found" >&2
        exit 1
    fi
done

tab=$(printf '\t')
joined="$out.joined.$$"
sorted="$out.sorted.$$"
trap 'rm -f "$joined" "$sorted"' EXIT

# The header lines of the atomic files are skipped (FNR == 1).
awk -F '\t' -v OFS='\t' '
    FILENAME ~ /ml-100k\.user$/ {
        if (FNR > 1) user[$1] = $2 OFS $3 OFS $4 OFS $5
        next
    }
    FILENAME ~ /ml-100k\.item$/ {
        if (FNR > 1) item[$1] = $3 OFS $4
        next
    }
    FNR > 1 {
        if (!($1 in user) || !($2 in item)) {
            printf "line %d: unknown user %s or item %s\n", FNR, $1, $2 > "/dev/stderr"
            bad = 1
            exit 1
        }
        print $1, $2, $3, $4, user[$1], item[$2]
    }
    END { if (bad) exit 1 }
' "$dir/ml-100k.user" "$dir/ml-100k.item" "$dir/ml-100k.inter" >"$joined"
sort -t "$tab" -k4,4n -k1,1n -k2,2n "$joined" >"$sorted"

{
    printf 'user_id\titem_id\trating\ttimestamp\tage\tgender\toccupation\tzip_code\trelease_year\tgenres\n'
    cat "$sorted"
} >"$out"
