"""Run one command once per value: ``python scripts/each.py en,de,nl -- CMD ... {} ...``.

project.yml's way to run a command over the sources of a multi-source run or over the
weighting schemes, instead of a copied command per value: weasel runs scripts without
a shell, so a portable loop lives here. Every ``{}`` in the command is replaced by the
value; the first command that fails stops the loop with its exit code.
"""

import subprocess
import sys


def main(argv):
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        sys.exit("usage: python scripts/each.py VALUE1,VALUE2,... -- COMMAND ... {} ...")
    values = [v for v in argv[0].split(",") if v]
    command = argv[2:]
    for value in values:
        args = [part.replace("{}", value) for part in command]
        if args[0] in ("python", "python3"):  # as weasel does: this environment's Python
            args[0] = sys.executable
        print(f"[each {value}] {' '.join(args)}", flush=True)
        code = subprocess.call(args)
        if code != 0:
            sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
