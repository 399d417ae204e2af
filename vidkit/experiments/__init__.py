"""Per-notebook experiment code, one module per topic, each built only from the library layers:
future prediction recipes (notebooks 00-01), contrastive pre-training (02), attention (03), text-video (04)."""
