"""Models. For now one tiny next-frames predictor; later issues add more."""

from vidkit.models.tiny import TinyFramePredictor

__all__ = ["TinyFramePredictor"]
