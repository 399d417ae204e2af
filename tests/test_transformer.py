"""vidkit.models.transformer: the explicit attention equals the fused one, masks hide what they should, positions."""

from __future__ import annotations

import pytest
import torch

from vidkit.models import Block, MultiHeadAttention, Transformer, causal_mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")

B, L, DIM, HEADS = 3, 7, 16, 4


def padding_mask() -> torch.Tensor:
    """Sequences of 7, 4 and 1 real tokens (right-padded)."""
    return torch.arange(L) < torch.tensor([7, 4, 1])[:, None]


@pytest.mark.parametrize("masks", ["none", "padding", "causal", "both", "per-sample"])
def test_explicit_attention_equals_sdpa(masks):
    torch.manual_seed(0)
    attn = MultiHeadAttention(DIM, HEADS)
    x = torch.randn(B, L, DIM)
    mask = padding_mask() if masks in ("padding", "both") else None
    full = {"causal": causal_mask(L), "both": causal_mask(L),
            "per-sample": (torch.rand(B, L, L) < 0.6) | torch.eye(L, dtype=torch.bool)}.get(masks)
    fused, none = attn(x, mask, full)
    explicit, weights = attn(x, mask, full, return_attention=True)
    assert none is None and weights.shape == (B, HEADS, L, L)
    torch.testing.assert_close(explicit, fused, atol=1e-6, rtol=1e-5)
    # the weights are the formula softmax(Q K^T / sqrt(d)) with masked keys at exactly 0
    q, k, _ = attn.qkv(x).split(DIM, dim=-1)
    q, k = (t.view(B, L, HEADS, -1).transpose(1, 2) for t in (q, k))
    scores = q @ k.transpose(-2, -1) / (DIM // HEADS) ** 0.5
    allowed = torch.ones(B, 1, L, L, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & mask[:, None, None, :]
    if full is not None:
        allowed = allowed & (full[:, None] if full.dim() == 3 else full)
    torch.testing.assert_close(weights, scores.masked_fill(~allowed, float("-inf")).softmax(-1))
    assert torch.all(weights[~allowed.expand_as(weights)] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, HEADS, L))


def test_transformer_attention_path_gives_the_same_output_and_row_stochastic_maps():
    torch.manual_seed(1)
    model = Transformer(DIM, depth=3, heads=HEADS, max_len=10)
    x, mask = torch.randn(B, L, DIM), padding_mask()
    y, maps = model(x, mask, return_attention=True)
    torch.testing.assert_close(y, model(x, mask), atol=1e-6, rtol=1e-5)
    assert len(maps) == 3 and all(a.shape == (B, HEADS, L, L) for a in maps)
    for a in maps:
        torch.testing.assert_close(a.sum(-1), torch.ones(B, HEADS, L))
        assert torch.all(a[~mask[:, None, None, :].expand_as(a)] == 0)   # no weight on padding


def test_padding_mask_really_ignores_padded_tokens():
    torch.manual_seed(2)
    model = Transformer(DIM, depth=2, heads=HEADS, max_len=L)
    x, mask = torch.randn(B, L, DIM), padding_mask()
    noisy = torch.where(mask[..., None], x, 100 * torch.randn(B, L, DIM))   # change only the padding
    y, y_noisy = model(x, mask), model(noisy, mask)
    torch.testing.assert_close(y[mask], y_noisy[mask], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(model(x)[mask], model(noisy)[mask])          # without the mask it does matter


def test_causal_mask_hides_the_future():
    torch.manual_seed(3)
    model = Transformer(DIM, depth=2, heads=HEADS, max_len=L)
    x = torch.randn(B, L, DIM)
    changed = x.clone()
    changed[:, 4:] = torch.randn(B, L - 4, DIM)
    causal = causal_mask(L)
    assert causal.dtype == torch.bool and causal[2, :3].all() and not causal[2, 3:].any()
    y, y2 = model(x, attn_mask=causal), model(changed, attn_mask=causal)
    torch.testing.assert_close(y[:, :4], y2[:, :4])                  # the past does not see the future
    assert not torch.allclose(y[:, 4:], y2[:, 4:])
    assert not torch.allclose(model(x)[:, :4], model(changed)[:, :4])   # full attention sees everything


def test_positions_are_the_only_source_of_order():
    torch.manual_seed(4)
    model = Transformer(DIM, depth=2, heads=HEADS, max_len=12)
    x = torch.randn(B, L, DIM)
    perm = torch.randperm(L)
    y = model(x)
    # default positions are 0..L-1
    torch.testing.assert_close(model(x, positions=torch.arange(L)), y)
    # tokens moved together with their positions: outputs move along, nothing else changes
    torch.testing.assert_close(model(x[:, perm], positions=perm), y[:, perm], atol=1e-5, rtol=1e-5)
    # tokens moved, positions kept: a different result (the model sees the order)
    assert not torch.allclose(model(x[:, perm]), y[:, perm], atol=1e-3)
    # per-sample positions (B, L) and positions beyond L (up to max_len - 1)
    far = torch.arange(5, 5 + L).expand(B, L)
    assert model(x, positions=far).shape == (B, L, DIM)


def test_block_is_pre_norm_residual():
    torch.manual_seed(5)
    block = Block(DIM, HEADS)
    x = torch.randn(B, L, DIM)
    y, weights = block(x)
    a, _ = block.attn(block.norm1(x))
    h = x + a
    torch.testing.assert_close(y, h + block.mlp(block.norm2(h)))
    assert weights is None


def test_bad_inputs_raise_clear_errors():
    model = Transformer(DIM, depth=1, heads=HEADS, max_len=5)
    x = torch.randn(2, 6, DIM)
    with pytest.raises(ValueError, match=r"6 tokens is longer than the positional table \(max_len=5\)"):
        model(x)
    with pytest.raises(ValueError, match=r"positions must lie in 0\.\.4"):
        model(x[:, :3], positions=torch.tensor([0, 1, 5]))
    with pytest.raises(ValueError, match=r"positions must be a long tensor \(L,\) = \(3,\)"):
        model(x[:, :3], positions=torch.arange(4))
    with pytest.raises(ValueError, match=r"mask must be a bool tensor \(B, L\) = \(2, 3\)"):
        model(x[:, :3], torch.ones(2, 3))
    with pytest.raises(ValueError, match="at least one real token"):
        model(x[:, :3], torch.tensor([[True, False, False], [False] * 3]))
    with pytest.raises(ValueError, match=r"attn_mask must be a bool tensor \(L, L\) = \(3, 3\)"):
        model(x[:, :3], attn_mask=causal_mask(4))
    with pytest.raises(ValueError, match=r"x must be a float tensor \(B, L, dim\) = \(B, L, 16\)"):
        model(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match="dim must be a multiple of heads"):
        Transformer(10, 1, 4, 5)
    with pytest.raises(ValueError, match="max_len must be a positive int"):
        Transformer(DIM, 1, 4, 0)
