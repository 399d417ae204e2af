"""Models: plain ``nn.Module``s whose docstrings give tensor shapes."""

from vidkit.models.attention import (
    DEFAULT_HEADS,
    AttentionOutput,
    FrameCNN,
    LRCNClassifier,
    MultiLSTM,
    PoolingClassifier,
    SoftAttentionLSTM,
    TemporalAttentionLSTM,
    attention_loss,
    dot_product_attention,
)
from vidkit.models.baselines import BASELINES, CopyLastBaseline, MeanFrameBaseline, ZerosBaseline
from vidkit.models.convrnn import ConvGRUCell, ConvLSTMCell, ConvRNNPredictor, scheduled_sampling
from vidkit.models.encoders import Conv3dEncoder, PixelEncoder, ProjectionHead
from vidkit.models.hero import (
    HERO,
    HERO_TASKS,
    MASK_FRACTION,
    AttentionMaps,
    HEROOutput,
    episode_features,
    fom_loss,
    fom_order,
    hero_loss,
    mfm_loss,
    mlm_loss,
    moment_scores,
    predict_order,
    vsm_loss,
)
from vidkit.models.mmv import (
    MMV,
    MMV_DESIGNS,
    AudioEncoder,
    ImageEncoder,
    deflate,
    fit_deflated_batchnorm,
    mmv_loss,
    recalibrate_batchnorm,
    still_clip,
)
from vidkit.models.predformer import PredFormer
from vidkit.models.simvp import SimVP
from vidkit.models.srivastava import SrivastavaLSTM, frame_percepts, srivastava_loss
from vidkit.models.tiny import TinyFramePredictor
from vidkit.models.transformer import Block, MultiHeadAttention, Transformer, causal_mask

__all__ = ["BASELINES", "Conv3dEncoder", "PixelEncoder", "ProjectionHead", "ConvGRUCell", "ConvLSTMCell", "ConvRNNPredictor", "CopyLastBaseline", "MeanFrameBaseline",
           "PredFormer", "SimVP", "SrivastavaLSTM", "TinyFramePredictor", "ZerosBaseline", "scheduled_sampling",
           "srivastava_loss", "frame_percepts",
           "DEFAULT_HEADS", "AttentionOutput", "FrameCNN", "LRCNClassifier", "MultiLSTM", "PoolingClassifier",
           "SoftAttentionLSTM", "TemporalAttentionLSTM", "attention_loss", "dot_product_attention",
           "MMV", "MMV_DESIGNS", "AudioEncoder", "ImageEncoder", "deflate", "fit_deflated_batchnorm", "mmv_loss",
           "recalibrate_batchnorm", "still_clip",
           "Block", "MultiHeadAttention", "Transformer", "causal_mask",
           "HERO", "HERO_TASKS", "MASK_FRACTION", "AttentionMaps", "HEROOutput", "episode_features", "fom_loss",
           "fom_order", "hero_loss", "mfm_loss", "mlm_loss", "moment_scores", "predict_order", "vsm_loss"]
