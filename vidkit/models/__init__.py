"""Models: plain ``nn.Module``s whose docstrings give tensor shapes."""

from vidkit.models.baselines import BASELINES, CopyLastBaseline, MeanFrameBaseline, ZerosBaseline
from vidkit.models.tiny import TinyFramePredictor

__all__ = ["BASELINES", "CopyLastBaseline", "MeanFrameBaseline", "TinyFramePredictor", "ZerosBaseline"]
