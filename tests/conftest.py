import os

# Tests run in the smoke profile unless told otherwise; keep thread use predictable on 2 cores.
os.environ.setdefault("VIDKIT_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
