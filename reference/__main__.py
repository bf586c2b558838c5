"""``python -m opensoc.reference [--check]``: render the reference documentation."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
