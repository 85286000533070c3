#!/usr/bin/env bash
# Keep the layers of DESIGN.md §1 honest: each module may only name the modules its line below
# allows, through `crate::<module>` (also inside `use crate::{a, b::c}`), and src/main.rs may only
# name `sangja::<module>` for the modules on its `main` line.
# A module is src/<m>.rs and everything under src/<m>/. Modules not yet written are fine; a module
# that exists but has no line here is an error (add its line). Usage: check-layers.sh [SRC_DIR]
set -euo pipefail

src=${1:-src}

# module      may use (space separated; a module may always use itself)
table='
main          cli logging error sys
cli           container spec state logging error
logging       sys error
container     process state spec cgroups network hooks security rootfs sys error
process       namespaces rootfs cgroups security network hooks spec sys error
namespaces    spec sys error
rootfs        spec sys error
cgroups       spec sys error
security      spec sys error
network       spec sys error
hooks         error
spec          error
state         sys error
sys
error
'
# Notes on departures from DESIGN.md §1's table (amend one or the other):
#   cli uses state: the runc-compatible state/list output view lives in state.
#   container uses sys: small syscalls (kill, waitpid) for lifecycle checks.
#   main uses sys: it installs the global allocator (sys::alloc), which only a binary may do.

declare -A allowed known
while read -r mod deps; do
    [[ -z $mod ]] && continue
    allowed[$mod]=" $deps "
    known[$mod]=1
done <<<"$table"

# Print the top-level module named by each crate path in a Rust file, one per line as
# "<line>:<module>". Comments are dropped first; `use crate::{a, b::{c, d}}` yields a and b.
refs() { # refs FILE PREFIX   (PREFIX: crate or sangja)
    PREFIX=$2 perl -0777 -ne '
        my $prefix = $ENV{PREFIX};
        s{/\*.*?\*/}{ my $m = $&; $m =~ s/[^\n]//g; $m }gse;   # block comments, keep line count
        s{//[^\n]*}{}g;                                        # line and doc comments
        while (/\b\Q$prefix\E::(\{|([A-Za-z_][A-Za-z0-9_]*))/g) {
            my $line = 1 + (substr($_, 0, $-[0]) =~ tr/\n//);
            if (defined $2) { print "$line:$2\n"; next }
            # a brace group: walk it, printing each name at depth 1
            my ($depth, $pos, $want) = (1, pos($_), 1);
            while ($depth > 0 && $pos < length($_)) {
                my $rest = substr($_, $pos);
                if ($rest =~ /^\{/) { $depth++; $pos++; $want = 0 }
                elsif ($rest =~ /^\}/) { $depth--; $pos++ }
                elsif ($rest =~ /^,/) { $pos++; $want = 1 if $depth == 1 }
                elsif ($rest =~ /^([A-Za-z_][A-Za-z0-9_]*)/) {
                    my $l = 1 + (substr($_, 0, $pos) =~ tr/\n//);
                    print "$l:$1\n" if $want && $depth == 1;
                    $want = 0; $pos += length($1);
                }
                else { $pos++ }
            }
        }
    ' "$1"
}

errors=0
check() { # check MODULE FILE PREFIX
    local mod=$1 file=$2 prefix=$3 line used
    while IFS=: read -r line used; do
        [[ $used == "$mod" || $used == self || $used == super ]] && continue
        # a name that is no module (an item re-exported at the crate root) is not a layer edge
        [[ -n ${known[$used]:-} || -e $src/$used.rs || -d $src/$used ]] || continue
        if [[ ${allowed[$mod]} != *" $used "* ]]; then
            local ok=${allowed[$mod]# }; ok=${ok% }
            echo "layers: $file:$line: $mod uses $used (allowed: ${ok:-nothing})"
            errors=$((errors + 1))
        fi
    done < <(refs "$file" "$prefix")
}

[[ -d $src ]] || { echo "layers: no source directory $src" >&2; exit 1; }

shopt -s nullglob
for path in "$src"/*.rs "$src"/*/; do
    path=${path%/}
    name=$(basename "$path" .rs)
    [[ $name == lib ]] && continue
    if [[ -z ${known[$name]:-} ]]; then
        echo "layers: $path: module $name has no line in the table of scripts/check-layers.sh"
        errors=$((errors + 1))
        continue
    fi
    if [[ $name == main ]]; then
        check main "$path" sangja
        continue
    fi
    if [[ -d $path ]]; then
        while IFS= read -r -d '' file; do check "$name" "$file" crate; done \
            < <(find "$path" -name '*.rs' -print0 | sort -z)
    else
        check "$name" "$path" crate
    fi
done

if ((errors > 0)); then
    echo "layers: $errors layer violation(s); see DESIGN.md §1"
    exit 1
fi
echo "layers: ok"
