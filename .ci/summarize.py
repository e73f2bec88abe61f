#!/usr/bin/env python3
"""Print one closing line for the meson test logs given: 'N passed, N failed'."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        f = open(path, encoding='utf-8')
    except OSError:
        print(f'{path}: missing (the build failed?)', file=sys.stderr)
        failed += 1
        continue
    with f:
        for line in f:
            result = json.loads(line).get('result')
            if result in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            elif result == 'SKIP':
                skipped += 1
            else:
                failed += 1
line = f'{passed} passed, {failed} failed'
if skipped:
    line += f', {skipped} skipped'
print(line)
sys.exit(1 if failed or passed == 0 else 0)
