"""Hugging Face causal language models built from configs (random weights) and greedy generation over a padded batch.

    model = build_model(LLAMA_GPU, torch.bfloat16, "cuda")
    logits = greedy(model, [[5, 9, 2], [7, 1]], steps=8)   # (prompts, steps + 1, vocab): prefill, then each step

The models are the real `transformers` classes (LlamaForCausalLM, GPT2LMHeadModel) with
attn_implementation="sdpa", so attention goes through torch's scaled_dot_product_attention. The batch
is padded after each prompt (right padding): a prompt's tokens keep positions 0..len-1 in the batch,
and its cache rows sit where they would alone, followed by padding, then the generated tokens.
Position ids are given explicitly (a prompt's own count), and the attention mask hides the padding.
`greedy` returns, for each prompt, the logits that chose each next token: the prefill's at the
prompt's last token, then one per decode step.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHS = ("llama", "gpt2")


@dataclass(frozen=True)
class ModelDims:
    arch: str  # "llama" (LlamaForCausalLM) or "gpt2" (GPT2LMHeadModel)
    hidden: int
    heads: int
    kv_heads: int  # GQA for llama; gpt2 has as many as heads
    layers: int
    ffn: int
    vocab: int
    max_positions: int

    @property
    def name(self) -> str:
        return f"{self.arch}-h{self.hidden}-a{self.heads}-kv{self.kv_heads}-l{self.layers}"

    def weights(self) -> int:
        """Parameters of the matmuls a token goes through (the layers' projections and the logits)."""
        d = self.hidden // self.heads
        attention = self.hidden * d * (2 * self.heads + 2 * self.kv_heads)
        mlp = (3 if self.arch == "llama" else 2) * self.hidden * self.ffn
        return self.layers * (attention + mlp) + self.hidden * self.vocab


GPU_DIMS = {
    "llama": ModelDims("llama", hidden=2048, heads=16, kv_heads=4, layers=4, ffn=5632, vocab=32000, max_positions=4096),
    "gpt2": ModelDims("gpt2", hidden=2048, heads=16, kv_heads=16, layers=4, ffn=8192, vocab=50257, max_positions=1024),
}
CPU_DIMS = {
    "llama": ModelDims("llama", hidden=64, heads=4, kv_heads=2, layers=2, ffn=128, vocab=256, max_positions=256),
    "gpt2": ModelDims("gpt2", hidden=64, heads=4, kv_heads=4, layers=2, ffn=256, vocab=256, max_positions=256),
}


def _config(dims: ModelDims):
    import transformers

    if dims.arch == "llama":
        config = transformers.LlamaConfig(
            hidden_size=dims.hidden, intermediate_size=dims.ffn, num_hidden_layers=dims.layers,
            num_attention_heads=dims.heads, num_key_value_heads=dims.kv_heads, vocab_size=dims.vocab,
            max_position_embeddings=dims.max_positions,
        )
    elif dims.arch == "gpt2":
        config = transformers.GPT2Config(
            n_embd=dims.hidden, n_head=dims.heads, n_layer=dims.layers, n_inner=dims.ffn, vocab_size=dims.vocab,
            n_positions=dims.max_positions, bos_token_id=dims.vocab - 1, eos_token_id=dims.vocab - 1,
        )
    else:
        raise ValueError(f"hf_generation: architecture {dims.arch!r}; expected one of {ARCHS}")
    config._attn_implementation = "sdpa"  # torch's scaled_dot_product_attention, which batch_invariant() routes
    return config


def build_model(dims: ModelDims, dtype, device, seed: int = 0):
    """The architecture's transformers model from a config, random weights (seeded, global RNG untouched), eval mode.
    The weights are made on `device` itself: drawing a GPU model's 300 M random weights on the host took 10-12 s
    on an H200 host."""
    import torch
    import transformers

    cls = transformers.LlamaForCausalLM if dims.arch == "llama" else transformers.GPT2LMHeadModel
    where = torch.device(device)
    rngs = [where.index if where.index is not None else torch.cuda.current_device()] if where.type == "cuda" else []
    with torch.random.fork_rng(devices=rngs), where:
        torch.manual_seed(seed)
        model = cls(_config(dims))
    return model.to(dtype=dtype).eval()


def prompts(count: int, vocab: int, lengths: tuple[int, int], seed: int) -> list[list[int]]:
    """`count` prompts of random tokens, each of a random length in [lengths[0], lengths[1]]."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(lengths[0], lengths[1] + 1, (count,), generator=gen).tolist()
    return [torch.randint(1, vocab, (n,), generator=gen).tolist() for n in sizes]


def greedy(model, batch: list[list[int]], steps: int):
    """Prefill the right-padded batch, then `steps` greedy decode steps: (prompts, steps + 1, vocab) logits."""
    import torch

    device = next(model.parameters()).device
    lens = torch.tensor([len(p) for p in batch], device=device)
    width = int(max(len(p) for p in batch))
    ids = torch.zeros((len(batch), width), dtype=torch.long, device=device)
    mask = torch.zeros((len(batch), width), dtype=torch.long, device=device)
    for i, p in enumerate(batch):
        ids[i, : len(p)] = torch.tensor(p, device=device)
        mask[i, : len(p)] = 1
    positions = torch.arange(width, device=device).expand(len(batch), width)
    rows = torch.arange(len(batch), device=device)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        chosen = [out.logits[rows, lens - 1]]
        cache = out.past_key_values
        for step in range(steps):
            token = chosen[-1].argmax(-1)[:, None]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            out = model(input_ids=token, attention_mask=mask, position_ids=(lens + step)[:, None],
                        past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            chosen.append(out.logits[:, -1])
    return torch.stack(chosen, dim=1)
