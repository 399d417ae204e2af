"""vidkit: a teaching and analysis kit for self-supervised video representation learning."""

from vidkit.api import load, predict, publish, reference_checkpoints, show
from vidkit.profiles import Profile, profile, runs_dir

__version__ = "0.1.0"
__all__ = ["Profile", "profile", "runs_dir", "load", "predict", "show", "publish", "reference_checkpoints", "__version__"]
