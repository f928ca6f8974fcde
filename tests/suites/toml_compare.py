#!/usr/bin/env python3
"""toml_compare.py EXPECTED.json GOT.json — exit 0 when two toml-test tagged JSON
documents mean the same: same tables/arrays, same types, strings and integers equal,
floats equal as numbers (inf/+inf/-inf/nan by meaning), date-times equal by meaning
(fractional seconds may be padded or truncated to the same value, Z == +00:00)."""
import json
import math
import re
import sys

DT = re.compile(r'^(?:(\d{4})-(\d{2})-(\d{2}))?[Tt ]?(?:(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?'
                r'([Zz]|[+-]\d{2}:\d{2})?$')


def datetime_key(s):
    m = DT.match(s)
    if not m:
        return ('bad', s)
    g = list(m.groups())
    frac = int((g[6] or '0')[:9].ljust(9, '0'))
    off = g[7]
    if off in ('Z', 'z', '-00:00'):
        off = '+00:00'
    return (g[0], g[1], g[2], g[3], g[4], g[5], frac, off)


def float_val(s):
    s = s.replace('_', '')
    return float(s)


def same(want, got, path):
    if isinstance(want, dict) and set(want.keys()) == {'type', 'value'} and \
            isinstance(want.get('value'), str):
        if not isinstance(got, dict) or set(got.keys()) != {'type', 'value'}:
            return f'{path}: want a tagged {want["type"]}, got {json.dumps(got)[:80]}'
        if want['type'] != got['type']:
            return f'{path}: want type {want["type"]}, got {got["type"]}'
        t, w, g = want['type'], want['value'], got['value']
        if t == 'float':
            a, b = float_val(w), float_val(g)
            ok = (math.isnan(a) and math.isnan(b)) or a == b
        elif t == 'integer':
            ok = int(w) == int(g)
        elif t.startswith('date') or t.startswith('time'):
            ok = datetime_key(w) == datetime_key(g)
        else:
            ok = w == g
        return None if ok else f'{path}: want {w!r}, got {g!r}'
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f'{path}: want a table'
        if set(want) != set(got):
            return f'{path}: keys differ: want {sorted(want)}, got {sorted(got)}'
        for k in want:
            r = same(want[k], got[k], f'{path}.{k}')
            if r:
                return r
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return f'{path}: want an array of {len(want)}'
        for i, (a, b) in enumerate(zip(want, got)):
            r = same(a, b, f'{path}[{i}]')
            if r:
                return r
        return None
    return None if want == got else f'{path}: want {want!r}, got {got!r}'


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        want = json.load(f)
    try:
        with open(sys.argv[2], encoding='utf-8') as f:
            got = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        print(f'output is not JSON: {e}')
        return 1
    r = same(want, got, '$')
    if r:
        print(r)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
